"""dvc.yaml's fingerprint check (components/stages/dvccheck.py) on edits of the committed file."""

import subprocess
import sys

import pytest
import yaml

from components.core.errors import PipelineDefinitionError
from components.stages import dvccheck
from tests.helpers import ROOT

TEXT = (ROOT / "dvc.yaml").read_text()


def edited(change) -> str:
    """The committed dvc.yaml with `change` applied to its stages (fingerprint lines kept as they are)."""
    doc = yaml.safe_load(TEXT)
    change(doc["stages"])
    marks = "".join(line + "\n" for line in TEXT.splitlines() if line.startswith("#"))
    return marks + yaml.safe_dump(doc, sort_keys=False)


def test_the_committed_file_passes():
    dvccheck.check(ROOT / "dvc.yaml")


@pytest.mark.parametrize("change, problem", [
    (lambda s: s["features"]["deps"].remove("data/params/features.json"), "stage 'features': `deps` differs"),
    (lambda s: s["evaluate"].pop("metrics"), "stage 'evaluate': `metrics` was removed"),
    (lambda s: s["ingest"].update(frozen=True), "stage 'ingest': `frozen` was added"),
    (lambda s: s.pop("register"), "stage 'register' is missing"),
    (lambda s: s["params"]["outs"].append("elsewhere"), "stage 'params': `outs` differs"),
])
def test_an_edit_of_a_generated_stage_is_named(tmp_path, change, problem):
    (tmp_path / "dvc.yaml").write_text(edited(change))
    with pytest.raises(PipelineDefinitionError) as e:
        dvccheck.check(tmp_path / "dvc.yaml")
    assert problem in str(e.value) and dvccheck.REGENERATE in str(e.value)


def test_a_stage_the_user_added_is_theirs():
    assert dvccheck.differences(edited(lambda s: s.update(mine={"cmd": "echo hi", "deps": ["x"]}))) == []
    assert dvccheck.differences("stages: {}\n") == ["no `# keel-stage` fingerprint lines (not written by the "
                                                   "generator)"]


def test_dvc_yaml_command_prints_help_and_refuses_unknown_arguments():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "components.stages", "dvc-yaml", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    for flag in ("--help", "-h"):
        shown = run(flag)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: python -m components.stages dvc-yaml")
        assert "stages:" not in shown.stdout
    bad = run("--bogus")
    assert bad.returncode == 2 and "--bogus" in bad.stderr and not bad.stdout
