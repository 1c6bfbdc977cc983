"""dvc.yaml, params.yaml and the stages agree: dvc.yaml is what the stage declarations generate, the params
stage tracks every section a stage reads, and every resolved setting that changes a result is in some
stage's view (so DVC and the flow's cache re-run when it changes)."""

import pytest
import yaml

from components.config import views
from components.config.params import load_params
from components.families.registry import names, plugin_digest
from components.lifecycle.tracking import flatten
from components.stages.dvcyaml import dvc_yaml, render
from components.stages.pipeline import STAGES
from tests.helpers import ROOT

# read after the pipeline: by registry operations (keel promote) and by monitoring (keel monitor, the log)
NOT_PIPELINE_SECTIONS = ("promote.", "monitor.")


def test_committed_dvc_yaml_is_the_generated_one():
    assert (ROOT / "dvc.yaml").read_text() == render(), "run `python -m components.stages dvc-yaml > dvc.yaml`"


def test_every_stage_depends_on_its_view_and_the_params_stage_on_every_section():
    stages = dvc_yaml()["stages"]
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(stages["params"]["params"]) == set(raw) - {"promote", "monitor"}
    for s in STAGES:
        assert f"data/params/{s.name}.json" in stages[s.name]["deps"]
        assert f"components/stages/{s.name}.py" in stages[s.name]["deps"]


@pytest.mark.parametrize("family", names())
def test_every_result_affecting_setting_is_in_a_stage_view(family):
    p = load_params(ROOT / "params.yaml", {"model": family})
    resolved = flatten(p.to_dict())
    seen = {}
    for stage in views.VIEWS:
        for k, v in flatten(views.view(stage, p)).items():
            seen[k] = v
    # a view names the section by its key (cfg) or by name; compare the values each setting resolves to
    seen_values = {(k.split(".", 1)[-1], repr(v)) for k, v in seen.items()}
    skipped = {f"train.{k}" for k in views.NOT_RESULTS["train"]}
    missing = [k for k, v in resolved.items() if k not in skipped and not k.startswith(NOT_PIPELINE_SECTIONS)
               and k != "model" and (k.split(".", 1)[-1].removeprefix(f"{family}."), repr(v)) not in seen_values]
    assert missing == []


def test_a_plugin_family_kept_in_the_repo_is_seen_by_dvc_and_its_code_is_in_its_views():
    """examples/keel-wine is a dep of the `params` stage, and a plugin family's views hold its source digest, so
    an edit to its defaults or code re-writes the views and re-runs the stages; a built-in's views do not."""
    assert "examples/keel-wine/keel_wine" in dvc_yaml()["stages"]["params"]["deps"]
    wine = load_params(ROOT / "params.yaml", {"model": "mlp"})
    digest = plugin_digest("mlp")
    assert digest and all(views.view(s, wine)["family_code"] == digest for s in views.VIEWS)
    cnn = load_params(ROOT / "params.yaml", {"model": "cnn"})
    assert not any("family_code" in views.view(s, cnn) for s in views.VIEWS)
