"""A registered version's files, through the explicit MLflow client: download by URI (`models:/name/version`,
`models:/name@alias`, `runs:/...`), load its pyfunc or Keel checkpoint, attach files to a version and read them
back. The client and the outage guard that components/lifecycle/registry.py uses too live here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.core.errors import CheckpointError, RegistryError, TrackingUnavailableError
from components.lifecycle import outages
from components.lifecycle.tracking import tracking_uri


def mlflow_client():
    """A client on the tracking URI (components.lifecycle.tracking), after the outage fail-fast check."""
    from mlflow import MlflowClient

    outages.fail_fast()
    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def guarded(doing: str):
    """MLflow calls for `doing`: an unreachable store raises TrackingUnavailableError naming it."""
    return outages.guard(tracking_uri(), doing)


def _resolve(uri: str) -> str:
    """`models:/name/version` or `models:/name@alias` -> the version's storage URI, through the explicit
    client (MLflow's own models:/ resolution reads the process-wide registry URI, which Keel never sets)."""
    if not uri.startswith("models:/") or uri.startswith("models:/m-"):
        return uri
    ref = uri.removeprefix("models:/")
    name, sep, alias = ref.partition("@")
    client = mlflow_client()
    if sep:
        version = client.get_model_version_by_alias(name, alias).version
    else:
        name, _, version = ref.rpartition("/")
    return client.get_model_version_download_uri(name, str(version))


def _download(uri: str) -> Path:
    """An artifact (or a whole model) by URI into a fresh temporary folder, through the explicit store."""
    import tempfile

    import mlflow.artifacts

    store = tracking_uri()
    dst = tempfile.mkdtemp(prefix="keel-artifact-")
    with guarded(f"downloading {uri}"):
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=_resolve(uri), dst_path=dst,
                                                        tracking_uri=store, registry_uri=store))


def load_keel_checkpoint(name: str, version: str | int):
    """The Keel checkpoint inside a registered version, loaded through the registry (models:/name/version)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow.pyfunc.load_model(str(_download(f"models:/{name}/{version}")))
    except MlflowException as e:
        raise RegistryError(f"model {name!r} version {version}: cannot be loaded: {e}") from e
    except CheckpointError as e:
        raise corrupt(f"models:/{name}/{version}", e) from e
    inner = model.unwrap_python_model()
    if not hasattr(inner, "ckpt"):
        raise RegistryError(f"model {name!r} version {version}: not a Keel pyfunc (no checkpoint inside)")
    return inner.ckpt


def load_pyfunc(model_uri: str):
    """Load a pyfunc by URI (e.g. models:/digits-cnn@production) and resolve the version behind it."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(str(_download(model_uri)))
    except MlflowException as e:
        raise RegistryError(f"{model_uri}: cannot be loaded: {e}") from e
    except CheckpointError as e:
        raise corrupt(model_uri, e) from e


def corrupt(model_uri: str, e: CheckpointError) -> RegistryError:
    """A registered version whose checkpoint artifact does not load: which version, which file, what to do."""
    return RegistryError(f"{model_uri}: its checkpoint artifact is corrupt ({e}); register the model again from a "
                         "good checkpoint (`python -m components.stages register`) and move the alias to it")


def _logged_model(client, name: str, version: str | int) -> tuple[Any, str | None]:
    """A version and the id of its logged model (MLflow 3; None for a version logged under a run only)."""
    mv = client.get_model_version(name, str(version))
    model_id = getattr(mv, "model_id", None)
    if not model_id and (mv.source or "").startswith("models:/m-"):  # MLflow 3: the version's logged model
        model_id = mv.source.removeprefix("models:/").split("/")[0]
    return mv, model_id


def _artifact_base(client, mv, model_id: str | None) -> str:
    return client.get_logged_model(model_id).artifact_location if model_id else f"runs:/{mv.run_id}"


def log_version_artifacts(name: str, version: str | int, files: list[Path], artifact_path: str) -> str:
    """Attach files to the version's logged model (MLflow 3), else to its run; returns where they went."""
    client = mlflow_client()
    with guarded(f"attaching {artifact_path} to {name!r} version {version}"):
        mv, model_id = _logged_model(client, name, version)
        for f in files:
            if model_id:
                client.log_model_artifact(model_id, str(f), artifact_path)
            else:
                client.log_artifact(mv.run_id, str(f), artifact_path)
        base = _artifact_base(client, mv, model_id)
    return f"{base.rstrip('/')}/{artifact_path}"


def version_artifact(name: str, version: str | int, path: str) -> Path | None:
    """A file attached by `log_version_artifacts` (`path` inside the version's artifacts), downloaded; None
    when the version has no such file."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client()
    with guarded(f"reading {path} of {name!r} version {version}"):
        mv, model_id = _logged_model(client, name, version)
        base = _artifact_base(client, mv, model_id)
    try:
        found = _download(f"{base.rstrip('/')}/{path}")
    except (MlflowException, OSError):
        return None
    return found if found.is_file() else None


def download_artifact(uri: str) -> Path:
    """An artifact by URI (runs:/..., models:/...) in a fresh temporary folder."""
    return _download(uri)


def read_artifact_text(uri: str) -> str | None:
    """The text of one artifact by URI, or None when it is absent (an unreachable store raises)."""
    try:
        return _download(uri).read_text()
    except TrackingUnavailableError:
        raise
    except Exception:  # noqa: BLE001 - a missing artifact only leaves a gap in lineage output
        return None
