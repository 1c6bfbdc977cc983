"""The column profile: per-column checks (numeric, never null, within bounds, present) run as a handful of
GX expectations on one row per column, instead of one expectation per column and check.

Per-column checks (each column numeric, never null, within its bounds, and for tables present) would be
one GX expectation per column and check: 197 for the 64 digits pixels, ~25 ms each in GX whatever the
row count. They run instead as a handful of expectations on a column profile (`column_profile`: one row
per column with its dtype flag, null count, min and max), which GX validates and names by column. The
outcome is reported per column, as the per-column expectations would report it (a failure names the
column, the expectation, the unexpected count and examples), except for wide images (more than
PER_COLUMN_MAX pixel columns, e.g. 28x28 = 784) and batch scoring (`pixel_checks: profile`), where a
failure is the profile's own check, naming the offending columns (`expect_column_values_to_be_between
(pixel_max): ... ['px_7: highest value 300.0']`).

Every numeric column must be finite: a checked column without a configured range still gets a range, the
largest float as bounds, which ±inf fails on the profile's min and max (NaN counts as a null); its failure
says so (`FINITE`). The label and a series' values, checked by GX expectations, get the same range check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PER_COLUMN_MAX = 256  # wider images report the profile's own checks (see the module docstring)
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]

EXIST, TYPE, NOT_NULL, BETWEEN = ("expect_column_to_exist", "expect_column_values_to_be_in_type_list",
                                  "expect_column_values_to_not_be_null", "expect_column_values_to_be_between")
BIG = sys.float_info.max  # the bound of a range check that only asks for finite values
FINITE = {"keel": "values must be finite (no inf or -inf)"}  # meta of such a check; named in its failure
Bounds = tuple[float, float]


def finite_bounds(low: float | None = None, high: float | None = None) -> Bounds:
    """A range check's bounds: the configured ones, the largest float where none is set (so ±inf fails)."""
    return -BIG if low is None else float(low), BIG if high is None else float(high)


def hint(bounds: Bounds) -> str | None:
    """What a range check with these bounds asks for, when its name does not say it (finite values)."""
    return FINITE["keel"] if BIG in (abs(bounds[0]), abs(bounds[1])) else None


@dataclass(frozen=True)
class ColumnChecks:
    """Each of `columns` numeric (dtype in NUMERIC_TYPES), never null and within its `bounds` (`finite_bounds`:
    at least finite), and present when `exist`; run on a column profile. `prefix` names the profile's columns."""

    columns: tuple[str, ...]
    bounds: dict[str, Bounds] = field(default_factory=dict)
    exist: bool = False
    prefix: str = "column"

    def checks(self, column: str) -> list[str]:
        """The per-column expectations this stands for, on one column."""
        return ([EXIST] if self.exist else []) + [TYPE, NOT_NULL] + ([BETWEEN] if column in self.bounds else [])

    def uniform(self) -> Bounds | None:
        """The bounds, when every column has the same ones (then the profile checks them as plain ranges)."""
        found = {self.bounds.get(c) for c in self.columns}
        return found.pop() if len(found) == 1 and None not in found else None


def profiled(columns: tuple[str, ...] | list[str], manifest: dict[str, Any] | None) -> bool:
    """Report per-column checks as the profile's own checks: wide images, or when the caller asks
    (`pixel_checks: profile`, batch scoring: fewer, shorter failure lines)."""
    return len(columns) > PER_COLUMN_MAX or (manifest or {}).get("pixel_checks") == "profile"


def column_profile(df: pd.DataFrame, checks: ColumnChecks) -> tuple[pd.DataFrame, list[Any]]:
    """One row per checked column, and the expectations that check them all at once.

    Profile columns: `column`, `<prefix>_numeric`, `<prefix>_nulls`, `<prefix>_min`, `<prefix>_max` (over
    the non-null values of numeric columns), `<prefix>_exists` when `checks.exist`, and `<prefix>_low` /
    `<prefix>_high` when the bounds differ by column. A missing column's row has no values (GX skips it)
    but its `exists` check.
    """
    import great_expectations.expectations as gxe

    p, names = checks.prefix, list(checks.columns)
    stats = {c: _column_stats(df[c]) for c in names if c in df.columns}  # (numeric, nulls, min, max)
    frame = pd.DataFrame({"column": [str(c) for c in names]})
    if checks.exist:
        frame[f"{p}_exists"] = [c in stats for c in names]
    frame[f"{p}_numeric"] = pd.Series([stats[c][0] if c in stats else None for c in names], dtype="object")
    frame[f"{p}_nulls"] = pd.Series([stats[c][1] if c in stats else None for c in names],
                                    dtype="int64" if len(stats) == len(names) else "float64")
    frame[f"{p}_min"] = pd.Series([stats[c][2] if c in stats else None for c in names], dtype="float64")
    frame[f"{p}_max"] = pd.Series([stats[c][3] if c in stats else None for c in names], dtype="float64")
    exps = ([gxe.ExpectColumnValuesToBeInSet(column=f"{p}_exists", value_set=[True])] if checks.exist else []) + [
        gxe.ExpectColumnValuesToBeInSet(column=f"{p}_numeric", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column=f"{p}_nulls", min_value=0, max_value=0)]
    uniform = checks.uniform()
    if uniform is not None:  # one range for all: plain range checks on the extremes (±inf fails them too)
        meta = FINITE if hint(uniform) else None
        exps += [gxe.ExpectColumnValuesToBeBetween(column=f"{p}_min", min_value=uniform[0], meta=meta),
                 gxe.ExpectColumnValuesToBeBetween(column=f"{p}_max", max_value=uniform[1], meta=meta)]
    elif checks.bounds:  # a range per column, beside it; columns without one are skipped
        bound = [checks.bounds.get(c, (None, None)) for c in names]
        frame[f"{p}_low"] = pd.Series([b[0] for b in bound], dtype="float64").to_numpy()
        frame[f"{p}_high"] = pd.Series([b[1] for b in bound], dtype="float64").to_numpy()
        exps += [gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=f"{p}_min", column_B=f"{p}_low", or_equal=True,
                                                             ignore_row_if="either_value_is_missing"),
                 gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=f"{p}_high", column_B=f"{p}_max", or_equal=True,
                                                             ignore_row_if="either_value_is_missing")]
    return frame, exps


def _column_stats(values: pd.Series) -> tuple[bool, int, float, float]:
    """(numeric, null count, min, max) of one column; min and max over its non-null values, NaN when it has
    none or is not numeric. NumPy reductions where the dtype allows (a third of pandas' time)."""
    numeric = str(values.dtype) in NUMERIC_TYPES
    a = values.to_numpy() if isinstance(values.dtype, np.dtype) else None
    if not numeric or len(values) == 0:
        return numeric, int(values.isna().sum()), float("nan"), float("nan")
    if a is not None and a.dtype.kind == "f":  # fmin/fmax skip NaN
        return True, int(np.count_nonzero(np.isnan(a))), float(np.fmin.reduce(a)), float(np.fmax.reduce(a))
    if a is not None:  # plain integers: no nulls
        return True, 0, float(a.min()), float(a.max())
    low, high = values.min(), values.max()  # nullable Int64 / Float64: pd.NA when all are null
    return True, int(values.isna().sum()), float(low) if pd.notna(low) else np.nan, \
        float(high) if pd.notna(high) else np.nan
