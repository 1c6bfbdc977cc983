"""The hybrid forecaster's classical backbones, the forecast scores and the backtest's origins (pure)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from components.config.backtest import BacktestConfig
from components.core.errors import StageInputError
from components.data import classical
from components.problems.forecasting import coverage, pinball, scores
from components.training.backtest import full_series, origins


def _seasonal(n=120, seed=0):
    t = np.arange(n)
    return 300 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 0.2, n)


def test_ets_recursion_reproduces_statsmodels():
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    z = _seasonal()
    state = classical.fit_ets(z, 12)
    paths = classical.ets_paths(z, state, 0, 12, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(z, trend="add", seasonal="add", seasonal_periods=12).fit()
    assert np.allclose(paths[np.arange(1, len(z)), 0], fit.fittedvalues[1:], atol=1e-9)  # one step ahead
    # from the end: statsmodels reuses last year's seasonal state at step m; up to that the paths agree
    assert np.allclose(paths[-1, :11], fit.forecast(12)[:11], atol=1e-9)


def test_ar_paths_use_the_past_only_and_snaive_repeats_the_season():
    z = _seasonal()
    coef = classical.fit_ar(z[:100], 3)
    p = classical.ar_paths(z, coef, 4)
    assert np.isnan(p[2]).all() and np.isfinite(p[3:]).all()
    changed = z.copy()
    changed[60:] += 50  # the future of origin 60 changes: its path may not
    assert np.array_equal(classical.ar_paths(changed, coef, 4)[60], p[60])
    assert p[60, 0] == pytest.approx(coef[0] + np.dot(coef[1:], z[59:56:-1]))
    s = classical.snaive_paths(z, 14, 12)
    assert np.array_equal(s[50], np.r_[z[38:50], z[38:40]]) and np.isnan(s[11]).all()
    both = classical.backbone_paths(z, ["ar3", "snaive"], None, {"ar3": coef}, 0, 4, 12)
    assert np.allclose(both[60], (p[60] + s[60, :4]) / 2)


def test_scores_by_hand():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    q = np.array([[0.0, 1.0, 2.0, 5.0], [1.0, 2.0, 3.0, 6.0], [2.0, 3.0, 4.0, 7.0]])
    assert coverage(actual, q) == 0.75  # 4 lies below [5, 7]
    # steps 1-3: the outer quantiles are 1 off (0.1 each), the median exact; step 4: 0.9 x 1, 0.5 x 2, 0.1 x 3
    assert pinball(actual, q, 1.0) == pytest.approx((3 * 0.2 + 0.9 + 1.0 + 0.3) / 12)
    got = scores(actual, q, 2.0)
    assert got["mase"] == pytest.approx(0.5 / 2) and got["pinball"] == pytest.approx(pinball(actual, q, 2.0))
    point = np.stack([q[1]] * 3)  # no spread: the pinball loss is MASE / 2
    assert scores(actual, point, 1.0)["pinball"] == pytest.approx(scores(actual, point, 1.0)["mase"] / 2)


def test_origins_default_to_disjoint_windows_at_the_end_and_dev_origins_end_before_them():
    assert origins(526, 24, BacktestConfig(origins=5)) == [406, 430, 454, 478, 502]  # co2
    assert origins(309, 22, BacktestConfig(origins=3)) == [243, 265, 287]  # sunspots (baselines.md)
    dev = origins(309, 22, BacktestConfig(origins=8, step=11, skip=66))
    assert dev == list(range(144, 222, 11)) and dev[-1] + 22 <= 243
    with pytest.raises(StageInputError, match="do not fit"):
        origins(100, 24, BacktestConfig(origins=5))


def test_full_series_drops_the_test_splits_repeated_lead_in():
    stamps = pd.date_range("2000-01-01", periods=10, freq="MS")
    df = pd.DataFrame({"timestamp": stamps, "value": np.arange(10.0)})
    got = full_series(df.iloc[:7], df.iloc[4:])
    assert got["value"].tolist() == list(range(10))
