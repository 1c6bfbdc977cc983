"""PII detectors for text columns: e-mail addresses, phone numbers, payment card numbers (Luhn), IBANs
(mod-97), IPv4 and IPv6 addresses. Scans report kind -> count and row positions, never the values;
`redact` replaces matches with `<EMAIL>`, `<PHONE>`, `<CARD>`, `<IBAN>`, `<IPV4>`, `<IPV6>`.

Pure standard library + pandas. Each detector is a candidate regex plus a validator; where two candidates
overlap, the more specific kind wins (order of KINDS).

Precision rules (what is NOT reported):
- phone: a bare run of digits (an id, a year, an amount) is never a phone unless it starts with `+`;
  national numbers need separators in a known shape (NANP `(415) 555-2671` / `415-555-2671`, or a trunk
  `0` + groups such as `020 7946 0958`); 8..15 digits in all (E.164 allows 15); a candidate that is a year
  range (`1998-2004`) or a date is rejected;
- card: 13..19 digits, optionally in groups split by single spaces or hyphens, passing Luhn AND starting
  with an issuer prefix (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro): Luhn alone
  accepts 1 in 10 random digit strings;
- IBAN: country code + 2 check digits + BBAN, the country's length when known, mod-97 == 1;
- IPv4: four dotted decimal octets 0..255 without leading zeros, not part of a longer dotted run (`1.2.3.4.5`);
- IPv6: validated by `ipaddress.IPv6Address`, at least two hex groups and two colons (so `12:30` is not one).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

KINDS = ("email", "iban", "card", "ipv6", "ipv4", "phone")  # priority when candidates overlap
TOKENS = {"email": "<EMAIL>", "phone": "<PHONE>", "card": "<CARD>", "iban": "<IBAN>", "ipv4": "<IPV4>",
          "ipv6": "<IPV6>"}


@dataclass(frozen=True)
class Match:
    kind: str
    start: int
    end: int


# ------------------------------------------------------------------------------------------- validators

def luhn_ok(digits: str) -> bool:
    """Luhn checksum over a string of digits."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ISSUER = re.compile(r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6011|64[4-9]|65|35(?:2[89]|[3-8]\d)"
                     r"|30[0-5]|36|38|62|50|5[6-8]|6\d)")
_CARD_LENGTHS = {"3[47]": (15,), "4": (13, 16, 19)}


def card_ok(digits: str) -> bool:
    """13..19 digits, a known issuer prefix (and Amex 15 / Visa 13-16-19 digits), Luhn-valid."""
    if not (13 <= len(digits) <= 19) or not _ISSUER.match(digits):
        return False
    for prefix, lengths in _CARD_LENGTHS.items():
        if re.match(prefix, digits) and len(digits) not in lengths:
            return False
    return luhn_ok(digits)


# lengths for the IBAN registry's most common countries (SWIFT IBAN registry); others: 15..34 accepted
IBAN_LENGTHS = {"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
                "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
                "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
                "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
                "SA": 24, "AE": 23, "IL": 23, "QA": 29, "BR": 29, "UA": 29}


def iban_ok(compact: str) -> bool:
    """Upper-case alphanumerics without spaces; country length (when known) and mod-97 == 1."""
    s = compact.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    if IBAN_LENGTHS.get(s[:2], len(s)) != len(s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ipv6_ok(s: str) -> bool:
    if s.count(":") < 2 or len([g for g in s.split(":") if g]) < 2:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


_YEAR_RANGE = re.compile(r"^(?:1[5-9]|20)\d\d\s*[-/–]\s*(?:(?:1[5-9]|20)\d\d|\d\d)$")
_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")


def phone_ok(s: str) -> bool:
    digits = re.sub(r"\D", "", s)
    if s.startswith("00"):
        digits = digits[2:]
    if not 8 <= len(digits) <= 15:
        return False
    if s.count("(") != s.count(")"):
        return False
    if not s.startswith("+") and not re.search(r"[ .\-()]", s):  # a bare digit run: an id, not a phone
        return False
    return not (_YEAR_RANGE.match(s) or _DATE.match(s))


# ------------------------------------------------------------------------------------------- candidates

_SEP = r"[ .\-]"
PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "email": (re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])"),
              lambda s: True),  # malformed local parts (`a..b@x.org`) are still contact data: kept
    "iban": (re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])"),
             lambda s: iban_ok(s.replace(" ", ""))),
    "card": (re.compile(r"(?<![\d.\-])\d(?:[ \-]?\d){12,18}(?![\d\-]|\.\d)"),
             lambda s: card_ok(re.sub(r"\D", "", s)) and _card_grouping_ok(s)),
    "ipv6": (re.compile(r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|"
                        r"(?:\d{1,3}\.){3}\d{1,3})?(?![0-9A-Fa-f:])"), ipv6_ok),
    "ipv4": (re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                        r"(?![\d]|\.\d)"), lambda s: True),
    "phone": (re.compile(
        r"(?<![\w+])(?:"
        r"(?:\+|00)[1-9]\d{0,2}(?:" + _SEP + r"?\(?\d{1,4}\)?){2,6}"          # international: +CC groups
        r"|\(\d{3}\)" + _SEP + r"?\d{3}" + _SEP + r"\d{4}"                      # NANP (415) 555-2671
        r"|\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{4}"                           # NANP 415-555-2671
        r"|0\d{1,4}" + _SEP + r"\d{3,4}(?:" + _SEP + r"\d{2,4}){1,2}"           # trunk 0: 020 7946 0958
        r")(?![\w])"), phone_ok),
}


def _card_grouping_ok(s: str) -> bool:
    """Digits written either contiguously or in groups of 4 (Amex 4-6-5), one separator kind."""
    if s.isdigit():
        return True
    seps = set(re.findall(r"[ \-]", s))
    if len(seps) != 1:
        return False
    groups = [len(g) for g in re.split(r"[ \-]", s)]
    return groups in ([4, 6, 5], [4, 6, 4]) or all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def _shrink(s: str, ok: Callable[[str], bool]) -> str | None:
    """The longest prefix of `s`, cut at a separator, that validates (None if none does)."""
    s = s.rstrip(" .-")
    while s:
        if ok(s):
            return s
        cut = max(s.rfind(" "), s.rfind("-"), s.rfind("."))
        if cut <= 0:
            return None
        s = s[:cut].rstrip(" .-")
    return None


def _isolated(text: str, start: int, end: int) -> bool:
    """Not one piece of a longer run of digit groups written with the same separators (`4568 0385 7262 1498`
    holds no phone number); a contiguous candidate may be followed by `, 35mm`."""
    seps = "".join(sorted(set(re.findall(r"[ .\-]", text[start:end]))))
    gap = f"[{re.escape(seps)}]?" if seps else ""
    return not re.search(rf"\d{gap}$", text[:start]) and not re.match(rf"^{gap}\d", text[end:])


def find(text: str, kinds: Iterable[str] = KINDS) -> list[Match]:
    """Non-overlapping validated matches in `text`, by position. Overlaps go to the earlier kind in KINDS."""
    if not isinstance(text, str) or not text:
        return []
    wanted = [k for k in KINDS if k in set(kinds)]
    cands: list[tuple[int, int, int, str]] = []
    for prio, kind in enumerate(wanted):
        pattern, ok = PATTERNS[kind]
        for m in pattern.finditer(text):
            # a greedy match may have swallowed a following word or number: cut back at separators
            s = _shrink(m.group(0), lambda c, p=pattern, ok=ok: bool(p.fullmatch(c)) and ok(c))
            if s and (kind not in ("phone", "card") or _isolated(text, m.start(), m.start() + len(s))):
                cands.append((prio, m.start(), m.start() + len(s), kind))
    taken: list[Match] = []
    for _, start, end, kind in sorted(cands):
        if all(end <= t.start or start >= t.end for t in taken):
            taken.append(Match(kind, start, end))
    return sorted(taken, key=lambda m: m.start)


def redact(text: str, kinds: Iterable[str] = KINDS, tokens: dict[str, str] | None = None) -> str:
    """`text` with every match replaced by its kind's token (`<EMAIL>` ...)."""
    tokens = tokens or TOKENS
    out, last = [], 0
    for m in find(text, kinds):
        out += [text[last:m.start], tokens[m.kind]]
        last = m.end
    return "".join(out) + text[last:] if out else text


def redact_series(values: pd.Series, kinds: Iterable[str] = KINDS) -> pd.Series:
    return values.map(lambda v: redact(v, kinds) if isinstance(v, str) else v)


def scan_column(values: Iterable[Any], kinds: Iterable[str] = KINDS, max_rows: int | None = None) -> dict[str, Any]:
    """kind -> {"count": matches, "rows": row positions with a match (the first `max_rows`)}; only kinds
    found. Never returns the matched values."""
    found: dict[str, dict[str, Any]] = {}
    last: dict[str, int] = {}
    for i, v in enumerate(values):
        if not isinstance(v, str):
            continue
        for m in find(v, kinds):
            entry = found.setdefault(m.kind, {"count": 0, "n_rows": 0, "rows": []})
            entry["count"] += 1
            if last.get(m.kind) != i:
                last[m.kind] = i
                entry["n_rows"] += 1
                if max_rows is None or len(entry["rows"]) < max_rows:
                    entry["rows"].append(i)
    return found


def scan_frame(df: pd.DataFrame, columns: Iterable[str] | None = None, kinds: Iterable[str] = KINDS,
               max_rows: int | None = 100) -> dict[str, dict[str, Any]]:
    """Per string column (object/string dtype, or `columns`): scan_column. Columns without PII are omitted."""
    cols = list(columns) if columns is not None else [
        c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]
    report = {}
    for c in cols:
        r = scan_column(df[c].tolist(), kinds, max_rows)
        if r:
            report[str(c)] = r
    return report


# ------------------------------------------------------------------------------------------- the gate

def string_columns(df: pd.DataFrame) -> list[str]:
    """The columns that can hold text (object or string dtype)."""
    return [str(c) for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]


def check(frames: Iterable[pd.DataFrame], cfg: Any) -> dict[str, Any]:
    """Scan the string columns of `frames` (one table, possibly in parts) under `cfg` (PiiConfig).

    Returns what validate records: {"action", "kinds", "allowed", "found": {column: {kind: {"count", "n_rows",
    "rows" (first 20 positions)}}}, "blocked": bool, "redact": {column: kinds}}; never the values."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    offset = 0
    for df in frames:
        cols = [c for c in string_columns(df) if c not in cfg.allow_columns]
        for col, kinds in scan_frame(df, cols, cfg.kinds, max_rows=20).items():
            for kind, r in kinds.items():
                e = found.setdefault(col, {}).setdefault(kind, {"count": 0, "n_rows": 0, "rows": []})
                e["count"] += r["count"]
                e["n_rows"] += r["n_rows"]
                e["rows"] = (e["rows"] + [offset + i for i in r["rows"]])[:20]
        offset += len(df)
    return {"action": cfg.action, "kinds": list(cfg.kinds), "allowed": list(cfg.allow_columns), "found": found,
            "blocked": bool(found) and cfg.action == "block",
            "redact": {c: sorted(k) for c, k in found.items()} if cfg.action == "redact" else {}}


def describe(found: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One line per column: `column 'text': email in 3 row(s) (3 matches), card in 1 row(s) (1 match)`."""
    return [f"column {col!r}: " + ", ".join(f"{kind} in {r['n_rows']} row(s) ({r['count']} match"
                                           f"{'es' if r['count'] != 1 else ''})" for kind, r in kinds.items())
            for col, kinds in found.items()]


def redact_frame(df: pd.DataFrame, columns: dict[str, list[str]]) -> pd.DataFrame:
    """A copy of `df` with the given kinds of PII replaced by their tokens in each named column."""
    out = df.copy()
    for col, kinds in columns.items():
        if col in out.columns:
            out[col] = redact_series(out[col], kinds)
    return out
