"""A kind's Great Expectations suite evaluated with numpy/pandas, for small frames scored online.

GX takes ~60 ms (digits, pixel profile) to ~1 s (64 per-column pixel suites) to validate one request; a
server answering in a few milliseconds cannot afford it. `SuiteCheck` evaluates the SAME expectation objects
(components/data/suites.py, built once per column layout, as `Validator` builds them) with GX's pandas
semantics for the types Keel's suites use: column-map checks skip nulls and honour `mostly`, an
increasing check gives the first row a bye, a regex check is `str.contains` on the text. Expectations of
the same type and arguments are evaluated together on one array (192 pixel checks: one comparison). Its
report is a `ValidationReport` whose failures name each check, column, count and examples, like GX's.

Where it cannot be exact it says so instead of guessing: `supported` is False when the suite holds an
expectation type it does not know, and a call returns None when a column's dtype is one whose GX outcome
it does not model (an object column in a type check); callers then run GX (`Validator`).
tests/data/test_suitecheck.py runs both on the same frames and compares every verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from components.data.failures import (
    Failure,
    ValidationReport,
    pair_extreme,
    per_column_failures,
    plain,
    profile_example,
)
from components.data.pinpoint import pinpoint
from components.data.profile import ColumnChecks, column_profile, profiled
from components.data.suites import SUITES, derive

EXAMPLES = 5


class Undecided(Exception):
    """The frame has a shape whose GX outcome this module does not model."""


def _values(e: Any) -> tuple:
    """The arguments of a column-map expectation besides its column (its group key)."""
    fields = ("min_value", "max_value", "strict_min", "strict_max", "mostly", "value_set", "type_list", "type_",
              "regex", "strictly")
    return tuple((f, tuple(v) if isinstance(v, list) else v) for f in fields if (v := getattr(e, f, None)) is not None)


def _numeric(sub: pd.DataFrame) -> np.ndarray | None:
    """The frame as one float array when every column is numeric (not bool), else None."""
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in sub.dtypes):
        return sub.to_numpy(dtype=np.float64, na_value=np.nan)
    return None


def _map_failures(name: str, sub: pd.DataFrame, bad: np.ndarray, counted: np.ndarray, mostly: float | None,
                  values: np.ndarray | None = None) -> list[Failure]:
    """Failures of a column-map check: `bad` (rows x columns) unexpected, `counted` the rows each column counts."""
    out = []
    unexpected, total = bad.sum(axis=0), counted.sum(axis=0)
    for j in np.flatnonzero(unexpected):
        if mostly is not None and total[j] and (total[j] - unexpected[j]) / total[j] >= mostly:
            continue
        rows = np.flatnonzero(bad[:, j])[:EXAMPLES]
        column = sub.iloc[:, j] if values is None else values[:, j]
        examples = [v.item() if hasattr(v, "item") else v for v in np.asarray(column)[rows]]
        examples = plain(examples)  # JSON values: NaN -> None, timestamps -> text
        if not isinstance(sub.index, pd.RangeIndex):  # a profile: rows are named after the columns they describe
            examples = [profile_example(sub.index[r], str(sub.columns[j]), v)
                        for r, v in zip(rows, examples, strict=True)]
        out.append(Failure(expectation=name, column=str(sub.columns[j]), unexpected_count=int(unexpected[j]),
                           examples=examples))
    return out


def _between(name: str, sub: pd.DataFrame, args: dict) -> list[Failure]:
    x = _numeric(sub)
    if x is None:
        return [Failure(expectation=name, column=str(c), error="could not be evaluated: not a numeric column")
                for c in sub.columns]
    present = ~np.isnan(x)
    lo, hi = args.get("min_value"), args.get("max_value")
    bad = np.zeros_like(present)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            bad |= (x <= lo) if args.get("strict_min") else (x < lo)
        if hi is not None:
            bad |= (x >= hi) if args.get("strict_max") else (x > hi)
    return _map_failures(name, sub, bad & present, present, args.get("mostly"), x)


def _not_null(name: str, sub: pd.DataFrame, args: dict) -> list[Failure]:
    x = _numeric(sub)
    nulls = np.isnan(x) if x is not None else sub.isna().to_numpy()
    return _map_failures(name, sub, nulls, np.ones_like(nulls), args.get("mostly"))


def _per_column(test: Callable[[pd.Series, dict], np.ndarray]):
    """A column-map check evaluated column by column on the non-null values."""
    def check(name: str, sub: pd.DataFrame, args: dict) -> list[Failure]:
        present = sub.notna().to_numpy()
        bad = np.zeros(sub.shape, dtype=bool)
        for j in range(sub.shape[1]):
            col = sub.iloc[:, j]
            bad[present[:, j], j] = test(col[present[:, j]], args)
        return _map_failures(name, sub, bad, present, args.get("mostly"))
    return check


def _gx_types(type_: str) -> tuple[type, ...]:
    """The Python/numpy types GX accepts for the type name `type_` (its pandas resolution, repeated)."""
    from great_expectations.expectations.type_comparison import native_type_type_map

    found: list[type] = []
    try:
        found.append(np.dtype(type_).type)
    except TypeError:
        found += [t for t in (getattr(pd, type_, None), getattr(pd.core.dtypes.dtypes, type_, None))
                  if isinstance(t, type)]
    return tuple(found) + tuple(native_type_type_map(type_) or ())


def _types(name: str, sub: pd.DataFrame, args: dict) -> list[Failure]:
    """Type checks: decided by the column's dtype, as GX decides them; an `object` column in a single-type check
    value by value (GX's map: nulls skipped, `mostly` honoured); other object columns are undecided."""
    allowed = list(args.get("type_list") or [args["type_"]])
    failures = []
    for j, (column, dtype) in enumerate(zip(sub.columns, sub.dtypes, strict=True)):
        if dtype == np.dtype(object):
            if "type_" not in args or args["type_"] in ("object", "object_", "O"):
                raise Undecided(f"column {column!r} has object dtype")
            types = _gx_types(args["type_"])
            failures += _per_column(lambda c, a, t=types: ~c.map(lambda v: isinstance(v, t)).to_numpy(dtype=bool))(
                name, sub.iloc[:, [j]], args)
        elif "type_" in args:
            if dtype.type not in _gx_types(args["type_"]):
                failures.append(Failure(expectation=name, column=str(column), examples=[str(dtype)]))
        elif dtype.kind == "O":
            raise Undecided(f"column {column!r} has dtype {dtype}")
        elif str(dtype) not in allowed:
            failures.append(Failure(expectation=name, column=str(column), examples=[str(dtype)]))
    return failures


def _increasing(column: pd.Series, args: dict) -> np.ndarray:
    diff = column.diff()
    zero = pd.Timedelta(0) if pd.api.types.is_timedelta64_dtype(diff.dtype) else 0
    ok = (diff > zero) if args.get("strictly") else (diff >= zero)
    return ~(ok | diff.isna()).to_numpy()


COLUMN_MAP: dict[str, Callable[[str, pd.DataFrame, dict], list[Failure]]] = {
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_in_set": _per_column(lambda c, a: ~c.isin(list(a["value_set"])).to_numpy()),
    "expect_column_values_to_be_in_type_list": _types,
    "expect_column_values_to_be_of_type": _types,
    "expect_column_values_to_be_unique": _per_column(lambda c, a: c.duplicated(keep=False).to_numpy()),
    "expect_column_values_to_be_increasing": _per_column(_increasing),
    "expect_column_values_to_not_match_regex": _per_column(
        lambda c, a: c.astype(str).str.contains(a["regex"]).to_numpy(dtype=bool)),
    "expect_column_value_lengths_to_be_between": _per_column(
        lambda c, a: ~c.astype(str).str.len().between(a.get("min_value") if a.get("min_value") is not None
                                                      else -np.inf, a.get("max_value") if a.get("max_value")
                                                      is not None else np.inf).to_numpy()),
}


def _table(e: Any, df: pd.DataFrame) -> Failure | None:
    """Table-level checks and column existence."""
    kind, columns = e.expectation_type, [str(c) for c in df.columns]
    if kind == "expect_table_row_count_to_be_between":
        lo, hi = e.min_value, e.max_value
        ok, seen = (lo is None or len(df) >= lo) and (hi is None or len(df) <= hi), len(df)
    elif kind == "expect_table_column_count_to_equal":
        ok, seen = len(columns) == e.value, len(columns)
    elif kind == "expect_table_columns_to_match_set":
        want = set(e.column_set)
        ok, seen = (set(columns) == want) if e.exact_match else want <= set(columns), columns
    else:  # expect_column_to_exist
        ok, seen = e.column in columns, columns
    return None if ok else Failure(expectation=kind, column=getattr(e, "column", None), examples=[seen])


TABLE = {"expect_table_row_count_to_be_between", "expect_table_column_count_to_equal",
         "expect_table_columns_to_match_set", "expect_column_to_exist"}


class Compiled:
    """One expectation list, grouped: table checks, and column-map checks by (type, arguments)."""

    def __init__(self, expectations: list[Any]):
        self.table = [e for e in expectations if e.expectation_type in TABLE]
        groups: dict[tuple, list[str]] = {}
        for e in expectations:
            if e.expectation_type in COLUMN_MAP:
                groups.setdefault((e.expectation_type, _values(e)), []).append(e.column)
        self.groups = [(kind, dict(args), cols) for (kind, args), cols in groups.items()]
        self.unsupported = sorted({e.expectation_type for e in expectations} - TABLE - set(COLUMN_MAP))
        self.count = len(expectations)

    def __call__(self, df: pd.DataFrame) -> list[Failure]:
        failures = [f for e in self.table if (f := _table(e, df)) is not None]
        columns = list(map(str, df.columns))
        present = set(columns)
        for kind, args, cols in self.groups:
            here = [c for c in cols if c in present]
            failures += [Failure(expectation=kind, column=c, error="could not be evaluated: no such column")
                         for c in cols if c not in present]
            if here:  # most groups cover every column: no copy then
                failures += COLUMN_MAP[kind](kind, df if here == columns else df[here], args)
        return failures


def profile_flags(frame: pd.DataFrame, checks: ColumnChecks) -> dict[str, set[str]]:
    """What GX flags on a column profile (`column_profile`), per profile column: not numeric, nulls, a minimum
    below or a maximum above the column's bounds (missing values skipped, as GX skips them)."""
    p, names = checks.prefix, frame["column"].to_numpy()
    low = np.array([checks.bounds.get(c, (-np.inf, np.inf))[0] for c in names], dtype=float)
    high = np.array([checks.bounds.get(c, (-np.inf, np.inf))[1] for c in names], dtype=float)
    lo, hi = frame[f"{p}_min"].to_numpy(dtype=float), frame[f"{p}_max"].to_numpy(dtype=float)
    nulls = frame[f"{p}_nulls"].to_numpy(dtype=float)
    masks = {f"{p}_numeric": frame[f"{p}_numeric"].notna().to_numpy() & (frame[f"{p}_numeric"] != True).to_numpy(),  # noqa: E712
             f"{p}_nulls": nulls > 0, f"{p}_min": lo < low, f"{p}_max": hi > high}  # NaN compares False
    return {k: set(names[m]) for k, m in masks.items() if m.any()}


PAIR = "expect_column_pair_values_a_to_be_greater_than_b"


def _pairs(expectations: list[Any], frame: pd.DataFrame, checks: ColumnChecks) -> list[Failure]:
    """The profile's per-column range checks (min >= low, high >= max), as GX reports them (no column)."""
    flags, out = profile_flags(frame, checks), []
    for e in (e for e in expectations if e.expectation_type == PAIR):
        extreme = pair_extreme(e.column_A)
        bad = [c for c in frame["column"] if c in flags.get(extreme, ())]
        if bad:
            row = frame.set_index("column")
            out.append(Failure(expectation=PAIR, unexpected_count=len(bad),
                               examples=[profile_example(c, extreme, row.at[c, extreme]) for c in bad[:EXAMPLES]]))
    return out


class SuiteCheck:
    """The kind's suite and column checks (as `Validator` runs them) for frames of one column layout, without GX."""

    def __init__(self, cfg: Any, manifest: dict[str, Any], require_label: bool = False):
        self.cfg, self.manifest, self.require_label = cfg, manifest, require_label
        self.kind = manifest.get("kind", "image")
        self._main: tuple[list[str], Compiled, Any] | None = None  # columns, compiled suite, the suite
        self._profile: tuple[ColumnChecks, Compiled] | None = None

    def compile(self, columns: list[str]) -> Compiled:
        """The suite for frames with `columns` (after the kind's derived columns), compiled once."""
        if self._main is None or self._main[0] != columns:
            suite = SUITES[self.kind](self.cfg, columns, self.manifest, self.require_label)
            self._main = columns, Compiled(suite.expectations), suite
        return self._main[1]

    def supported(self, columns: list[str]) -> list[str]:
        """Expectation types of the suite for `columns` this module cannot evaluate (empty: all of them)."""
        return self.compile(columns).unsupported

    def __call__(self, df: pd.DataFrame) -> ValidationReport | None:
        """The suite's verdict on `df`, or None when only GX can give it exactly."""
        df = derive(self.kind, df, self.cfg, self.manifest)
        main = self.compile(list(map(str, df.columns)))
        if main.unsupported:
            return None
        suite = self._main[2]
        try:
            failures, evaluated = main(df), main.count
            if suite.columns is not None:
                frame, expectations = column_profile(df, suite.columns)
                if profiled(suite.columns.columns, self.manifest):  # the profile's own checks, as GX reports them
                    if self._profile is None or self._profile[0] != suite.columns:
                        self._profile = suite.columns, Compiled([e for e in expectations if e.expectation_type
                                                                 != PAIR])
                    failures += self._profile[1](frame.set_index(frame["column"].to_numpy()))
                    failures += _pairs(expectations, frame, suite.columns)
                    evaluated += len(expectations)
                else:  # per column, as Validator reports them
                    checked, per_column = per_column_failures(df, suite.columns, frame,
                                                              profile_flags(frame, suite.columns))
                    failures, evaluated = failures + per_column, evaluated + checked
        except Undecided:
            return None
        failed = len(failures)
        failures = pinpoint(failures, df, suite.expectations, self.require_label)
        failures += [Failure(expectation=check, error=problem) for check, problem in suite.problems]
        return ValidationReport(success=not failures, evaluated=evaluated,
                                successful=evaluated - failed - len(suite.problems),
                                failures=failures, rows=len(df))

