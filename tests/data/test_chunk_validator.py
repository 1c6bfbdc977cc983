"""One Validator across the chunks of a file (batch scoring): the GX objects are built once, table-level
checks that passed are not re-run for later chunks of the same layout, every chunk's values are checked."""

import numpy as np
import pytest

from components.config.sections import ImageValidateConfig, TabularValidateConfig
from components.data import validator

CFG = ImageValidateConfig(min_rows=50)
PROFILED = {"kind": "image", "image_shape": [8, 8], "pixel_checks": "profile"}


def _chunks(df, n):
    return [df.iloc[i:i + n].reset_index(drop=True) for i in range(0, len(df), n)]


def test_every_chunk_passes_with_the_counts_of_a_fresh_validation(small_digits):
    pixels = small_digits.drop(columns="label")
    check = validator.Validator(CFG, PROFILED, require_label=False, name="batch", chunks=True)
    fresh = validator.validate(pixels.head(100), CFG, PROFILED, require_label=False)
    reports = [check(c) for c in _chunks(pixels, 100)]
    assert all(r.success for r in reports) and len(reports) == 4
    assert {(r.evaluated, r.successful) for r in reports} == {(fresh.evaluated, fresh.successful)}


def test_a_bad_value_in_a_later_chunk_is_caught_and_named(small_digits):
    pixels = small_digits.drop(columns="label")
    pixels.loc[250, "px_20"] = 17.0  # third chunk
    check = validator.Validator(CFG, PROFILED, require_label=False, name="batch", chunks=True)
    outcomes = [check(c) for c in _chunks(pixels, 100)]
    assert [r.success for r in outcomes] == [True, True, False, True]
    (failure,) = outcomes[2].failures
    assert failure.expectation == "expect_column_values_to_be_between"
    assert failure.examples == ["px_20: highest value 17.0"]


def test_a_chunk_with_other_columns_or_more_rows_runs_the_table_checks_again(small_digits):
    pixels = small_digits.drop(columns="label")
    check = validator.Validator(CFG, PROFILED, require_label=False, name="batch", chunks=True)
    assert check(pixels.head(100)).success
    dropped = check(pixels.head(100).drop(columns="px_5"))
    assert not dropped.success
    assert any(f.expectation == "expect_table_column_count_to_equal" for f in dropped.failures)
    limited = validator.Validator(ImageValidateConfig(max_rows=150), PROFILED, require_label=False, chunks=True)
    assert limited(pixels.head(100)).success
    assert not limited(pixels.head(200)).success  # more rows than the chunk that passed: checked again


def test_value_suites_run_on_every_chunk(small_digits):
    """Tabular suites check values per column in the table suite: nothing is skipped."""
    frame = small_digits[["px_10", "px_20"]].astype("float64")
    cfg = TabularValidateConfig(columns=["px_10", "px_20"], ranges={"px_10": [0, 16], "px_20": [0, 16]}, min_rows=1)
    check = validator.Validator(cfg, {"kind": "tabular"}, require_label=False, chunks=True)
    assert check(frame.head(100)).success
    bad = frame.iloc[100:200].copy()
    bad.iloc[0, 1] = np.nan
    failed = check(bad)
    assert not failed.success and failed.failures[0].column == "px_20"


def test_chunk_mode_is_for_unlabelled_inputs():
    with pytest.raises(ValueError, match="require_label=False"):
        validator.Validator(CFG, PROFILED, require_label=True, chunks=True)
