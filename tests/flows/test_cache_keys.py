"""The flow's cache key covers each stage's whole import closure: editing the training loop (deep in train's
imports, not named by the stage) makes train miss its cache, and leaves the data stages' keys alone."""

import shutil

from components.stages.pipeline import BY_NAME
from flows.tasks import cache_key, stage_paths
from tests.helpers import ROOT, params_with


def test_editing_the_loop_changes_trains_key_only(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "components", tmp_path / "components", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)  # input paths are relative; absent inputs hash as nothing
    params = params_with()
    keys = lambda: {s: cache_key(BY_NAME[s], params, stage_paths(BY_NAME[s]), tmp_path)  # noqa: E731
                    for s in ("ingest", "validate", "features", "train")}
    before = keys()
    loop = tmp_path / "components/training/loop.py"
    loop.write_text(loop.read_text() + "\n# a comment changes nothing but the code's hash\n")
    after = keys()
    assert after["train"] != before["train"]
    assert {s: after[s] for s in ("ingest", "validate", "features")} == {
        s: before[s] for s in ("ingest", "validate", "features")}
    assert cache_key(BY_NAME["train"], params_with({"train.lr": 0.01}), stage_paths(BY_NAME["train"]),
                     tmp_path) != after["train"]
