"""A hand-edited generated stage in dvc.yaml stops `dvc repro` at its first stage (params), naming the stage,
the field and the command that regenerates the file; a stage the user added is left alone."""

import yaml

from components.stages.dvccheck import REGENERATE
from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import dvc


def test_repro_refuses_a_hand_edited_stage_before_running_anything(tmp_path):
    repo = make_repo_copy(tmp_path)
    text = (repo / "dvc.yaml").read_text()
    doc = yaml.safe_load(text)
    doc["stages"]["train"]["cmd"] += " --epochs 1"  # a user's hand edit of a generated stage
    doc["stages"]["my-report"] = {"cmd": "python -c \"print('mine')\"", "deps": ["data/params/train.json"]}
    marks = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    (repo / "dvc.yaml").write_text(marks + yaml.safe_dump(doc, sort_keys=False))
    run = dvc(repo, "repro")
    assert run.returncode != 0
    err = run.stdout + run.stderr
    assert "stage 'train': `cmd` differs from Keel's declaration" in err and REGENERATE in err, err[-2000:]
    assert "my-report" not in err  # a user's own stage is not a difference
    assert not (repo / "data/params/train.json").exists() and not (repo / "data/raw").exists()  # nothing ran
