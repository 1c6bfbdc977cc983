"""The MLflow model-registry adapter: log the pyfunc, register versions with tags, move aliases (a version's files:
components/lifecycle/registry_files.py).

Stages (`Staging`/`Production`) are deprecated in MLflow; Keel uses aliases (`staging`, `production`).
Every call uses an explicit client on the tracking URI (components.lifecycle.tracking); nothing here sets
MLflow's process-wide URI. `log_pyfunc` and `register_version` run inside the run that tracking started.
Every call tells "not found" (an answer: None, or a RegistryError saying what is missing) from "the store did
not answer" (TrackingUnavailableError naming the URI, components/lifecycle/outages.py): an unreachable
registry is never mistaken for a model without versions or aliases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from components.core.errors import RegistryError
from components.inference.checkpoint import load_checkpoint
from components.lifecycle import outages
from components.lifecycle.pyfunc import DESCRIPTOR, ENTRY_FILE, signature_for

# a version's files live in registry_files; re-exported here, where the callers look for them
from components.lifecycle.registry_files import (  # noqa: F401
    download_artifact,
    guarded,
    load_keel_checkpoint,
    load_pyfunc,
    log_version_artifacts,
    mlflow_client,
    read_artifact_text,
    version_artifact,
)


class VersionRef(BaseModel):
    """A registered model version."""

    name: str
    version: str
    model_uri: str
    run_id: str | None
    aliases: list[str] = []
    tags: dict[str, str] = {}


def log_pyfunc(checkpoint: Path, example: pd.DataFrame, checks: dict[str, Any] | None = None,
               onnx: tuple[Path, dict[str, Any]] | None = None) -> str:
    """Log the raw-input pyfunc for `checkpoint` under the active run, with the Keel code it runs packaged and
    its requirements pinned (components/lifecycle/packaging.py); returns its model URI. `checks`: the input
    checks recorded in keel.json (keel serve and keel predict run them). `onnx`: the network's ONNX file and
    its check against PyTorch (artifact `onnx`, keel.json's `onnx`); onnxruntime stays out of the requirements."""
    import tempfile

    import mlflow.pyfunc

    from components.core.io import write_json
    from components.lifecycle import packaging

    ckpt = load_checkpoint(checkpoint)
    with tempfile.TemporaryDirectory(prefix="keel-model-") as tmp:
        code = packaging.bundle(ckpt.family, Path(tmp) / "code")
        info = packaging.describe(ckpt.family, code, checks) | ({"onnx": onnx[1]} if onnx else {})
        artifacts = {"checkpoint": str(checkpoint), "keel": str(write_json(Path(tmp) / DESCRIPTOR, info))}
        artifacts |= {"onnx": str(onnx[0])} if onnx else {}
        with guarded(f"logging the model from {checkpoint}"):  # a full artifact store: StorageFullError
            logged = mlflow.pyfunc.log_model(
                name="model", python_model=str(ENTRY_FILE), artifacts=artifacts, code_paths=code.code_paths,
                signature=signature_for(ckpt, example), input_example=example,
                pip_requirements=code.requirements,  # inference of requirements costs ~12 s; we know them
            )
    return logged.model_uri


def register_version(model_uri: str, name: str, tags: dict[str, Any]) -> VersionRef:
    """Create a new version of `name` from `model_uri`, with its tags set in the same call."""
    import mlflow

    with guarded(f"registering a version of {name!r}"):
        mv = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in tags.items()})
    return get_version(name, mv.version)


REGISTRATION_KEY = "keel.registration_key"
INPUTS_DIGEST = "keel.inputs_digest"  # the digest of a version's inputs (components/stages/inputs.py)
COMPLETE_TAG = "keel.registration_complete"  # set last, once the version's files are attached (stages/register.py)


def find_registered(name: str, run_id: str, key: str) -> VersionRef | None:
    """The version of `name` that a registration with `key` (run + params + checkpoint) already created, so a
    retried or re-run register reuses it instead of adding another; None when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        with guarded(f"looking for {name!r} versions of run {run_id}"):
            found = mlflow_client().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException as e:
        if outages.not_found(e):
            return None
        raise RegistryError(f"model {name!r}: the registry refused the search for run {run_id}: {e}") from e
    mine = sorted((mv for mv in found if (mv.tags or {}).get(REGISTRATION_KEY) == key), key=lambda mv: int(mv.version))
    return _ref(mine[0]) if mine else None


def get_version(name: str, version: str | int) -> VersionRef:
    """Look up one version."""
    from mlflow.exceptions import MlflowException

    try:
        with guarded(f"reading {name!r} version {version}"):
            mv = mlflow_client().get_model_version(name, str(version))
    except MlflowException as e:
        if outages.not_found(e):
            raise RegistryError(f"model {name!r} version {version}: not found in the registry") from e
        raise RegistryError(f"model {name!r} version {version}: the registry refused the lookup: {e}") from e
    return _ref(mv)


def version_by_alias(name: str, alias: str) -> VersionRef | None:
    """The version holding `alias`, or None when no version does (an unreachable registry raises)."""
    from mlflow.exceptions import MlflowException

    try:
        with guarded(f"looking up {name}@{alias}"):
            return _ref(mlflow_client().get_model_version_by_alias(name, alias))
    except MlflowException as e:
        if outages.not_found(e):
            return None
        raise RegistryError(f"model {name!r} @{alias}: the registry refused the lookup: {e}") from e


def latest_version(name: str, required: bool = True) -> VersionRef | None:
    """The highest version of a registered model; none registered: a RegistryError naming the model (None when
    not `required`)."""
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow_client().search_model_versions(f"name = '{name}'")
    except MlflowException as e:
        raise RegistryError(f"model {name!r}: cannot search the registry: {e}") from e
    if not found:
        if not required:
            return None
        raise RegistryError(f"model {name!r}: not in the registry")
    return _ref(max(found, key=lambda mv: int(mv.version)))


def require_alias(name: str, alias: str, hint: str | None = None) -> VersionRef:
    """The version holding `alias`, or a RegistryError that says so and what to do."""
    ref = version_by_alias(name, alias)
    if ref is None:
        latest_version(name)  # a model that is not registered at all is named as such
        raise RegistryError(f"model {name!r}: no version holds @{alias} ({hint or _alias_hint(name, alias)})")
    return ref


def _alias_hint(name: str, alias: str) -> str:
    """What to do about a missing alias: @production moves through `keel promote`; another is a choice among
    the aliases the model has."""
    if alias == "production":
        return f"run `keel promote {name}`"
    with guarded(f"reading the aliases of {name!r}"):
        held = dict(mlflow_client().get_registered_model(name).aliases or {})
    named = ", ".join(f"@{a} (v{v})" for a, v in sorted(held.items()))
    return f"its aliases: {named}" if named else "it has no aliases"


def set_alias(name: str, alias: str, version: str | int) -> None:
    """Point `alias` at `version` (MLflow moves it off any other version)."""
    with guarded(f"setting {name}@{alias} to v{version}"):
        mlflow_client().set_registered_model_alias(name, alias, str(version))


def run_metrics(run_id: str) -> dict[str, float]:
    """A run's metrics (their latest values); {} for a run the store does not hold."""
    from mlflow.exceptions import MlflowException

    try:
        with guarded(f"reading the metrics of run {run_id}"):
            return dict(mlflow_client().get_run(run_id).data.metrics)
    except MlflowException as e:
        if outages.not_found(e):
            return {}
        raise RegistryError(f"run {run_id}: the tracking store refused to read it: {e}") from e


def set_version_tags(name: str, version: str | int, tags: dict[str, Any]) -> None:
    """Add or overwrite tags on a version."""
    client = mlflow_client()
    with guarded(f"tagging {name!r} version {version}"):
        for k, v in tags.items():
            client.set_model_version_tag(name, str(version), k, str(v))


def set_descriptions(name: str, version: str | int | None, version_text: str | None,
                     model_text: str | None = None) -> None:
    """Set the version's description (Markdown, shown on its page in the MLflow UI) and/or the registered model's."""
    client = mlflow_client()
    if version is not None and version_text is not None:
        client.update_model_version(name, str(version), description=version_text)
    if model_text is not None:
        client.update_registered_model(name, description=model_text)


def _ref(mv) -> VersionRef:
    return VersionRef(name=mv.name, version=str(mv.version), model_uri=f"models:/{mv.name}/{mv.version}",
                      run_id=mv.run_id, aliases=list(mv.aliases or []), tags=dict(mv.tags or {}))


def delete_alias(name: str, alias: str) -> None:
    """Remove `alias` from whichever version holds it."""
    with guarded(f"removing {name}@{alias}"):
        mlflow_client().delete_registered_model_alias(name, alias)


