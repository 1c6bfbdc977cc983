"""The forecasting backtest's settings (`evaluate.backtest`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from components.core.strict import PositiveInt, Strict


class BacktestConfig(Strict):
    """Rolling-origin evaluation of a forecasting family (components/training/backtest.py): at each origin the
    family (backbone and network) is refitted on the history before it and forecasts the next `horizon`
    periods; the `baselines` are fitted on the same histories in the same run. Origins are `step` periods apart
    (null: the horizon, so the windows are disjoint), the last one `skip` periods before the end minus the horizon
    (skip > 0: dev origins that end before the test windows)."""

    enabled: bool = True
    origins: PositiveInt = 5
    step: PositiveInt | None = None
    skip: Annotated[int, Field(ge=0)] = 0
    # snaive | ets (Holt-Winters, additive trend + season) | hw (no trend) | arima (SARIMA(1,1,1)(0,1,1)_m) | ar9
    baselines: list[Literal["snaive", "ets", "hw", "arima", "ar9"]] = Field(
        default_factory=lambda: ["snaive", "ets", "arima"])
