"""Series helpers and the series transform on small frames built in code."""

import numpy as np
import pandas as pd
import pytest

from components.core.errors import IngestError, StageInputError
from components.data import series
from components.data.sources import as_series
from components.data.transforms.series import SeriesTransform
from components.problems import baselines
from components.problems.forecasting import mase

FEATURES = {"features": {"freq": "MS", "input_len": 12, "horizon": 6, "season": 12}}


def _weekly(n=300, start="2000-01-01"):
    t = np.arange(n)
    return pd.DataFrame({"timestamp": pd.date_range(start, periods=n, freq="W-SAT"),
                         "value": 300 + 0.02 * t + np.sin(2 * np.pi * t / 52)})


def test_regularize_means_per_period_interpolates_inner_gaps_and_trims_the_ends():
    df = pd.DataFrame({"timestamp": pd.to_datetime(["2000-01-05", "2000-01-20", "2000-02-10", "2000-04-02",
                                                    "2000-05-01"]),
                       "value": [np.nan, 2.0, 4.0, 10.0, np.nan]})
    s = series.regularize(df, "MS")
    assert list(s.index.strftime("%m")) == ["01", "02", "03", "04", "05"]
    assert s.tolist() == [2.0, 4.0, 7.0, 10.0, 10.0]  # Jan mean ignores NaN; Mar interpolated; May carried


def test_chronological_split_holds_out_the_last_horizon_with_lead_in():
    df = _weekly()
    parts = series.chronological_split(df, "MS", input_len=12, horizon=6)
    months = series.regularize(df, "MS").index
    assert months[-7] <= parts["train"]["timestamp"].max() < months[-6]  # train ends where the holdout starts
    assert months[-18] <= parts["test"]["timestamp"].min() < months[-17] and len(parts["val"]) == 0
    assert len(series.regularize(parts["test"], "MS")) == 18
    with pytest.raises(StageInputError, match="needs at least"):
        series.chronological_split(df.head(100), "MS", input_len=12, horizon=6)


def test_mase_and_baselines_by_hand():
    history = np.array([1.0, 2, 3, 4, 2, 3, 4, 5])  # season 4: lag-4 differences are all 1
    assert series.seasonal_scale(history, 4) == 1.0
    assert baselines.seasonal_naive(history, 6, 4).tolist() == [2, 3, 4, 5, 2, 3]
    assert mase([3.0, 5.0], [2.0, 5.0], 2.0) == 0.25


def test_baselines_follow_a_clean_seasonal_trend_with_ordered_intervals():
    t = np.arange(96)
    y = 10 + 0.5 * t + 3 * np.sin(2 * np.pi * t / 12)
    scale = series.seasonal_scale(y[:84], 12)
    for name in ("ets", "arima"):
        q = baselines.FORECASTERS[name](y[:84], 12, 12)
        assert q.shape == (3, 12) and mase(y[84:], q[1], scale) < 0.1 and (q[0] <= q[2]).all()
    q = baselines.FORECASTERS["snaive"](y[:84], 12, 12)
    assert np.allclose(q[1], y[72:84]) and np.allclose(q[0], y[72:84] + 6)  # its interval: past lag-12 errors (6)


def test_series_transform_samples_are_window_plus_backbone_path():
    df = _weekly()
    t = SeriesTransform.fit(df, FEATURES)
    months = series.regularize(df, "MS").to_numpy()
    assert t.mean == pytest.approx(months.mean()) and t.scale == pytest.approx(series.seasonal_scale(months, 12))
    x, y = t.features(df), t.targets(df)
    assert x.shape == (len(months) - 17, 12 + 6) and y.shape == (len(months) - 17, 6)
    assert np.allclose(t.inverse_targets(y[-1]), months[-6:], atol=1e-4)
    assert np.allclose(t.inverse_targets(x[-1, :12]), months[-18:-6], atol=1e-4)
    serve = t.serving_features(df)
    assert serve.shape == (1, 18) and np.allclose(t.inverse_targets(serve[0, :12]), months[-12:], atol=1e-4)
    # a history that starts later (inside the fitted one) gives the same sample: the ETS states are indexed
    assert np.allclose(t.serving_features(df.iloc[100:]), serve, atol=1e-5)
    with pytest.raises(StageInputError, match="input_len=12"):
        t.serving_features(df.head(20))
    with pytest.raises(StageInputError, match="after the training history"):
        SeriesTransform.fit(df.head(150), FEATURES).serving_features(df.iloc[200:])
    assert t.features(df.iloc[:0]).shape == (0, 18)  # an empty split (series have no val split)


def test_sqrt_values_and_ar_backbone_round_trip():
    t = np.arange(200)
    df = pd.DataFrame({"timestamp": pd.date_range("1800-01-01", periods=200, freq="YS"),
                       "value": 50 + 40 * np.sin(2 * np.pi * t / 11)})
    tr = SeriesTransform.fit(df, {"features": {"freq": "YS", "input_len": 11, "horizon": 5, "season": 11,
                                               "backbone": ["ar9", "snaive"], "value_transform": "sqrt"}})
    assert sorted(tr.ar) == ["ar9"] and tr.ets is None
    x = tr.serving_features(df)
    assert np.allclose(tr.inverse_targets(x[0, :11]), df["value"].to_numpy()[-11:], atol=1e-3)
    with pytest.raises(StageInputError, match="AR order"):
        SeriesTransform.fit(df, {"features": {"freq": "YS", "input_len": 11, "horizon": 5, "season": 11,
                                              "backbone": ["ar12"]}})


def test_as_series_parses_strings_and_names_bad_timestamps():
    df = pd.DataFrame({"timestamp": ["2000-01-01", "2000-01-08"], "value": [1.0, 2.0]})
    assert pd.api.types.is_datetime64_any_dtype(as_series(df, "f.csv")["timestamp"])
    with pytest.raises(IngestError, match=r"f\.csv.*timestamp.*'soon'"):
        as_series(df.assign(timestamp=["2000-01-01", "soon"]), "f.csv")
