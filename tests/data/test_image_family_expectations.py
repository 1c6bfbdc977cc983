"""GX suites of the rnn and fashion_cnn families: good data passes; bad input fails naming its check.
28x28 images are checked on a pixel-column profile (components/suites.py); failures name the pixel column."""

import numpy as np
import pandas as pd
import pytest

from components.data import validator
from tests.helpers import params_with

DIGITS = {"kind": "image", "image_shape": [8, 8]}
FASHION = {"kind": "image", "image_shape": [28, 28]}


@pytest.fixture(scope="module")
def rnn_cfg():
    return params_with({"model": "rnn", "validate.min_rows": 50}).validation


@pytest.fixture(scope="module")
def fashion_cfg():
    return params_with({"model": "fashion_cnn", "validate.fashion_cnn.min_rows": 100}).validation


@pytest.fixture(scope="module")
def fashion_like() -> pd.DataFrame:
    """120 random 28x28 uint8 images with labels and a train/test split column, as IDX ingest writes them."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 256, (120, 784), dtype=np.uint8), columns=[f"px_{i}" for i in range(784)])
    df["label"] = np.arange(120, dtype=np.int64) % 10
    df["split"] = ["train"] * 100 + ["test"] * 20
    return df


def test_rnn_good_digits_pass(small_digits, rnn_cfg):
    assert validator.validate(small_digits, rnn_cfg, DIGITS).success


@pytest.mark.parametrize("kind,expected", [
    ("nan_pixel", ("expect_column_values_to_not_be_null", "px_12")),
    ("short_rows", ("expect_table_column_count_to_equal", None)),  # rows of 56 pixels: not 8x8
    ("wrong_scale", ("expect_column_values_to_be_between", "px_20")),  # 0-255 pixels where 0-16 is expected
])
def test_rnn_bad_input_names_the_check(small_digits, rnn_cfg, kind, expected):
    df = small_digits.copy()
    if kind == "nan_pixel":
        df.loc[3, "px_12"] = np.nan
    elif kind == "short_rows":
        df = df.drop(columns=[f"px_{i}" for i in range(56, 64)])
    else:
        df["px_20"] = df["px_20"] * 16
    report = validator.validate(df, rnn_cfg, DIGITS)
    assert expected in {(f.expectation, f.column) for f in report.failures}
    assert expected[0] in report.message("x")


def test_fashion_good_images_pass_with_few_checks(fashion_like, fashion_cfg):
    report = validator.validate(fashion_like, fashion_cfg, FASHION)
    assert report.success, report.message("x")
    # rows, columns, split set, label x3 on the table; numeric, nulls, min, max on the pixel profile
    assert report.evaluated == 10


@pytest.mark.parametrize("kind,expected,named", [
    ("over_255", ("expect_column_values_to_be_between", "pixel_max"), "px_7: highest value 300.0"),
    ("negative", ("expect_column_values_to_be_between", "pixel_min"), "px_8: lowest value -1.0"),
    ("nan_pixel", ("expect_column_values_to_be_between", "pixel_nulls"), "px_100: 1 missing value(s)"),
    ("text_pixel", ("expect_column_values_to_be_in_set", "pixel_numeric"), "px_5: not numeric"),
    ("bad_split", ("expect_column_values_to_be_in_set", "split"), "dev"),
    ("unknown_label", ("expect_column_values_to_be_in_set", "label"), "10"),
])
def test_fashion_bad_input_names_the_check_and_pixel(fashion_like, fashion_cfg, kind, expected, named):
    df = fashion_like.copy()
    if kind in ("over_255", "negative", "nan_pixel"):
        col, value = {"over_255": ("px_7", 300), "negative": ("px_8", -1), "nan_pixel": ("px_100", np.nan)}[kind]
        df[col] = df[col].astype("float64")
        df.loc[5, col] = value
    elif kind == "text_pixel":
        df["px_5"] = df["px_5"].astype(str)
    elif kind == "bad_split":
        df.loc[2, "split"] = "dev"
    else:
        df.loc[4, "label"] = 10
    report = validator.validate(df, fashion_cfg, FASHION)
    failed = {(f.expectation, f.column): f for f in report.failures}
    assert expected in failed, report.message("x")
    assert named in failed[expected].describe()
