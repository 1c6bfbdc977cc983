"""Which run made a stage's outputs in this workspace: the training flow trusts its cache only for outputs that
are still the ones the cached run wrote.

Prefect's cache maps a stage's key (code, params view, inputs) to the result it returned, not to files. The files
are the workspace's, and any later run may have replaced them: `keel train -S model=rnn` after a cnn run leaves
the rnn checkpoint in `models/train` while the cnn key is still cached, and a failed gate leaves its failed
summary. So after a stage runs the flow records, per stage, the key and a stamp of its outputs (each file's path,
size and modification time: cheap at any data size), and before using the cache it asks `made_by`: a different
key or a different stamp (another run, `dvc repro`, a hand edit, a deleted file) means run the stage again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.core import paths
from components.core.io import atomic_path, files_under, sha256_json


def stamp(targets: list[Path]) -> str:
    """A digest of every file under `targets` by path, size and mtime (a missing target counts too)."""
    found: list[list] = []
    for target in targets:
        if not target.exists():
            found.append([str(target), None])
            continue
        for f in files_under(target):
            st = os.stat(f)
            found.append([str(f), st.st_size, st.st_mtime_ns])
    return sha256_json(found)


def _record_file(stage: str, state_dir: Path) -> Path:
    return Path(state_dir) / f"{stage}.json"


def record(stage: str, key: str, targets: list[Path], state_dir: Path = paths.FLOW_OUTPUTS_DIR) -> None:
    """Say that the run with `key` made the outputs now at `targets`."""
    with atomic_path(_record_file(stage, state_dir)) as tmp:
        Path(tmp).write_text(json.dumps({"key": key, "stamp": stamp(targets)}))


def made_by(stage: str, key: str, targets: list[Path], state_dir: Path = paths.FLOW_OUTPUTS_DIR) -> bool:
    """True when the outputs at `targets` are the ones the run with `key` recorded (unchanged since)."""
    try:
        seen = json.loads(_record_file(stage, state_dir).read_text())
    except (OSError, ValueError):
        return False
    return seen.get("key") == key and seen.get("stamp") == stamp(targets)
