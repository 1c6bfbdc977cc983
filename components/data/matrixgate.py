"""A quick yes for a request of numbers: the kind's suite decided on a float matrix in microseconds.

`keel serve` checks every request with the family's suite (components/data/suitecheck.py, ~1-7 ms a request
through pandas). Most requests pass, and for a table of doubles in the model's own columns passing comes down
to a few facts known when the server starts (the column set, the dtype, the suite's problems) and two that
are not: the row count, and every value inside its column's range (a range that is at least finite, so NaN
and ±inf fail it). `MatrixGate` compiles the suite's expectations and column checks into one lower and one
upper bound per column, once, and answers True only when every expectation holds on every value. Anything it
does not model (a derived column, a set, regex or uniqueness check, a mostly-threshold it would have to
count) makes it answer False, and so does any value out of range: the caller then runs `SuiteCheck`, whose
report names each failure. A False is never a verdict; a True always is. tests/data/test_matrixgate.py
compares it with `SuiteCheck` on good and broken requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from components.data.suitecheck import SuiteCheck, _table, _types
from components.data.suites import DERIVED

ROWS = "expect_table_row_count_to_be_between"
BETWEEN, NOT_NULL = "expect_column_values_to_be_between", "expect_column_values_to_not_be_null"
TYPES = ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type")


class MatrixGate:
    """For float64 matrices whose columns are `columns` (in order): True when the suite passes on them."""

    def __init__(self, check: SuiteCheck, columns: list[str]):
        self.columns, self.why = list(columns), self._compile(check, list(columns))
        self.enabled = self.why is None

    def _compile(self, check: SuiteCheck, columns: list[str]) -> str | None:
        """Set the bounds; the reason the gate cannot decide (then it always answers False), or None."""
        if check.kind in DERIVED:
            return f"the {check.kind} suite checks derived columns"
        compiled = check.compile(columns)
        suite = check._main[2]
        if compiled.unsupported or suite.problems:
            return "the suite has checks only GX runs, or problems of its own"
        width, index = len(columns), {c: j for j, c in enumerate(columns)}
        self.low, self.high = np.full(width, -np.inf), np.full(width, np.inf)
        self.rows = (0, np.inf)
        empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
        for e in compiled.table:
            if e.expectation_type == ROWS:
                self.rows = (e.min_value or 0, np.inf if e.max_value is None else e.max_value)
            elif _table(e, empty) is not None:  # the column set is the request's: decided now
                return f"{e.expectation_type} fails on the model's own columns"
        for kind, args, cols in compiled.groups:
            if any(c not in index for c in cols):
                return f"{kind} names a column the model does not take"
            at = [index[c] for c in cols]
            if kind in TYPES:
                if _types(kind, empty[cols], args):
                    return f"{kind} fails on float64 columns"
            elif kind == BETWEEN:
                self._bound(at, args.get("min_value"), args.get("max_value"), args.get("strict_min"),
                            args.get("strict_max"))
            elif kind != NOT_NULL:  # not null: every bound below is at least finite, NaN fails it
                return f"{kind} is not decided on a matrix"
        profile = suite.columns
        if profile is not None:
            if any(c not in index for c in profile.columns):
                return "a checked column is missing"
            for c in profile.columns:  # numeric (float64 is), not null and within its bounds
                self._bound([index[c]], *profile.bounds.get(c, (None, None)))
        self.low = np.maximum(self.low, -np.finfo(np.float64).max)  # NaN and ±inf never pass
        self.high = np.minimum(self.high, np.finfo(np.float64).max)
        return None

    def _bound(self, at: list[int], low: Any, high: Any, strict_low: bool | None = False,
               strict_high: bool | None = False) -> None:
        """Narrow the columns `at` to [low, high] (a strict bound: the next float past it)."""
        if low is not None:
            low = np.nextafter(float(low), np.inf) if strict_low else float(low)
            self.low[at] = np.maximum(self.low[at], low)
        if high is not None:
            high = np.nextafter(float(high), -np.inf) if strict_high else float(high)
            self.high[at] = np.minimum(self.high[at], high)

    def __call__(self, matrix: np.ndarray) -> bool:
        """True: the suite passes on `matrix` (rows x the gate's columns, float64). False: ask SuiteCheck."""
        if not self.enabled or matrix.ndim != 2 or matrix.shape[1] != len(self.columns):
            return False
        if not self.rows[0] <= len(matrix) <= self.rows[1]:
            return False
        return bool(((matrix >= self.low) & (matrix <= self.high)).all())  # NaN compares False
