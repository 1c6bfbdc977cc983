"""The clustering family reuses the image suite with its own params block: digits pass, broken pixels fail
naming the expectation, before anything trains."""

import numpy as np
import pytest

from components.config.sections import ImageValidateConfig
from components.data import validator
from tests.helpers import params_with

DIGITS = {"kind": "image", "image_shape": [8, 8]}


@pytest.fixture(scope="module")
def cfg():
    cfg = params_with({"model": "clustering", "validate.min_rows": 50}).validation
    assert isinstance(cfg, ImageValidateConfig)
    return cfg


def test_digits_pass(small_digits, cfg):
    assert validator.validate(small_digits, cfg, DIGITS).success


@pytest.mark.parametrize("column,value,expectation", [
    ("px_7", np.nan, "expect_column_values_to_not_be_null"),
    ("px_9", 255.0, "expect_column_values_to_be_between"),
    ("label", 12, "expect_column_values_to_be_in_set"),
])
def test_broken_rows_name_the_check(small_digits, cfg, column, value, expectation):
    df = small_digits.copy()
    df.loc[3, column] = value
    failed = {(f.expectation, f.column) for f in validator.validate(df, cfg, DIGITS).failures}
    assert (expectation, column) in failed
