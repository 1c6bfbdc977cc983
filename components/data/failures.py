"""What a validation run reports: `Failure` (one failed check, naming its column, count and examples) and
`ValidationReport`, and GX's results read into them (components/data/validator.py runs GX; the compiled checks
of components/data/suitecheck.py build the same failures)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel

from components.data.profile import BETWEEN, EXIST, NOT_NULL, TYPE, ColumnChecks, hint


class Failure(BaseModel):
    """One failed check."""

    expectation: str
    column: str | None = None
    unexpected_count: int | None = None
    examples: list[Any] = []
    rows: list[int] = []  # the first rows (0-based, the header not counted) holding the examples
    error: str | None = None
    hint: str | None = None  # what the check asks for, when its name does not say it

    def describe(self) -> str:
        """`expect_x(column): N unexpected, e.g. [...]` in one line."""
        where = f"({self.column})" if self.column else ""
        hint = f" ({self.hint})" if self.hint else ""
        hint = f" at row(s) {self.rows}{hint}" if self.rows else hint
        if self.error:
            return f"{self.expectation}{where}: {self.error}"
        if self.unexpected_count is not None:
            return (f"{self.expectation}{where}: {self.unexpected_count} unexpected value(s), e.g. "
                    f"{self.examples[:5]}{hint}")
        observed = f" (observed {self.examples[0]!r})" if self.examples else ""
        return f"{self.expectation}{where}: failed{observed}{hint}"


class ValidationReport(BaseModel):
    """The outcome of one validation run."""

    success: bool
    evaluated: int
    successful: int
    failures: list[Failure]
    rows: int
    data_sha256: str | None = None
    data_docs: str | None = None

    def message(self, subject: str) -> str:
        """Human summary naming every failed check."""
        failed = max(self.evaluated - self.successful, len(self.failures))  # checks on a missing column: one line
        lines = [f"{subject}: {failed} of {self.evaluated} checks failed:"]
        lines += [f"  - {f.describe()}" for f in self.failures]
        return "\n".join(lines)


EXAMPLES = 20  # values kept per failure, as GX's SUMMARY format keeps
# a failed profile check's example, said of the data column it names (`<prefix>_numeric` etc., profile.py)
PROFILE_SAYS = {"numeric": "not numeric", "nulls": "{} missing value(s)", "min": "lowest value {}",
                "max": "highest value {}", "exists": "no such column"}


def pair_extreme(column_a: str) -> str:
    """The profile column a per-column range check (`<prefix>_min >= <prefix>_low`, `<prefix>_high >=
    <prefix>_max`) is about: its extreme (`<prefix>_min` or `<prefix>_max`), named by its column A."""
    return column_a.removesuffix("_high") + "_max" if column_a.endswith("_high") else column_a


def profile_example(column: str, check: str, value: Any) -> str:
    """A failed profile check's example, said of the data column it names, as both GX's reading (`gx_failure`)
    and the compiled checks (components/data/suitecheck.py) word it: `px_7: highest value 300.0`. `check` is
    the profile column checked (`<prefix>_max`; a range pair: `pair_extreme`), `value` its value in that row."""
    kind = check.rsplit("_", 1)[-1]
    said = PROFILE_SAYS.get(kind)
    if said is None:
        return f"{column}={plain([value])[0]}"
    if kind == "nulls":
        value = int(value)
    elif kind in ("min", "max"):
        value = plain([float(value)])[0]
    return f"{column}: {said.format(value)}"


def flagged(profile: Any, checks: ColumnChecks) -> dict[str, set[str]]:
    """Profile column checked (`<prefix>_numeric`, `_nulls`, `_min`, `_max`) -> the data columns GX flagged."""
    found: dict[str, set[str]] = {}
    for r in profile.results:
        if not r.success:
            kw = r.expectation_config.kwargs
            # pair checks (a range per column) compare min >= low and high >= max: keyed by the extreme
            what = kw.get("column") or pair_extreme(kw["column_A"])
            named = (r.result or {}).get("unexpected_index_list") or []
            found.setdefault(what, set()).update(d["column"] for d in named if isinstance(d, dict))
    return found


def per_column_failures(df: pd.DataFrame, checks: ColumnChecks, frame: pd.DataFrame,
                        flagged: dict[str, set[str]]) -> tuple[int, list[Failure]]:
    """The profile's outcome as per-column failures: (checks stood for, failures), in column order. `flagged`
    names the failing columns per profile check (`flagged`: GX's verdict); counts and examples of
    out-of-range values are then read from those columns."""
    p = checks.prefix
    row = frame.set_index("column")
    failures, checked = [], 0
    for c in checks.columns:
        kinds = checks.checks(c)
        checked += len(kinds)
        if c not in df.columns:
            failures.append(Failure(expectation=EXIST, column=c))
            failures += [Failure(expectation=k, column=c, error=f"could not be evaluated: column {c!r} does not exist")
                         for k in kinds if k != EXIST]
            continue
        if c in flagged.get(f"{p}_numeric", ()):
            failures.append(Failure(expectation=TYPE, column=c, examples=[str(df[c].dtype)]))
        if c in flagged.get(f"{p}_nulls", ()):
            n = int(row.at[c, f"{p}_nulls"])
            failures.append(Failure(expectation=NOT_NULL, column=c, unexpected_count=n,
                                    examples=[None] * min(n, EXAMPLES)))
        if BETWEEN in kinds and (c in flagged.get(f"{p}_min", ()) or c in flagged.get(f"{p}_max", ())
                                 or c in flagged.get(f"{p}_numeric", ())):
            failure = _out_of_range(df[c], c, checks.bounds[c])
            if failure is not None:
                failures.append(failure)
    return checked, failures


def _out_of_range(values: pd.Series, column: str, bounds: tuple[float | None, float | None]) -> Failure | None:
    """Count and examples of the values outside `bounds` (nulls ignored), or why they cannot be compared."""
    low, high = bounds
    try:
        outside = pd.Series(False, index=values.index)
        if low is not None:
            outside |= (values < low).fillna(False).astype(bool)
        if high is not None:
            outside |= (values > high).fillna(False).astype(bool)
    except TypeError as e:  # not comparable with numbers (text)
        return Failure(expectation=BETWEEN, column=column,
                       error=f"could not be evaluated: values of dtype {values.dtype} are not comparable with "
                             f"[{low}, {high}] ({str(e).splitlines()[0][:200]})")
    n = int(outside.sum())
    return Failure(expectation=BETWEEN, column=column, unexpected_count=n, hint=hint(bounds),
                   examples=plain(values[outside].head(EXAMPLES).tolist())) if n else None


def gx_failure(r) -> Failure:
    """One failed GX result as a Failure: its check, column, count, examples (a profile row's column, a media
    row's file), the error that kept it from being evaluated, the hint in its meta."""
    cfg, res = r.expectation_config, r.result or {}
    exc = _exception_message(r.exception_info or {})
    examples = res.get("partial_unexpected_list")
    named = res.get("partial_unexpected_index_list") or []
    column = cfg.kwargs.get("column")
    if named and all(isinstance(d, dict) and "column" in d for d in named):  # a profile row names its column
        check = column or pair_extreme(str(cfg.kwargs.get("column_A")))
        examples = [profile_example(d["column"], check, d.get(check)) for d in named]
    elif named and all(isinstance(d, dict) and set(d) - {column} for d in named):  # a media row names its file
        examples = [f"{next(v for k, v in d.items() if k != column)} ({column}={d.get(column)})" for d in named]
    if examples is None and "observed_value" in res:
        examples = [res["observed_value"]]
    return Failure(expectation=cfg.type, column=column,
                   unexpected_count=res.get("unexpected_count"), examples=plain(examples or []),
                   error=f"could not be evaluated: {str(exc).splitlines()[0][:300]}" if exc else None,
                   hint=(cfg.meta or {}).get("keel"))


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX nests exception info per metric id; return the first message, if any."""
    if info.get("raised_exception"):
        return info.get("exception_message")
    nested = [v.get("exception_message") for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return nested[0] if nested else None


def plain(values: list[Any]) -> list[Any]:
    """Values as JSON keeps them: NaN -> None, infinities -> text, numpy scalars -> Python, others -> str."""
    out = []
    for v in values:
        if isinstance(v, float) and v != v:  # NaN is not JSON
            out.append(None)
        elif isinstance(v, float) and v in (float("inf"), float("-inf")):  # nor is Infinity
            out.append(str(v))
        elif hasattr(v, "item"):
            out.append(v.item())
        else:
            out.append(v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
    return out
