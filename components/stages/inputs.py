"""What identifies a training run's inputs, and whether the registry already holds a version made from them.

A pipeline's result is decided by the ingested data (its content hash, from ingest's manifest), the files the
stages read that no stage writes (`suites/`), every stage's identity (components/stages/spec.py: its code's
import closure, its params view and its declared fingerprint, ingest's being the source files' content: the
same values the flow's cache keys on), the code of a plugin family (its package's files: the import closures
follow `components.*` only) and the installed versions of the libraries that compute (RUNTIME).

The digest is taken after validate (`DIGEST_AFTER`), not after ingest: under `validate.suite: inferred|both`
validate writes a missing `suites/<dataset>.json` first, so a digest taken before it would hash "no file" on the
first run and the written file on the next (a needless retrain, and fresh clones without the committed suite
would alternate). After validate it always hashes the suite validate actually used. A skip then saves features,
train, evaluate and register. The training flow asks `plan` what to run: a version made from the same inputs
that finished registering (tag `keel.registration_complete`, and holding `register.alias` when its bars passed)
means nothing; one that carries the digest but did not finish means register runs again to finish it (its
idempotency reuses the version).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from components.config.params import Params
from components.core import paths
from components.core.io import read_json, sha256_json, sha256_paths
from components.families import registry as families
from components.lifecycle import registry
from components.lifecycle.gate import REGISTRATION_BARS_TAG
from components.stages.pipeline import STAGES
from components.stages.spec import Stage, identity

RUNTIME = ("torch", "numpy", "scikit-learn", "pandas")  # their versions change what the same code computes
DIGEST_AFTER = "validate"  # the last stage before the digest (see the module docstring)
DIGEST_ARG = "inputs_digest"  # the `run` argument that receives it (register's)


def external_inputs() -> list[Path]:
    """The files the stages read that no stage writes (e.g. `suites/`)."""
    written = {Path(i.default) for s in STAGES for i in s.paths("out")}
    return sorted({t for s in STAGES for i in s.paths("in") if Path(i.default) not in written for t in i.targets()})


def family_code(name: str) -> list[Path]:
    """The Python files of the package declaring plugin family `name`; [] for a built-in (its code is in the
    stages' import closures)."""
    return list(families.plugin_sources(name).values())


def runtime_versions() -> dict[str, str | None]:
    """The installed versions of RUNTIME (None: not installed)."""
    def installed(dist: str) -> str | None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None
    return {d: installed(d) for d in RUNTIME}


def inputs_digest(params: Params, manifest: dict, root: Path | None = None) -> str:
    """One sha256 over the ingested data's and its source's content hashes (ingest's manifest: the source's is
    ingest's fingerprint, not hashed again), the stages' external inputs, every stage's identity, the plugin
    family's code and the runtime's versions: equal digests, a pipeline run on the same inputs."""
    return sha256_json({"data": manifest["sha256"], "source": manifest.get("source_sha256"),
                        "files": sha256_paths(external_inputs()),
                        "stages": {s.name: identity(s, params, root, fingerprint=False) for s in STAGES},
                        "family": sha256_paths(family_code(params.model)), "runtime": runtime_versions()})


def phases() -> tuple[list[Stage], list[Stage]]:
    """The stages to run before the digest is taken (through DIGEST_AFTER), and the rest."""
    cut = next(i for i, s in enumerate(STAGES) if s.name == DIGEST_AFTER) + 1
    return list(STAGES[:cut]), list(STAGES[cut:])


def finished(v: registry.VersionRef, alias: str) -> bool:
    """Whether `v`'s registration finished: complete, and holding `alias` when its bars passed (asked of the
    alias: a registry search leaves a version's aliases out)."""
    if v.tags.get(registry.COMPLETE_TAG) != "true":
        return False
    holder = registry.version_by_alias(v.name, alias) if v.tags.get(REGISTRATION_BARS_TAG) == "pass" else v
    return holder is not None and holder.version == v.version


def takes_digest(stage: Stage) -> bool:
    """Whether the stage records the digest (its `run` has DIGEST_ARG)."""
    import inspect

    return DIGEST_ARG in inspect.signature(stage.run).parameters


@dataclass(frozen=True)
class Plan:
    """What the rest of a training run does, once ingest and validate ran."""

    model_name: str
    digest: str
    previous: registry.VersionRef | None  # the finished version made from the same inputs: nothing to run
    unfinished: bool  # the latest version carries the digest but did not finish: register runs again
    force: bool

    def refresh(self, stage: Stage) -> bool:
        """Whether `stage` runs even when the flow's cache holds its result."""
        return (self.force and stage.tracked) or (self.unfinished and takes_digest(stage))

    def extra(self, stage: Stage) -> dict[str, str]:
        """The extra `run` arguments of `stage` (the digest, for the stage that records it)."""
        return {DIGEST_ARG: self.digest} if takes_digest(stage) else {}


def plan(params: Params, force: bool = False, raw_dir: Path = paths.RAW_DIR) -> Plan:
    """The digest of this run's inputs (ingest's manifest in `raw_dir`) and the model's latest version when it
    was made from them (`force`: never reported, the run trains anyway)."""
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    name = params.registered_name(manifest["dataset"])
    digest = inputs_digest(params, manifest)
    latest = registry.latest_version(name, required=False)
    same = latest is not None and latest.tags.get(registry.INPUTS_DIGEST) == digest
    done = same and finished(latest, params.registration.alias)
    return Plan(model_name=name, digest=digest, previous=latest if done and not force else None,
                unfinished=same and not done, force=force)
