"""Failures made to point at the bad cell or setting: the first non-numeric values of a column and their rows,
the rows of missing values, the extra and missing columns, a missing label column (and `ingest.label_column`),
the row bounds and their settings. Applied to what GX (components/data/validator.py) and the compiled checks
(components/data/suitecheck.py) report, so both say the same; checks that could not run only because a column is
missing or not numeric are folded into the failure that says so."""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np
import pandas as pd

from components.core.columns import LABEL
from components.data.failures import Failure, plain
from components.data.profile import BETWEEN, EXIST, NOT_NULL, TYPE

SHOWN = 5  # values and rows named per failure
ROWS = "expect_table_row_count_to_be_between"
COLUMN_SET = "expect_table_columns_to_match_set"


def rows_of(mask: np.ndarray) -> list[int]:
    """The first SHOWN row numbers (0-based, the header not counted) where `mask` holds."""
    return np.flatnonzero(mask)[:SHOWN].tolist()


def _not_numeric(f: Failure, values: pd.Series) -> Failure:
    bad = values.notna().to_numpy() & ~values.map(lambda v: isinstance(v, Number) and not isinstance(v, bool)
                                                  ).to_numpy(dtype=bool)
    if not bad.any():
        return f
    return f.model_copy(update={"unexpected_count": int(bad.sum()), "examples": plain(values[bad].head(SHOWN).tolist()),
                                "rows": rows_of(bad), "hint": f"not numbers; column dtype {values.dtype}"})


def _setting(expectations: list[Any], kind: str, name: str) -> Any:
    """Setting `name` of the first expectation of type `kind` (None if there is none)."""
    return next((getattr(e, name, None) for e in expectations if getattr(e, "expectation_type", None) == kind), None)


def _row_count(f: Failure, expectations: list[Any], require_label: bool) -> Failure:
    low, high = _setting(expectations, ROWS, "min_value"), _setting(expectations, ROWS, "max_value")
    bound = f"at least {low}" + (f" and at most {high}" if high is not None else "")
    setting = "validate.min_rows" if require_label else "at least one row to score"
    setting += ", validate.max_rows" if high is not None else ""
    return f.model_copy(update={"hint": f"expected {bound} rows: {setting}"})


def _column_set(f: Failure, df: pd.DataFrame, expectations: list[Any]) -> Failure:
    expected = list(_setting(expectations, COLUMN_SET, "column_set") or [])
    seen = [str(c) for c in df.columns]
    extra, missing = [c for c in seen if c not in expected], [c for c in expected if c not in seen]
    said = "; ".join(s for s in (f"extra column(s) {extra}" if extra else "",
                                 f"missing column(s) {missing}" if missing else "") if s)
    return f.model_copy(update={"error": f"{said or 'columns differ'} (expected: validate.columns"
                                         f"{' + label' if LABEL in expected else ''})", "examples": []})


def pinpoint(failures: list[Failure], df: pd.DataFrame, expectations: list[Any],
             require_label: bool) -> list[Failure]:
    """`failures` (of a suite with `expectations`, on `df` after its derived columns) made concrete."""
    columns = set(map(str, df.columns))
    no_label = require_label and LABEL not in columns
    out: list[Failure] = []
    not_numeric = {f.column for f in failures if f.expectation == TYPE and f.column in columns}
    for f in failures:
        c = f.column
        if c is not None and c not in columns and f.expectation != EXIST and any(
                g.expectation == EXIST and g.column == c for g in failures):
            continue  # a check on a missing column: the missing column says it
        if c == LABEL and no_label:  # every check on the label said once, with the setting that names it
            if not any(g.column == LABEL for g in out):
                out.append(Failure(expectation=EXIST, column=LABEL, error=(
                    f"the label column {LABEL!r} is missing; if the data names it otherwise, set "
                    "ingest.label_column to that name (ingest renames it to 'label')")))
            continue
        if f.expectation == BETWEEN and f.error and c in not_numeric:
            continue  # not comparable with the bounds: the type failure names the values
        if f.expectation == TYPE and c in columns:
            f = _not_numeric(f, df[c])
        elif f.expectation == NOT_NULL and c in columns and not f.rows:
            f = f.model_copy(update={"rows": rows_of(df[c].isna().to_numpy())})
        elif f.expectation == ROWS:
            f = _row_count(f, expectations, require_label)
        elif f.expectation == COLUMN_SET:
            f = _column_set(f, df, expectations)
        out.append(f)
    return out
