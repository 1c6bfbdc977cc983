"""The gate's trust floors on real registry versions: a challenger that is significantly more accurate but
brittle under pixel noise is refused by `promote.robustness`, with that reason; the report shows the floors
and how the explanations' top features moved; the candidate's model card records the verdict."""

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.lifecycle.pipeline import register_version
from tests.pipeline.dvc_helpers import use_store

pytestmark = pytest.mark.slow
runner = CliRunner()
NOISE = {"evaluate.robustness.image_noise": 1.0}  # sigma = 1 train pixel std
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


def test_max_epsilon_refuses_a_version_trained_without_dp(project):
    use_store(project)
    done = runner.invoke(app, ["promote", "digits-cnn", "--version", "1", "--params",
                               str(_params(project, {"promote.max_epsilon": 8.0}))])
    assert done.exit_code == 1
    report = json.loads((project / "reports/promote/digits-cnn-v1.json").read_text())
    assert "not trained with differential privacy; promote.max_epsilon 8.0 requires it" in report["reasons"]


def _params(project, overrides):
    """The project's params.yaml without the robustness floor, plus `overrides`."""
    from tests.conftest import TINY
    from tests.helpers import write_params

    return write_params(project / "params-nofloor.yaml", TINY | NOISE | overrides)
