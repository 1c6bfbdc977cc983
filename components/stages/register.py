"""Register: log the raw-input pyfunc, register a new version with its lineage tags, and set the `staging`
alias only when the absolute thresholds in `register.min` / `register.max` pass.

Lineage tags on the version: git commit, data and params hashes (Keel's own sha256 and, under
`dvc repro`, DVC's from dvc.lock), the GX result, the test-split hash, the MLflow run id; the privacy spent
when trained with DP (`privacy.*`). The frozen test split travels with the version (an artifact of its run
and an MLflow dataset input, `split_uri` tag), so the gate can fetch it from any machine that reaches the
registry; it is also attached to the version itself (`reference/test.parquet`): drift monitoring's
reference. Each version also gets its explanation on the fixed probe rows
(components/lifecycle/explanations.py: artifacts under `explanation/`, `explain.*` tags) and its model card
as description (components/lifecycle/modelcard.py).

Idempotent: the version carries a registration key (run id, register params, checkpoint and split hashes);
a retry or re-run with the same key finds that version and reuses it instead of adding another, then sets
the alias and writes registration.json, so a failure after the version was created (setting the alias,
the store going away) never leaves a second, unaliased version behind. A version is complete once its
reference split and explanation are attached (tag `keel.registration_complete=true`); a re-run finishes an
incomplete one before it can take the alias (tests/faults/test_server_kills.py kills the server between).

With `register.onnx: true` the network is also exported to ONNX and checked against PyTorch on the test split
before anything is logged (components/inference/onnxrt.py): the largest absolute difference goes to the run's
metrics (`onnx_max_abs_diff`), the version's tags and registration.json; over `register.onnx_tolerance`,
registration fails with OnnxMismatchError.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from components.config.sections import RegisterConfig, ValidateConfig
from components.core import paths
from components.core.errors import RegistryError
from components.core.io import read_json, require_files, sha256_file, sha256_json, write_json
from components.data.artifacts import load_split
from components.families.registry import get
from components.inference.onnxrt import OnnxCheck, export_checked
from components.lifecycle import alias_history, explanations, modelcard, moves, registry, tracking
from components.lifecycle.gate import REGISTRATION_BARS_TAG, REGISTRATION_REASONS_TAG
from components.stages.spec import Io, Stage
from components.trust.explain import summary

log = logging.getLogger(__name__)


class RegisterResult(BaseModel):
    """The registered version and whether it reached the alias."""

    model_name: str
    version: str
    model_uri: str
    alias: str | None
    staged: bool
    reasons: list[str]
    tags: dict[str, str]
    onnx: OnnxCheck | None = None  # register.onnx: the ONNX file's check against PyTorch (when exported this run)


def check_thresholds(metrics: dict[str, Any], cfg: RegisterConfig, source: str = "metrics") -> list[str]:
    """Reasons the metrics miss the absolute gate (empty list: it passes). Unknown metrics are errors."""
    wanted = list(cfg.min) + list(cfg.max)
    missing = [m for m in wanted if not isinstance(metrics.get(m), (int, float))]
    if missing:
        have = ", ".join(k for k, v in metrics.items() if isinstance(v, (int, float)))
        raise RegistryError(f"{source}: no metric {', '.join(missing)} for register.min/max (have: {have})")
    reasons = [f"{m} {metrics[m]:.4f} < minimum {bound}" for m, bound in cfg.min.items() if metrics[m] < bound]
    reasons += [f"{m} {metrics[m]:.4f} > maximum {bound}" for m, bound in cfg.max.items() if metrics[m] > bound]
    return reasons


def dvc_lock_hashes(lock: dict[str, Any], raw_dir: Path) -> dict[str, str]:
    """From a parsed dvc.lock: md5 of the raw-data output and md5 of the params recorded for each stage."""
    stages = lock.get("stages", {})
    out: dict[str, str] = {}
    for stage in stages.values():
        for o in stage.get("outs", []):
            if Path(o.get("path", "")) == Path(raw_dir) and "md5" in o:
                out["dvc_data_md5"] = o["md5"]
    recorded = {name: s.get("params", {}) for name, s in sorted(stages.items()) if s.get("params")}
    if recorded:
        out["dvc_params_sha256"] = sha256_json(recorded)
    return out


def lineage_tags(model_dir: Path, features_dir: Path, raw_dir: Path, validation_dir: Path,
                 dvc_lock: Path | None) -> dict[str, str]:
    """Everything needed to say where a version came from."""
    meta_run = tracking.read_run_ref(model_dir)
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    split = read_json(Path(features_dir) / paths.SPLIT_FILE)
    gx = read_json(Path(validation_dir) / paths.VALIDATION_FILE)
    commit, dirty = tracking.git_commit()
    from components.inference.checkpoint import load_checkpoint

    ckpt = load_checkpoint(Path(model_dir) / paths.CHECKPOINT_FILE)
    tags = {
        "git_commit": commit, "git_dirty": str(dirty).lower(),
        "data_source": manifest["source"], "data_sha256": manifest["sha256"],
        "params_sha256": ckpt.meta.get("params_sha256", ""),
        "split_sha256": split["sha256"]["test"], "split_sizes": ",".join(f"{k}={v}" for k, v in split["sizes"].items()),
        "gx_success": str(gx["success"]).lower(), "gx_checks": f"{gx['successful']}/{gx['evaluated']}",
        "run_id": meta_run.run_id, "family": ckpt.family, "dataset": split["dataset"],
    } | tracking.origin_tags()
    if dvc_lock is not None and Path(dvc_lock).is_file():
        tags |= dvc_lock_hashes(yaml.safe_load(Path(dvc_lock).read_text()) or {}, Path(raw_dir))
    return tags


def registration_key(run_id: str, cfg: RegisterConfig, checkpoint: Path, split_sha256: str) -> str:
    """What makes two registrations the same: the run, the register params, the checkpoint and the test split."""
    # without ONNX, the key is the one Keel computed before register.onnx existed (a re-run still finds its version)
    register = cfg.model_dump(mode="json", exclude=None if cfg.onnx else {"onnx", "onnx_tolerance"})
    return sha256_json({"run_id": run_id, "register": register,
                        "checkpoint": sha256_file(checkpoint), "split_sha256": split_sha256})


def run(cfg: RegisterConfig, model_dir: Path = paths.MODEL_DIR, features_dir: Path = paths.FEATURES_DIR,
        raw_dir: Path = paths.RAW_DIR, validation_dir: Path = paths.VALIDATION_DIR,
        reports_dir: Path = paths.REPORTS_DIR, out_dir: Path = paths.REGISTER_DIR,
        dvc_lock: Path | None = None, validation: ValidateConfig | None = None,
        inputs_digest: str | None = None) -> RegisterResult:
    """Register the trained model once (a retry reuses the version); alias it `cfg.alias` only if the absolute
    thresholds pass. `validation`: the checks the model's inputs must pass, recorded in the model (keel serve
    and keel predict run them). `inputs_digest`: the digest of the run's inputs (the training flow's,
    components/stages/inputs.py), tagged `keel.inputs_digest` on the version."""
    model_dir = Path(model_dir)
    require_files(model_dir, [paths.CHECKPOINT_FILE, paths.RUN_FILE])
    metrics_file = Path(reports_dir) / paths.METRICS_FILE
    metrics = read_json(metrics_file)
    reasons = check_thresholds(metrics, cfg, str(metrics_file))  # fails before anything is registered
    tags = lineage_tags(model_dir, features_dir, raw_dir, validation_dir, dvc_lock)
    tags |= {f"metric.{k}": f"{v:.6g}" for k, v in metrics.items() if isinstance(v, float)}
    from components.inference.checkpoint import load_checkpoint

    run_ref = tracking.read_run_ref(model_dir)
    name = run_ref.model_name
    moves.reconcile(name, required=False)  # settle an alias move a killed process left half-done
    ckpt = load_checkpoint(model_dir / paths.CHECKPOINT_FILE)
    tags |= {f"privacy.{k}": v for k, v in (ckpt.meta.get("privacy") or {}).items()}
    # explained before anything is registered: a failure leaves no version without its explanation
    explained = explanations.explain_probe(ckpt, features_dir, cfg.explain, Path(out_dir) / "explanation")
    key = registration_key(run_ref.run_id, cfg, model_dir / paths.CHECKPOINT_FILE, tags["split_sha256"])
    version = registry.find_registered(name, run_ref.run_id, key)
    onnx = None
    if version is not None:
        log.info("register: %s version %s was registered from run %s with the same params and checkpoint: "
                 "reused, not registered again", name, version.version, run_ref.run_id)
    else:
        checks = None if validation is None else recorded_checks(validation, ckpt)
        uri, split_uri, onnx = log_model(model_dir, features_dir, tags["split_sha256"], name, ckpt, checks,
                                         cfg.onnx_tolerance if cfg.onnx else None)
        tags |= {REGISTRATION_BARS_TAG: "pass" if not reasons else "fail", registry.REGISTRATION_KEY: key}
        tags |= {REGISTRATION_REASONS_TAG: "; ".join(reasons)[:4000]} if reasons else {}
        tags |= {"onnx.max_abs_diff": f"{onnx.max_abs_diff:.3g}", "onnx.rows": str(onnx.rows)} if onnx else {}
        version = registry.register_version(uri, name, tags | ({"split_uri": split_uri} if split_uri else {}))
    # the digest goes with the completion tag: a version that stopped before it is never "made from these inputs"
    finish = {registry.INPUTS_DIGEST: inputs_digest} if inputs_digest and \
        version.tags.get(registry.INPUTS_DIGEST) != inputs_digest else {}
    if version.tags.get(registry.COMPLETE_TAG) != "true":  # new, or a run that stopped before finishing it
        attach_files(name, version.version, features_dir, Path(out_dir) / "explanation", explained)
        finish |= {registry.COMPLETE_TAG: "true"}
    if finish:
        registry.set_version_tags(name, version.version, finish)
    modelcard.publish(modelcard.facts(
        name, version.version, ckpt, metrics, read_json(Path(reports_dir) / paths.DETAILS_FILE),
        read_json(Path(features_dir) / paths.SPLIT_FILE), version.tags, reasons, None if reasons else cfg.alias,
        summary(explained) if explained else None), Path(out_dir) / "model_card")
    if not reasons:
        moved = alias_history.record_stage(name, version, cfg.alias)  # the move, recorded for `keel history`
        log.info("register: %s version %s -> alias @%s%s", name, version.version, cfg.alias,
                 "" if moved else " (held already)")
    else:
        log.warning("register: %s version %s NOT aliased @%s: %s", name, version.version, cfg.alias,
                    "; ".join(reasons))
    result = RegisterResult(model_name=name, version=version.version, model_uri=version.model_uri,
                            alias=None if reasons else cfg.alias, staged=not reasons, reasons=reasons,
                            tags=registry.get_version(name, version.version).tags, onnx=onnx)
    write_json(Path(out_dir) / "registration.json", result.model_dump(mode="json"))
    return result


class Outcome(BaseModel):
    """What a registration produced, as the training flow reports it."""

    model_name: str
    version: str
    staged: bool  # the version holds the alias
    reasons: list[str]  # why it missed the bars (empty: passed)
    metrics: dict[str, float]
    run_id: str


def outcome(v: registry.VersionRef, alias: str) -> Outcome:
    """The outcome of `v`'s registration, read back from the registry: staged when it holds `alias`, the reasons
    `run` tagged, and its run's test metrics as evaluate logged them (unrounded; the `metric.*` tags, rounded to
    6 digits, only for a metric the run lacks)."""
    reasons = v.tags.get(REGISTRATION_REASONS_TAG)
    run_id = v.tags.get("run_id", v.run_id or "")
    tagged = {k.removeprefix("metric."): float(x) for k, x in v.tags.items() if k.startswith("metric.")}
    logged = {k.removeprefix("test_"): x for k, x in registry.run_metrics(run_id).items() if k.startswith("test_")}
    holder = registry.version_by_alias(v.name, alias)  # (a registry search leaves a version's aliases out)
    return Outcome(model_name=v.name, version=v.version, staged=holder is not None and holder.version == v.version,
                   reasons=reasons.split("; ") if reasons else [], metrics=tagged | logged, run_id=run_id)


def recorded_checks(validation: ValidateConfig, ckpt) -> dict[str, Any]:
    """The input checks recorded in the model (keel predict / keel serve run them). With `validate.suite:
    inferred` validate never ran the params' column list (the family default's, e.g. diabetes' `bmi`, `bp`):
    the model records the columns it was trained on instead, and no params `ranges` (docs/monitoring.md)."""
    if validation.suite == "inferred" and "columns" in type(validation).model_fields:
        validation = validation.model_copy(update={"columns": list(ckpt.transform.input_columns), "ranges": {}})
    return {"kind": get(ckpt.family).kind, "validation": validation.model_dump(mode="json")}


def attach_files(name: str, version: str, features_dir: Path, explanation_dir: Path, explained) -> None:
    """The version's drift reference and explanation (before it can take the alias); safe to repeat: a re-run
    after a failure part-way overwrites the same artifact paths and tags."""
    test_file = Path(features_dir) / "test.parquet"
    if test_file.is_file():  # the version's drift reference (`keel monitor`), whatever the workspace holds later
        folder = Path(paths.REFERENCE_ARTIFACT).parent.as_posix()
        registry.log_version_artifacts(name, version, [test_file], folder)
    if explained is not None:
        explanations.attach(name, version, explanation_dir, explained)


def log_model(model_dir: Path, features_dir: Path, split_sha256: str, name: str, ckpt, checks: dict | None = None,
              onnx_tolerance: float | None = None) -> tuple[str, str | None, OnnxCheck | None]:
    """Log the pyfunc (with the input `checks` it runs) and the frozen test split into the training run:
    (model URI, split URI or None, the ONNX check or None). `onnx_tolerance`: also export the network to ONNX,
    checked against PyTorch on the test split first (OnnxMismatchError beyond it: nothing is logged); its
    largest absolute difference is the run's metric `onnx_max_abs_diff`."""
    transform = ckpt.transform
    # raw rows, as a caller sends them (a series transform asks for enough history to forecast from)
    test = load_split(features_dir, "test")
    example = transform.example(test) if hasattr(transform, "example") else \
        test[transform.input_columns].head(getattr(transform, "example_rows", 5))
    test_file = Path(features_dir) / "test.parquet"
    with tempfile.TemporaryDirectory(prefix="keel-onnx-") as tmp:
        onnx = None if onnx_tolerance is None else \
            export_checked(ckpt.model, transform.features(test), Path(tmp) / "model.onnx", onnx_tolerance)
        if onnx is not None:
            log.info("register: %s ONNX export checked: max abs difference %.3g on %d test rows (tolerance %g)",
                     name, onnx.max_abs_diff, onnx.rows, onnx.tolerance)
        with tracking.resume_run(model_dir):
            if onnx is not None:
                tracking.log_metrics({"onnx_max_abs_diff": onnx.max_abs_diff})
            uri = registry.log_pyfunc(Path(model_dir) / paths.CHECKPOINT_FILE, example, checks,
                                      (Path(tmp) / onnx.file, onnx.model_dump(mode="json")) if onnx else None)
            # a partitioned split (a folder of parts) stays local
            split_uri = tracking.log_split(test_file, f"{name}-test", split_sha256) if test_file.is_file() else None
    return uri, split_uri, onnx


STAGE = Stage("register", run, (
    Io("model_dir", paths.MODEL_DIR, "in"), Io("features_dir", paths.FEATURES_DIR, "state"),
    Io("raw_dir", paths.RAW_DIR, "state"), Io("validation_dir", paths.VALIDATION_DIR, "state"),
    Io("reports_dir", paths.REPORTS_DIR, "in", files=(paths.METRICS_FILE, paths.DETAILS_FILE)),
    Io("out_dir", paths.REGISTER_DIR, "out", marker="registration.json", cache=False),
    Io("dvc_lock", Path("dvc.lock"), "state", in_flow=False)), tracked=True, retries=True)
