"""Classical backbones of the hybrid forecaster (pure numpy, statsmodels for the ETS fit).

Each backbone is fitted on a history only, then, with its parameters held fixed, its recursion gives the
h-step forecast path from every internal origin ("backcasts"): P[s] forecasts z[s:s+h] from z[:s]. The
hybrid network reads the path from the same origin as its input window (components/models/forecasting.py).

  ets     Holt-Winters, additive trend and season (statsmodels' fit; its recursion rerun here; the state
          trajectory is kept, so paths can start from any period of the fitted history)
  ar<p>   AR(p) with a constant, least squares
  snaive  the last season repeated
A backbone list (e.g. ["ar9", "snaive"]) is the mean of its members' paths.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from pydantic import BaseModel, ConfigDict


class EtsState(BaseModel):
    """Fitted Holt-Winters smoothing weights and its state after each period of the fitted history."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    alpha: float
    beta: float
    gamma: float
    level: list[float]  # (n + 1,): level[i] after z[:i]
    slope: list[float]  # (n + 1,)
    season: list[float]  # (n + m,): season[i] applies to z[i]


def fit_ets(z: np.ndarray, m: int) -> EtsState:
    """Holt-Winters (additive trend and season) fitted by statsmodels on the history z, and its states."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the backtest says how good it is
        p = ExponentialSmoothing(z, trend="add", seasonal="add", seasonal_periods=m).fit().params
    lvl, slope, season = ets_states(z, p["smoothing_level"], p["smoothing_trend"], p["smoothing_seasonal"],
                                    p["initial_level"], p["initial_trend"], np.asarray(p["initial_seasons"]))
    return EtsState(alpha=p["smoothing_level"], beta=p["smoothing_trend"], gamma=p["smoothing_seasonal"],
                    level=lvl.tolist(), slope=slope.tolist(), season=season.tolist())


def ets_states(z: np.ndarray, a: float, b: float, g: float, level0: float, slope0: float,
               season0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """statsmodels' additive Holt-Winters recursion from the given initial states over z."""
    n, m = len(z), len(season0)
    lvl, slope, s = np.empty(n + 1), np.empty(n + 1), np.empty(n + m)
    lvl[0], slope[0], s[:m] = level0, slope0, season0
    for i in range(1, n + 1):
        lvl[i] = a * (z[i - 1] - s[i - 1]) + (1 - a) * (lvl[i - 1] + slope[i - 1])
        slope[i] = b * (lvl[i] - lvl[i - 1]) + (1 - b) * slope[i - 1]
        s[i + m - 1] = g * (z[i - 1] - lvl[i - 1] - slope[i - 1]) + (1 - g) * s[i - 1]
    return lvl, slope, s


def ets_paths(z: np.ndarray, state: EtsState, offset: int, h: int, m: int) -> np.ndarray:
    """(n + 1, h) paths over z, a stretch of the series that starts `offset` periods after the fitted
    history's start (0 <= offset <= its length): the recursion starts from the fitted state there."""
    season0 = np.asarray(state.season[offset:offset + m])
    lvl, slope, s = ets_states(z, state.alpha, state.beta, state.gamma, state.level[offset], state.slope[offset],
                               season0)
    k = np.arange(1, h + 1)
    origins = np.arange(len(z) + 1)
    # after z[:s]: level lvl[s], slope slope[s]; seasons s[s .. s+m-1] apply to z[s .. s+m-1]
    return lvl[:, None] + k[None] * slope[:, None] + s[origins[:, None] + (k[None] - 1) % m]


def fit_ar(z: np.ndarray, p: int) -> list[float]:
    """AR(p) with a constant by least squares on z: [constant, coef of lag 1, ..., lag p]."""
    lags = np.stack([z[p - j - 1:len(z) - j - 1] for j in range(p)], 1)  # row i: z[i+p-1], ..., z[i]
    coef, *_ = np.linalg.lstsq(np.hstack([np.ones((len(lags), 1)), lags]), z[p:], rcond=None)
    return coef.tolist()


def ar_paths(z: np.ndarray, coef: list[float], h: int) -> np.ndarray:
    """(n + 1, h) recursive AR forecasts from every origin (rows s < p: NaN)."""
    c, p = np.asarray(coef), len(coef) - 1
    out = np.full((len(z) + 1, h), np.nan)
    s0 = np.arange(p, len(z) + 1)
    state = np.stack([z[s0 - j - 1] for j in range(p)], 1)  # (S, p), most recent first
    for k in range(h):
        nxt = c[0] + state @ c[1:]
        out[s0, k] = nxt
        state = np.hstack([nxt[:, None], state[:, :-1]])
    return out


def snaive_paths(z: np.ndarray, h: int, m: int) -> np.ndarray:
    """(n + 1, h): the last m values repeated (rows s < m: NaN)."""
    out = np.full((len(z) + 1, h), np.nan)
    s0 = np.arange(m, len(z) + 1)
    out[s0] = z[s0[:, None] - m + (np.arange(h)[None] % m)]
    return out


def ar_order(member: str) -> int | None:
    """"ar9" -> 9; other members -> None."""
    found = re.fullmatch(r"ar(\d+)", member)
    return int(found.group(1)) if found else None


def fit_backbone(z: np.ndarray, members: list[str], m: int) -> tuple[EtsState | None, dict[str, list[float]]]:
    """Fit the members that have parameters on the history z: (ETS state or None, {"ar<p>": coef})."""
    ets = fit_ets(z, m) if "ets" in members else None
    return ets, {k: fit_ar(z, p) for k in members if (p := ar_order(k)) is not None}


def backbone_paths(z: np.ndarray, members: list[str], ets: EtsState | None, ar: dict[str, list[float]],
                   offset: int, h: int, m: int) -> np.ndarray:
    """(n + 1, h): the mean of the members' paths over z (`offset`: see ets_paths)."""
    paths = [ets_paths(z, ets, offset, h, m) if k == "ets" else snaive_paths(z, h, m) if k == "snaive"
             else ar_paths(z, ar[k], h) for k in members]
    return np.mean(paths, axis=0)
