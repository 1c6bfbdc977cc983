"""Validation messages point at the bad cell or setting (components/data/pinpoint.py), as GX and the compiled
checks report them: the non-numeric values of a column and their rows (without the range check's noise), the rows
of missing values, the extra and missing columns, a missing label column with `ingest.label_column`, the row bounds
with `validate.min_rows`."""

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from components.config.sections import TabularValidateConfig
from components.data.suitecheck import SuiteCheck
from components.data.validator import validate

MANIFEST = {"kind": "tabular"}


@pytest.fixture(scope="module")
def cancer():
    d = load_breast_cancer()
    df = pd.DataFrame(d.data, columns=[c.replace(" ", "_") for c in d.feature_names])
    return df.assign(label=d.target), TabularValidateConfig(columns=list(df.columns), labels=[0, 1], min_rows=600)


def _said(df, cfg):
    """The message lines, from GX; the compiled checks say the same."""
    gx = validate(df, cfg, MANIFEST).message("raw")
    assert SuiteCheck(cfg, MANIFEST, require_label=True)(df).message("raw") == gx
    return gx.splitlines()


def test_each_failure_names_its_cells_columns_and_settings(cancer):
    df, cfg = cancer
    bad = df.astype({"mean_radius": object}).assign(extra=1.0).drop(columns="worst_area")
    bad.loc[[3, 8], "mean_radius"] = ["abc", "n/a"]
    bad.loc[5, "mean_texture"] = None
    lines = _said(bad, cfg)
    assert lines[0] == "raw: 9 of 125 checks failed:"  # a missing column's three checks are said in one line
    assert "expect_table_row_count_to_be_between: failed (observed 569) (expected at least 600 rows: " \
           "validate.min_rows)" in lines[1]
    assert "extra column(s) ['extra']; missing column(s) ['worst_area']" in lines[2]
    assert "in_type_list(mean_radius): 2 unexpected value(s), e.g. ['abc', 'n/a'] at row(s) [3, 8]" in lines[3]
    assert "not_be_null(mean_texture): 1 unexpected value(s), e.g. [None] at row(s) [5]" in lines[4]
    assert lines[5].endswith("expect_column_to_exist(worst_area): failed") and len(lines) == 6
    assert not any("not comparable" in line or "does not exist" in line for line in lines)


def test_a_missing_label_column_names_the_setting(cancer):
    df, cfg = cancer
    lines = _said(df.rename(columns={"label": "target"}), cfg.model_copy(update={"min_rows": 1}))
    assert [line for line in lines if "(label)" in line] == [
        "  - expect_column_to_exist(label): the label column 'label' is missing; if the data names it otherwise, "
        "set ingest.label_column to that name (ingest renames it to 'label')"]
    assert "extra column(s) ['target']; missing column(s) ['label']" in "\n".join(lines)
