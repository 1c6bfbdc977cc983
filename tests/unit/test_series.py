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


def test_windows_align_inputs_and_targets():
    x, y = series.windows(np.arange(10.0), input_len=4, horizon=3)
    assert x.shape == (4, 4) and y.shape == (4, 3)
    assert x[0].tolist() == [0, 1, 2, 3] and y[0].tolist() == [4, 5, 6] and y[-1].tolist() == [7, 8, 9]
    assert series.windows(np.arange(5.0), 4, 3)[0].shape == (0, 4)


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


def test_ets_and_arima_follow_a_clean_seasonal_trend():
    t = np.arange(96)
    y = 10 + 0.5 * t + 3 * np.sin(2 * np.pi * t / 12)
    scale = series.seasonal_scale(y[:84], 12)
    for forecast in (baselines.ets_forecast, baselines.arima_forecast):
        assert mase(y[84:], forecast(y[:84], 12, 12), scale) < 0.1


def test_series_transform_round_trip_and_serving_window():
    df = _weekly()
    t = SeriesTransform.fit(df, FEATURES)
    months = series.regularize(df, "MS").to_numpy()
    assert t.mean == pytest.approx(months.mean()) and t.std == pytest.approx(np.diff(months).std())
    x, y = t.features(df), t.targets(df)
    assert x.shape == (len(months) - 17, 12) and y.shape == (len(months) - 17, 6)
    assert np.allclose(t.inverse_targets(y[-1]), months[-6:], atol=1e-4)
    serve = t.serving_features(df)
    assert serve.shape == (1, 12) and np.allclose(t.inverse_targets(serve[0]), months[-12:], atol=1e-4)
    with pytest.raises(StageInputError, match="input_len=12"):
        t.serving_features(df.head(20))
    assert t.features(df.iloc[:0]).shape == (0, 12)  # an empty split (series have no val split)


def test_as_series_parses_strings_and_names_bad_timestamps():
    df = pd.DataFrame({"timestamp": ["2000-01-01", "2000-01-08"], "value": [1.0, 2.0]})
    assert pd.api.types.is_datetime64_any_dtype(as_series(df, "f.csv")["timestamp"])
    with pytest.raises(IngestError, match=r"f\.csv.*timestamp.*'soon'"):
        as_series(df.assign(timestamp=["2000-01-01", "soon"]), "f.csv")
