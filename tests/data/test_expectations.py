"""The GX suite on real digits: the good set passes; each kind of broken data fails naming its check."""

import re

import numpy as np
import pandas as pd
import pytest

from components.config.sections import ImageValidateConfig, IngestConfig
from components.core import paths
from components.core.errors import DataValidationError
from components.core.io import read_json
from components.data import validator
from components.stages import ingest, validate
from tests.helpers import write_params

CFG = ImageValidateConfig(min_rows=50)
DIGITS = {"kind": "image", "image_shape": [8, 8]}


def test_good_data_passes_every_check(small_digits):
    report = validator.validate(small_digits, CFG, DIGITS)
    assert report.success and report.failures == []
    # table: rows, columns; label: exists, not null, in set; per pixel: type, not null, range
    assert report.evaluated == report.successful == 2 + 3 + 64 * 3


def _broken(df, kind):
    df = df.copy()
    if kind == "missing_label":
        return df.drop(columns="label")
    if kind == "nan_pixel":
        df.loc[3, "px_10"] = np.nan
    elif kind == "out_of_range":
        df.loc[4, "px_20"] = 17.0
    elif kind == "negative":
        df.loc[5, "px_21"] = -1.0
    elif kind == "unknown_label":
        df.loc[6, "label"] = 11
    elif kind == "non_numeric":
        df["px_30"] = df["px_30"].astype(str)
        df.loc[7, "px_30"] = "seven"
    elif kind == "too_few_rows":
        return df.head(10)
    elif kind == "extra_column":
        df["px_64"] = 0.0
    return df


EXPECTED = {
    "missing_label": [("expect_column_to_exist", "label"), ("expect_table_column_count_to_equal", None)],
    "nan_pixel": [("expect_column_values_to_not_be_null", "px_10")],
    "out_of_range": [("expect_column_values_to_be_between", "px_20")],
    "negative": [("expect_column_values_to_be_between", "px_21")],
    "unknown_label": [("expect_column_values_to_be_in_set", "label")],
    "non_numeric": [("expect_column_values_to_be_in_type_list", "px_30")],
    "too_few_rows": [("expect_table_row_count_to_be_between", None)],
    "extra_column": [("expect_table_column_count_to_equal", None)],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_broken_kind_names_its_expectation(small_digits, kind):
    report = validator.validate(_broken(small_digits, kind), CFG, DIGITS)
    assert not report.success
    failed = {(f.expectation, f.column) for f in report.failures}
    for expected in EXPECTED[kind]:
        assert expected in failed, f"{kind}: {expected} not among {failed}"
    message = report.message("x")
    assert all(e in message for e, _ in EXPECTED[kind])


def test_unexpected_counts_and_examples(small_digits):
    df = small_digits.copy()
    df.loc[[1, 2, 3], "px_5"] = 99.0
    (failure,) = validator.validate(df, CFG, DIGITS).failures
    assert failure.unexpected_count == 3 and failure.examples == [99.0, 99.0, 99.0]
    assert "px_5" in failure.describe() and "3 unexpected" in failure.describe()


def test_non_square_pixel_count_needs_image_shape(small_digits):
    report = validator.validate(small_digits.drop(columns="px_63"), CFG, {"kind": "image", "image_shape": None})
    assert any(f.expectation == "image_shape" for f in report.failures)


def test_label_optional_for_scoring_inputs(small_digits):
    assert validator.validate(small_digits.drop(columns="label"), CFG, DIGITS, require_label=False).success


def test_truncated_csv_fails_validation_naming_columns(tmp_path, small_digits):
    text = small_digits.to_csv(index=False)
    cut = text[: text.rindex("\n", 0, len(text) - 1) + 40]  # last row cut off mid-way
    (tmp_path / "cut.csv").write_text(cut)
    ingest.run(IngestConfig(source=str(tmp_path / "cut.csv")), tmp_path / "raw")
    with pytest.raises(DataValidationError) as e:
        validate.run(CFG, tmp_path / "raw", tmp_path / "val")
    assert "expect_column_values_to_not_be_null" in str(e.value)
    assert any("label" in f for f in e.value.failures)


def test_run_writes_report_and_data_docs_even_on_failure(tmp_path, small_digits):
    _broken(small_digits, "nan_pixel").to_parquet(tmp_path / "bad.parquet", index=False)
    ingest.run(IngestConfig(source=str(tmp_path / "bad.parquet")), tmp_path / "raw")
    with pytest.raises(DataValidationError, match=r"bad\.parquet"):
        validate.run(CFG, tmp_path / "raw", tmp_path / "val")
    summary = read_json(tmp_path / "val" / paths.VALIDATION_FILE)
    assert summary["success"] is False and summary["failures"][0]["column"] == "px_10"
    docs = tmp_path / "val" / "data_docs"
    assert (docs / "index.html").is_file() and summary["data_docs"] == str(docs / "keel_index.html")
    front = (docs / "keel_index.html").read_text()  # opens offline: no script, no stylesheet from elsewhere
    assert "<script" not in front and "<link" not in front and 'class="fail">failed' in front
    for page in re.findall(r'href="([^"]+)"', front):  # every link is a GX page this run wrote
        assert (docs / page).is_file(), page
    assert re.search(r'href="validations/[^"]+\.html"', front)


def test_cli_exit_code_and_message(tmp_path, small_digits, capsys):
    _broken(small_digits, "unknown_label").to_parquet(tmp_path / "bad.parquet", index=False)
    write_params(tmp_path / "params.yaml", {"ingest.source": str(tmp_path / "bad.parquet"), "validate.min_rows": 50})
    assert ingest.STAGE.main(["--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "raw")]) == 0
    code = validate.STAGE.main(["--params", str(tmp_path / "params.yaml"), "--raw", str(tmp_path / "raw"),
                          "--out", str(tmp_path / "val")])
    err = capsys.readouterr().err
    assert code == 1
    assert "DataValidationError" in err and "expect_column_values_to_be_in_set(label)" in err


def _diabetes():
    from components.data.sources import BUNDLED

    return BUNDLED["sklearn:diabetes"]()


def test_tabular_suite_passes_real_diabetes_and_names_each_break():
    from tests.helpers import params_with

    cfg = params_with({"model": "linear"}).validation
    manifest = {"kind": "tabular"}
    good = _diabetes()
    assert validator.validate(good, cfg, manifest).success
    broken = good.copy()
    broken.loc[0, "age"] = 150.0
    broken.loc[1, "bmi"] = np.nan
    broken.loc[2, "label"] = -5.0
    broken["extra"] = 1.0
    failed = {(f.expectation, f.column) for f in validator.validate(broken, cfg, manifest).failures}
    assert {("expect_column_values_to_be_between", "age"), ("expect_column_values_to_not_be_null", "bmi"),
            ("expect_column_values_to_be_between", "label"), ("expect_table_columns_to_match_set", None)} <= failed
    failed = {(f.expectation, f.column) for f in validator.validate(good.drop(columns="s3"), cfg, manifest).failures}
    assert ("expect_column_to_exist", "s3") in failed


def test_infinite_values_fail_every_numeric_column_naming_it():
    from tests.helpers import params_with

    cfg = params_with({"model": "linear"}).validation
    broken = _diabetes()
    assert not {"s1", "s2"} & set(cfg.ranges)  # no configured range: only finiteness can catch these
    broken.loc[3, "s2"], broken.loc[4, "s1"], broken.loc[5, "label"] = np.inf, -np.inf, np.inf
    report = validator.validate(broken, cfg, {"kind": "tabular"})
    failed = {f.column: f.describe() for f in report.failures}
    assert set(failed) == {"s2", "s1", "label"}
    assert "e.g. ['inf']" in failed["s2"] and "must be finite" in failed["s2"] and "['-inf']" in failed["s1"]


def test_one_class_fails_validate_naming_the_label_column(tmp_path, small_digits):
    small_digits.assign(label=3).to_parquet(tmp_path / "one.parquet", index=False)
    ingest.run(IngestConfig(source=str(tmp_path / "one.parquet")), tmp_path / "raw")
    with pytest.raises(DataValidationError, match=re.escape("class_count(label): column 'label' holds 1 class(es) "
                                                            "[3]; a classification task needs at least two")):
        validate.run(CFG, tmp_path / "raw", tmp_path / "val", task="classification")
    assert not read_json(tmp_path / "val" / paths.VALIDATION_FILE)["success"]


def test_classes_too_small_for_the_stratified_split_are_named():
    from components.config.sections import FeaturesConfig
    from components.data.split import class_problems

    cfg = FeaturesConfig(val_size=0.15, test_size=0.15)
    few = pd.DataFrame({"label": [0] * 395 + [1] * 5})
    [(check, problem)] = class_problems(few, cfg)
    assert check == "class_rows" and "needs at least 7 rows of every class in column 'label'" in problem
    assert "{1: 5}" in problem
    assert class_problems(pd.DataFrame({"label": [0] * 393 + [1] * 7}), cfg) == []
    assert class_problems(few, FeaturesConfig(val_size=0.0, test_size=0.3)) == []  # one split: 2 rows suffice
