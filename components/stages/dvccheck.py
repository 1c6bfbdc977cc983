"""dvc.yaml's generated stages are Keel's: a hand edit is refused before the pipeline runs.

`python -m components.stages dvc-yaml` writes, under the stages, one fingerprint line per generated stage
(`# keel-stage <name>: <field>=<digest> ...`, a digest of each field's value). `check` re-digests the stages
as the file has them: a generated stage whose cmd, deps, outs (any field) differ, or that is gone, fails
naming the stage, the field and the command that regenerates the file. Stages a user added (other names)
are theirs. It reads one YAML file and imports no stage (~10 ms of CPU), so every stage command checks first
(components/stages/__main__.py): `dvc repro` re-runs the stage an edit touches (and, on a fresh checkout,
`params` first), and it stops there (`keel train` does not: the flow never reads dvc.yaml). DVC refuses
dvc.yaml as a dependency, so a
stage whose cmd was replaced by a non-Keel command is not caught until a Keel stage runs. That the
fingerprints are the declarations' is the test suite's check (tests/test_params_consistency.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from components.core import paths
from components.core.errors import PipelineDefinitionError

MARK = "# keel-stage "
REGENERATE = "python -m components.stages dvc-yaml > dvc.yaml"


def digest(value: Any) -> str:
    """A short digest of one field's value (12 hex digits of the sha256 of its sorted-keys JSON)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def fingerprints(stages: dict[str, dict[str, Any]]) -> str:
    """The fingerprint lines of the generated stages."""
    head = "# Fingerprints of the generated stages: the pipeline refuses to run a hand-edited one.\n"
    return head + "".join(f"{MARK}{name}: " + " ".join(f"{k}={digest(v)}" for k, v in entry.items()) + "\n"
                          for name, entry in stages.items())


def differences(text: str) -> list[str]:
    """What differs between dvc.yaml's generated stages and their fingerprints (empty: nothing)."""
    recorded = {}
    for line in text.splitlines():
        if line.startswith(MARK):
            name, _, fields = line.removeprefix(MARK).partition(": ")
            recorded[name] = dict(f.split("=", 1) for f in fields.split())
    if not recorded:
        return ["no `# keel-stage` fingerprint lines (not written by the generator)"]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stages = (yaml.load(text, Loader=loader) or {}).get("stages") or {}
    found = []
    for name, fields in recorded.items():
        entry = stages.get(name)
        if not isinstance(entry, dict):
            found.append(f"stage {name!r} is missing")
            continue
        for field in [*fields, *(f for f in entry if f not in fields)]:
            if field not in entry:
                found.append(f"stage {name!r}: `{field}` was removed")
            elif field not in fields:
                found.append(f"stage {name!r}: `{field}` was added")
            elif digest(entry[field]) != fields[field]:
                found.append(f"stage {name!r}: `{field}` differs from Keel's declaration")
    return found


def check(path: Path = paths.DVC_YAML) -> None:
    """Raise PipelineDefinitionError naming every hand edit of a generated stage in `path`."""
    found = differences(Path(path).read_text())
    if found:
        raise PipelineDefinitionError(
            f"{path}: {'; '.join(found)}. Generated stages are Keel's (components/stages/): change the stage's "
            f"declaration or add a stage under another name, then regenerate: `{REGENERATE}`")
