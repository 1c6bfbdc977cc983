"""The gate's trust floors on real registry versions: a challenger that is significantly more accurate but
brittle under pixel noise is refused by `promote.robustness`, with that reason; the report shows the floors
and how the explanations' top features moved; the candidate's model card records the verdict. The same
versions carry their explanation (read back from the registry alone) and `keel explain` explains new rows."""

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.trust.explain import failed_checks
from flows.cli import app
from tests.lifecycle.pipeline import register_version
from tests.pipeline.dvc_helpers import use_store

pytestmark = pytest.mark.slow
runner = CliRunner()
# sigma = 1 train pixel std; one seed and no shift/rotation/CIs keep the test cheap (they are unit-tested)
NOISE = {"evaluate.robustness.image_noise": 1.0, "evaluate.robustness.seeds": 1, "evaluate.robustness.image_shift": 0,
         "evaluate.robustness.image_rotation": 0, "evaluate.ci_samples": 20, "register.explain.rows": 40}
# The champion: a row-wise GRU (rnn family, registered under the same name), less accurate but steadier
# under noise than the tiny CNN trained 4 epochs (the challenger): measured 0.83 vs 0.90 clean accuracy,
# 0.65 vs 0.51 accuracy with noise.
CHAMPION = NOISE | {"model": "rnn", "register.model_name": "digits-cnn", "train.rnn.hidden": 32, "train.rnn.lr": 0.003,
                    "register.rnn.min": {"accuracy": 0.5}}
FLOOR = {"promote.robustness": {"robust_accuracy_noise": 0.6}}


def test_a_more_accurate_but_brittle_challenger_is_refused_by_the_floor(project):
    client = use_store(project)
    champion = register_version(project, CHAMPION | FLOOR)
    assert champion.staged and champion.tags["family"] == "rnn"
    first = runner.invoke(app, ["promote", "digits-cnn"])
    assert first.exit_code == 0, first.output
    challenger = register_version(project, NOISE | FLOOR)  # the tiny CNN (tests.conftest.TINY)
    assert challenger.staged and challenger.version == "2"
    assert float(challenger.tags["metric.accuracy"]) > float(champion.tags["metric.accuracy"])

    refused = runner.invoke(app, ["promote", "digits-cnn"])
    assert refused.exit_code == 1
    report = json.loads((project / "reports/promote/digits-cnn-v2.json").read_text())
    assert report["delta"] > 0 and report["p_value"] < 0.05  # significantly more accurate ...
    assert len(report["reasons"]) == 1  # ... and refused for one reason only
    assert report["reasons"][0].startswith("brittle: robust_accuracy_noise ")
    assert report["robust"]["robust_accuracy_noise"] < 0.6 <= report["champion_robust"]["robust_accuracy_noise"]
    assert str(client.get_model_version_by_alias("digits-cnn", "production").version) == "1"
    md = (project / "reports/promote/digits-cnn-v2.md").read_text()
    assert "## Trust floors" in md and "## Top features (explanations on the same probe rows)" in md
    change = report["explanation_change"]
    assert change["same_probe"] and 0 <= change["overlap"] <= 10
    card = client.get_model_version("digits-cnn", "2").description
    assert card.startswith("# Model card: digits-cnn v2") and "Champion/challenger gate: **refuse** (brittle" in card

    # the same challenger without the floor would have been promoted
    without = runner.invoke(app, ["promote", "digits-cnn", "--params", str(_params(project, {}))])
    assert without.exit_code == 0, without.output
    assert str(client.get_model_version_by_alias("digits-cnn", "production").version) == "2"


def test_max_epsilon_refuses_a_version_trained_without_dp_or_spending_more(project):
    client = use_store(project)
    done = runner.invoke(app, ["promote", "digits-cnn", "--version", "1", "--params",
                               str(_params(project, {"promote.max_epsilon": 8.0}))])
    assert done.exit_code == 1
    report = json.loads((project / "reports/promote/digits-cnn-v1.json").read_text())
    assert "not trained with differential privacy; promote.max_epsilon 8.0 requires it" in report["reasons"]

    # a DP-SGD version (one epoch): registered with the privacy it spent as tags and in its model card
    private = register_version(project, NOISE | {"train.privacy.enabled": True, "train.privacy.target_epsilon": 4.0,
                                                 "train.epochs": 1, "register.cnn.min": {}})
    eps = float(private.tags["privacy.epsilon"])
    assert 0 < eps <= 4.0 and private.tags["privacy.accountant"] == "rdp" and int(private.tags["privacy.steps"]) > 0
    card = client.get_model_version("digits-cnn", private.version).description
    assert f"Trained with DP-SGD: epsilon {eps:.3g}" in card and "Membership inference" in card
    stricter = runner.invoke(app, ["promote", "digits-cnn", "--version", private.version, "--params",
                                   str(_params(project, {"promote.max_epsilon": 1.0}))])
    assert stricter.exit_code == 1
    report = json.loads((project / f"reports/promote/digits-cnn-v{private.version}.json").read_text())
    assert f"privacy: epsilon {eps:.4g} > promote.max_epsilon 1.0" in report["reasons"]
    assert report["epsilon"] == pytest.approx(eps)


def _params(project, overrides):
    """The project's params.yaml without the robustness floor, plus `overrides`."""
    from tests.conftest import TINY
    from tests.helpers import write_params

    return write_params(project / "params-nofloor.yaml", TINY | NOISE | overrides)


def test_each_version_carries_its_explanation_on_the_same_probe_rows(project):
    """Read back from the registry alone: explanation.json passes both sanity checks (randomisation: low rank
    correlation on the informative pixels and for Saliency; deletion: top-k hurts more than random-k)."""
    client = use_store(project)
    reports = []
    for v in ("1", "2"):
        tags = client.get_model_version("digits-cnn", v).tags
        local = Path(mlflow.artifacts.download_artifacts(tags["explain.report"], dst_path=str(project / f"ex{v}")))
        report = json.loads((local / "explanation.json").read_text())
        assert {f for f in report["figures"]} <= {p.name for p in local.iterdir()}
        assert tags["explain.probe_sha256"] == report["probe"]["sha256"] and report["probe"]["n_rows"] == 40
        assert report["completeness"]["relative_error"] <= 0.01
        reports.append(report)
    cnn = reports[1]  # v2: the tiny CNN
    assert sum(f.startswith("class_") and f.endswith(".png") for f in cnn["figures"]) >= 8
    rand = cnn["sanity"]["randomisation"]
    assert rand["passes"] and all(rand["checks"][c]["spearman_abs_mean"] < 0.5 for c in rand["verdict_on"])
    deletion = cnn["sanity"]["deletion"].values()
    assert all(d["passes"] and d["mean_drop_topk"] > d["mean_drop_random_k"] for d in deletion)
    assert reports[0]["probe"]["sha256"] == cnn["probe"]["sha256"]  # rnn and cnn explained on the same rows
    card = client.get_model_version("digits-cnn", "2").description
    assert "## Explanations" in card and "&path=explanation/class_0.png)" in card  # a heatmap, served by MLflow
    assert client.get_registered_model("digits-cnn").description.startswith("**digits-cnn**: Classifies")


def test_keel_explain_writes_heatmaps_for_given_rows(project):
    test = pd.read_parquet(project / "data/features/test.parquet")
    rows = test[[c for c in test.columns if c.startswith("px_")]].head(12)  # raw rows, no label
    rows.to_csv(project / "rows.csv", index=False)
    done = runner.invoke(app, ["explain", "digits-cnn", "rows.csv", "--version", "2", "--out", "explained"])
    assert done.exit_code == 0, done.output
    report = json.loads((project / "explained/explanation.json").read_text())
    assert report["probe"] == {"source": "rows.csv", "n_rows": 12, "sha256": report["probe"]["sha256"]}
    pngs = [f for f in report["figures"] if f.startswith("class_")]
    assert pngs and all((project / "explained" / f).stat().st_size > 1000 for f in pngs)
    assert report["accuracy_on_probe"] is None  # no labels given
    warned = [line.removeprefix("warning: ") for line in done.output.splitlines() if line.startswith("warning: ")]
    assert warned == failed_checks(report)  # each failed sanity check is said, exit 0 all the same

    bad = rows.astype(object)
    bad.loc[3, "px_10"], bad.loc[5, "px_20"] = "abc", None  # a wrong type, a missing value
    bad.to_csv(project / "bad.csv", index=False)
    refused = runner.invoke(app, ["explain", "digits-cnn", "bad.csv", "--version", "2", "--out", "bad-explained"])
    assert refused.exit_code == 1 and "bad.csv rows 0..11" in refused.output, refused.output  # keel predict's checks
    assert not (project / "bad-explained").exists()  # nothing written
