"""`dvc exp run -S model=forecasting` in a fresh git copy, tiny (30 full-batch epochs, 2 members, 2 rolling
origins): the hybrid is refitted per origin next to seasonal naive, ETS and SARIMA fitted in the same run,
registers co2-forecasting@staging and forecasts quantiles from a raw history. The full-size bars (co2 below
ETS and SARIMA; sunspots against AR(9) and Holt-Winters, on the mean over origins, and issue 15's sunspots
bar, not met, as a strict xfail) carry the `quality` marker."""

import json

import numpy as np
import pandas as pd
import pytest

from components.data.sources import BUNDLED
from tests.helpers import make_repo_copy
from tests.lifecycle.serving import call, serving
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store

pytestmark = pytest.mark.slow
TINY = ("train.forecasting.epochs=30", "train.forecasting.patience=30", "train.forecasting.members=2",
        "evaluate.forecasting.backtest.origins=2",
        "register.forecasting.max={mase: 1.0, mase_vs_best_baseline: 2.0}")  # the bar itself: quality tests


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-forecasting"))
    return repo, exp_run_family(repo, "forecasting", *TINY)


def test_rolling_origins_with_the_baselines_in_the_same_run(run):
    repo, m = run
    assert m["n_origins"] == 2 and {"coverage80", "pinball", "mase_o1", "ets_pinball", "arima_coverage80"} <= set(m)
    # origin 2 is the baselines' holdout (baselines.md section 7), reproduced in this run
    assert m["snaive_mase_o2"] == pytest.approx(1.4496, abs=1e-3)
    assert m["ets_mase_o2"] == pytest.approx(0.1815, abs=2e-3)
    assert m["arima_mase_o2"] == pytest.approx(0.2733, abs=2e-3)
    assert m["mase"] == pytest.approx((m["mase_o1"] + m["mase_o2"]) / 2)
    assert m["mase_vs_best_baseline"] == pytest.approx(m["mase"] / min(m["snaive_mase"], m["ets_mase"],
                                                                       m["arima_mase"]))
    assert m["mase_o2"] == pytest.approx(m["holdout_mase"])  # the last origin is the trained model itself
    assert m["mase"] < m["snaive_mase"] and 0.0 <= m["coverage80"] <= 1.0
    details = json.loads((repo / "reports/details.json").read_text())["backtest"]
    assert details["origins"] == ["1998-01-01", "2000-01-01"]
    assert sorted(details["methods"]) == ["arima", "ets", "model", "snaive"]
    for name in ("backtest.png", "backtest.csv", "forecast.png", "forecast.csv"):
        assert (repo / "reports/plots" / name).is_file()


def test_staged_and_forecasts_quantiles_from_a_raw_weekly_history(run):
    import mlflow.pyfunc

    repo, metrics = run
    mv = client(repo).get_model_version_by_alias("co2-forecasting", "staging")
    assert float(mv.tags["metric.mase"]) == pytest.approx(metrics["mase"], rel=1e-4)
    use_store(repo)
    model = mlflow.pyfunc.load_model("models:/co2-forecasting@staging")
    co2 = BUNDLED["statsmodels:co2"]()
    history = co2[co2["timestamp"] < pd.Timestamp("2000-01-01")]  # raw weekly rows, NaN gaps included
    out = model.predict(history)
    assert list(out.columns) == ["step", "forecast", "q10", "q90"] and out["step"].tolist() == list(range(1, 25))
    assert (out["q10"] <= out["forecast"]).all() and (out["forecast"] <= out["q90"]).all()
    # the served forecast is the evaluated one: same history, same model
    holdout = json.loads((repo / "reports/details.json").read_text())["holdout"]["quantiles"]
    assert np.allclose(out[["q10", "forecast", "q90"]].to_numpy().T, holdout, atol=1e-6)
    monthly = co2.set_index("timestamp")["value"].resample("MS").mean().interpolate()
    assert np.abs(out["forecast"].to_numpy() - monthly["2000-01-01":].to_numpy()).mean() < 1.0  # snaive: 1.9 ppm


def test_keel_serve_forecasts_from_a_raw_history_and_checks_it(run):
    import mlflow.pyfunc

    repo, _ = run
    use_store(repo)
    co2 = BUNDLED["statsmodels:co2"]()
    history = co2[co2["timestamp"] < pd.Timestamp("2000-01-01")]
    expected = mlflow.pyfunc.load_model("models:/co2-forecasting@staging").predict(history)
    records = [{"timestamp": t.isoformat(), "value": None if np.isnan(v) else v}
               for t, v in zip(history["timestamp"], history["value"], strict=True)]
    with serving(repo, "co2-forecasting", "staging", repo / "params.yaml") as url:
        status, out = call(f"{url}/invocations", {"dataframe_records": records})
        assert status == 200, out
        assert np.allclose([p["forecast"] for p in out["predictions"]], expected["forecast"], atol=1e-6)
        swapped = records[:100] + [records[101], records[100]] + records[102:]
        later = [r | {"timestamp": (pd.Timestamp(r["timestamp"]) + pd.DateOffset(years=10)).isoformat()}
                 for r in records[-300:]]  # begins after the training history: the ETS states do not reach it
        for body, message in [({"dataframe_records": records[:50] + [records[50] | {"timestamp": "soon"}]},
                               "column timestamp: not an ISO 8601 date/time"),
                              ({"dataframe_records": swapped}, "expect_column_values_to_be_increasing"),
                              ({"dataframe_records": later}, "after the training history")]:
            status, out = call(f"{url}/invocations", body)
            assert status == 422 and message in out["message"], (out, message)


def test_first_production_version_through_the_gate(run):
    promote(run[0], "co2-forecasting")


@pytest.mark.quality
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_co2_full_size_beats_ets_and_sarima_on_the_mean_over_origins(tmp_path_factory, seed):
    """Issue 15's bar with the family's defaults: 5 origins (1992-2001), ETS and SARIMA fitted in the same run;
    the register bar (mase_vs_best_baseline <= 1) staged the model."""
    repo = make_repo_copy(tmp_path_factory.mktemp(f"keel-forecasting-{seed}"))
    m = exp_run_family(repo, "forecasting", f"train.seed={seed}")
    assert m["mase"] < min(m["ets_mase"], m["arima_mase"]), {k: m[k] for k in ("mase", "ets_mase", "arima_mase")}
    assert m["mase_vs_best_baseline"] < 0.9 and 0.7 <= m["coverage80"] <= 0.95 and m["pinball"] < m["arima_pinball"]
    assert client(repo).get_model_version_by_alias("co2-forecasting", "staging")


@pytest.fixture(scope="module")
def sunspots(tmp_path_factory):
    """The family's defaults, seed by seed (the config is deterministic: a zero-initialised linear correction,
    full batch, no dropout; the seeds are run to show it)."""
    runs: dict[int, dict] = {}

    def get(seed: int) -> dict:
        if seed not in runs:
            repo = make_repo_copy(tmp_path_factory.mktemp(f"keel-sunspots-{seed}"))
            runs[seed] = exp_run_family(repo, "sunspots_forecasting", f"train.seed={seed}")
        return runs[seed]
    return get


@pytest.mark.quality
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sunspots_full_size_ties_ar9_beats_holt_winters_with_calibrated_intervals(sunspots, seed):
    """Sunspots over 3 origins (1943-2008), the dev-chosen config: the baselines reproduce the team's reference
    figures; the mean MASE is within 2 % of AR(9) (a tie: 1.343 vs 1.341), 10 % below Holt-Winters and
    seasonal naive; the learned intervals cover at least 60 % (the input-driven widths gave 0.53) with a pinball
    loss no worse than AR(9)'s Gaussian interval (0.455 vs 0.457)."""
    m = sunspots(seed)
    assert m["ar9_mase"] == pytest.approx(1.3412, abs=2e-3) and m["hw_mase"] == pytest.approx(1.785, abs=2e-3)
    assert abs(m["mase"] / m["ar9_mase"] - 1) < 0.02 and m["mase"] < 0.9 * min(m["hw_mase"], m["snaive_mase"])
    assert m["coverage80"] >= 0.6 and m["pinball"] <= 1.005 * m["ar9_pinball"], {
        k: m[k] for k in ("coverage80", "pinball", "ar9_coverage80", "ar9_pinball")}


@pytest.mark.quality
@pytest.mark.xfail(strict=True, reason="issue 15's sunspots bar is not met: a tie with AR(9) (docs/families.md)")
def test_sunspots_clearly_beats_ar9_issue_15_bar(sunspots):
    """The bar as issue 15 states it: mean MASE at least 5 % below AR(9)'s and lower on 2 of the 3 origins.
    Strict: the day a model meets it this test fails until the marker is removed."""
    m = sunspots(0)
    wins = sum(m[f"mase_o{i}"] < m[f"ar9_mase_o{i}"] for i in (1, 2, 3))
    assert m["mase"] <= 0.95 * m["ar9_mase"] and wins >= 2
