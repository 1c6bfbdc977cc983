"""A registered version loaded for scoring: the alias resolved to one version, its pyfunc, checkpoint and
input schema, the checks its inputs must pass (the same for `keel predict` and `keel serve`) and the backend
its pyfunc chose (`backend`: onnxruntime for a version with an ONNX file where onnxruntime runs, else torch;
logged at load, and reported in keel predict's metadata and keel serve's responses).

The checks are the family's GX suite built from the validation settings recorded in the model at register
time (keel.json), so a version is checked as it was validated wherever it is served; a version registered
before Keel recorded them is checked with `params.yaml`'s settings for its family. The params file is read
once, at load, for all a scorer takes from it (those settings, `monitor.log`: `Loaded.log`); a file that does
not load fails only where a value of it is needed (a version that records its checks explains without it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config.monitor import InferenceLogConfig
from components.config.params import Params, load_params
from components.config.sections import ValidateConfig, section_schema
from components.core.errors import ParamsError
from components.families.registry import get
from components.lifecycle import registry

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """One version, ready to score."""

    name: str
    alias: str
    ref: registry.VersionRef
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel
    model: Any  # its KeelPyfunc: .ckpt, .info
    schema: list[tuple[str, str]]  # (column, MLflow type: double | string | datetime), in the model's order
    validation: ValidateConfig
    manifest: dict[str, Any]  # what the suite builder needs: data kind, image shape
    inference_log: InferenceLogConfig | ParamsError  # `monitor.log` for its family, or why the file gave none

    @property
    def log(self) -> InferenceLogConfig:
        """`monitor.log` for its family (the params file read once, at load); its error is raised here."""
        if isinstance(self.inference_log, ParamsError):
            raise ParamsError(str(self.inference_log))
        return self.inference_log

    @property
    def ckpt(self):
        return self.model.ckpt

    @property
    def columns(self) -> list[str]:
        return [c for c, _ in self.schema]

    @property
    def backend(self) -> str:
        """What runs the network: "onnxruntime" (the version's ONNX file) or "torch" (the pyfunc chose at load)."""
        return getattr(self.ckpt, "backend", "torch")


def suite_manifest(ckpt) -> dict:
    """What the GX suite builder needs to know about the model's input (data kind, image shape, and for clips
    the decode settings the model was trained with: the checks decode a clip as the model does)."""
    t = ckpt.transform
    shape = [t.height, t.width] if hasattr(t, "height") else None
    # pixel checks on a column profile: the same verdicts, ~10x faster than one check per pixel column
    decoding = getattr(t, "decoding", None)
    return {"kind": get(ckpt.family).kind, "image_shape": shape, "pixel_checks": "profile"} | (
        {"decode": decoding.model_dump(mode="json")} if decoding is not None else {})


def validation_of(model, params: Params | ParamsError | None, params_path: Path) -> ValidateConfig:
    """The validation settings recorded in the model, else params.yaml's for its family (`params`: None when
    there is no params file, its error when it does not load)."""
    checks = (getattr(model, "info", None) or {}).get("checks")
    if checks:
        return section_schema("validate", checks["kind"]).model_validate(checks["validation"])
    if isinstance(params, ParamsError):
        raise params
    if params is None:
        raise ParamsError(f"{params_path}: params file not found")
    return params.validation


def load(model_name: str, alias: str, params_path: Path, version: str | None = None) -> Loaded:
    """Resolve `model_name@alias` once (models:/<name>/<version>: pinned from here on) and load it; `version`: that
    version instead, with or without an alias (recorded as alias `v<N>`)."""
    if version is not None:
        return load_version(registry.get_version(model_name, version), f"v{version}", params_path)
    hint = f"an alias is a name: for version {alias} use `keel predict --version {alias}`" if alias.isdigit() else None
    return load_version(registry.require_alias(model_name, alias, hint), alias, params_path)


def load_version(ref: registry.VersionRef, alias: str, params_path: Path) -> Loaded:
    """Load one resolved version (`alias`: how it was chosen, for the record)."""
    model_name = ref.name
    pyfunc = registry.load_pyfunc(ref.model_uri)
    model = pyfunc.unwrap_python_model()
    # read once for everything the scorer needs from it (validation, monitor.log); none: the defaults
    try:
        params = load_params(params_path, {"model": model.ckpt.family}) if Path(params_path).is_file() else None
    except ParamsError as e:  # raised where a value of the file is needed, not here
        params = e
    schema = [(c.name, c.type.name) for c in pyfunc.metadata.get_input_schema().inputs]
    log.info("%s v%s scores with %s: %s", model_name, ref.version, getattr(model.ckpt, "backend", "torch"),
             getattr(model, "backend_reason", "loaded before Keel chose backends"))
    return Loaded(name=model_name, alias=alias, ref=ref, pyfunc=pyfunc, model=model, schema=schema,
                  validation=validation_of(model, params, params_path), manifest=suite_manifest(model.ckpt),
                  inference_log=params if isinstance(params, ParamsError) else
                  params.monitor.log if params else InferenceLogConfig())
