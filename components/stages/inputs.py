"""What identifies a training run's inputs, and whether the registry already holds a version made from them.

A pipeline's result is decided by the ingested data (its content hash, from ingest's manifest), the files the
stages read that no stage writes (`suites/`), every stage's params view (components/config/views.py: the
values the flow's cache and dvc.yaml key on) and every stage's code (the import closures of
components/core/codedeps.py). Their digest is known once ingest has run, before anything trains: the training
flow computes it there, skips training and registration when the model's latest version carries the same
digest (tag `keel.inputs_digest`, set by the register stage), and passes it to register otherwise.
"""

from __future__ import annotations

from pathlib import Path

from components.config import views
from components.config.params import Params
from components.core import codedeps
from components.core.io import sha256_json, sha256_paths
from components.lifecycle import registry
from components.stages.pipeline import STAGES
from components.stages.spec import Stage

RUNNER = "components.stages.spec"  # the glue every stage runs through (its code counts for each)


def stage_code(stage: Stage, root: Path | None = None) -> list[Path]:
    """The files a stage runs: its module's import closure and the runner's. `root`: the folder holding
    `components/` (default: where it was imported from)."""
    return list(codedeps.closure(stage.module, root) + codedeps.closure(RUNNER, root))


def external_inputs() -> list[Path]:
    """The files the stages read that no stage writes (e.g. `suites/`)."""
    written = {Path(i.default) for s in STAGES for i in s.paths("out")}
    return sorted({t for s in STAGES for i in s.paths("in") if Path(i.default) not in written for t in i.targets()})


def inputs_digest(params: Params, data_sha256: str, root: Path | None = None) -> str:
    """One sha256 over the ingested data's content hash, the stages' external inputs, every stage's params view
    and every stage's code: equal digests, a pipeline run on the same inputs."""
    code = sorted({f for s in STAGES for f in stage_code(s, root)})
    return sha256_json({"data": data_sha256, "files": sha256_paths(external_inputs()),
                        "params": {s.name: views.view(s.name, params) for s in STAGES},
                        "code": sha256_paths(code)})


def unchanged_since(model_name: str, digest: str) -> registry.VersionRef | None:
    """The model's latest version when it was registered from inputs with this digest, else None."""
    latest = registry.latest_version(model_name, required=False)
    return latest if latest is not None and latest.tags.get(registry.INPUTS_DIGEST) == digest else None
