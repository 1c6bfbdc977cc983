"""The series suite on the real co2 data: it passes; each kind of broken series fails naming its check."""

import numpy as np
import pytest

from components.config.sections import SeriesValidateConfig
from components.core.errors import DataValidationError, IngestError
from components.data import artifacts, validator
from components.data.sources import BUNDLED
from components.stages import ingest, validate
from tests.helpers import params_with, write_params

SERIES = {"kind": "series"}


@pytest.fixture(scope="module")
def co2():
    return BUNDLED["statsmodels:co2"]()


@pytest.fixture(scope="module")
def cfg():
    return params_with({"model": "forecasting"}).validation


def test_co2_passes_every_check(co2, cfg):
    assert isinstance(cfg, SeriesValidateConfig)
    report = validator.validate(co2, cfg, SERIES)
    assert report.success and report.evaluated == report.successful == 11  # 10 + values finite
    assert co2["value"].isna().sum() == 59  # its gaps are within what imputation may bridge


def _broken(df, kind):
    df = df.copy()
    if kind == "not_monotonic":
        return df.iloc[[0, 2, 1, *range(3, len(df))]].reset_index(drop=True)
    if kind == "duplicate":
        df.loc[5, "timestamp"] = df.loc[4, "timestamp"]
    elif kind == "gap_too_long":
        df.loc[100:125, "value"] = np.nan  # 26 weeks without a value
    elif kind == "missing_timestamps":
        return df.drop(index=range(300, 330)).reset_index(drop=True)  # 30 weeks absent
    elif kind == "non_numeric":
        df["value"] = df["value"].astype(str)
    elif kind == "mostly_empty":
        df.loc[df.index % 5 != 0, "value"] = np.nan
    elif kind == "missing_value_column":
        return df.drop(columns="value")
    return df


EXPECTED = {
    "not_monotonic": [("expect_column_values_to_be_increasing", "timestamp")],
    "duplicate": [("expect_column_values_to_be_unique", "timestamp")],
    "gap_too_long": [("expect_column_values_to_be_between", "days_since_last_value")],
    "missing_timestamps": [("expect_column_values_to_be_between", "days_since_last_value")],
    "non_numeric": [("expect_column_values_to_be_in_type_list", "value")],
    "mostly_empty": [("expect_column_values_to_not_be_null", "value")],
    "missing_value_column": [("expect_column_to_exist", "value"), ("expect_table_columns_to_match_set", None)],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_broken_series_names_its_expectation(co2, cfg, kind):
    report = validator.validate(_broken(co2, kind), cfg, SERIES)
    assert not report.success
    failed = {(f.expectation, f.column) for f in report.failures}
    for expected in EXPECTED[kind]:
        assert expected in failed, f"{kind}: {expected} not among {failed}"


def test_max_gap_is_a_param(co2, cfg):
    broken = _broken(co2, "gap_too_long")
    assert validator.validate(broken, cfg.model_copy(update={"max_gap": "200D"}), SERIES).success


def test_gappy_csv_fails_the_validate_stage_naming_the_check(tmp_path, co2, capsys):
    _broken(co2, "gap_too_long").to_csv(tmp_path / "gappy.csv", index=False)
    write_params(tmp_path / "params.yaml",
                 {"model": "forecasting", "ingest.forecasting.source": str(tmp_path / "gappy.csv")})
    assert ingest.STAGE.main(["--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "raw")]) == 0
    code = validate.STAGE.main(["--params", str(tmp_path / "params.yaml"), "--raw", str(tmp_path / "raw"),
                          "--out", str(tmp_path / "val")])
    err = capsys.readouterr().err
    assert code == 1 and "DataValidationError" in err
    assert "expect_column_values_to_be_between(days_since_last_value)" in err
    with pytest.raises(DataValidationError):
        artifacts.require_validated(tmp_path / "val", tmp_path / "raw")


def test_unparseable_timestamp_fails_ingest_naming_the_file(tmp_path, co2):
    bad = co2.astype({"timestamp": str})
    bad.loc[7, "timestamp"] = "last tuesday"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    p = params_with({"model": "forecasting", "ingest.forecasting.source": str(tmp_path / "bad.csv")})
    with pytest.raises(IngestError, match=r"bad\.csv.*'last tuesday'"):
        ingest.run(p.ingest, tmp_path / "raw", p.kind)
    assert not (tmp_path / "raw").exists()
