"""`keel monitor <model>`: one drift check of a window of the inference log against the reference of the
version that scored it; the report goes to `reports/monitor/<model>/<stamp>/` (with `history.jsonl`) and is
attached to the version in MLflow. Drift is reported, never acted on here: retraining is the flow's event,
promotion stays behind the gate."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from components.config.monitor import MonitorConfig, check_window
from components.config.params import load_params
from components.core import paths
from components.core.errors import ParamsError
from components.core.io import atomic_dir, write_json
from components.families.registry import get
from components.inference.scorelog import store
from components.inference.scorelog.rows import FEATURE, RowSummarizer
from components.inference.scorelog.writer import recover
from components.lifecycle import registry
from components.monitoring.drift import DriftMonitor, check_performance
from components.monitoring.reference import describe, reference_rows
from components.monitoring.report import write_report
from components.monitoring.rule import DriftResult

log = logging.getLogger(__name__)
METRIC_OF_TASK = {"classification": "accuracy", "text_classification": "accuracy", "regression": "mae"}


class MonitorResult(BaseModel):
    """One check: its verdict, its window and where the report went."""

    model: str
    version: str | None
    family: str | None
    status: Literal["drift", "no_drift", "too_small"]
    fired: list[str]
    rows: int
    other_versions: dict[str, int]  # rows of the window scored by other versions (not checked)
    labelled: int
    window: dict[str, Any]
    reference: str | None
    report_dir: Path | None
    report_uri: str | None
    log_counts: dict[str, int]
    summary: str

    @property
    def drift(self) -> bool:
        """Whether any test fired."""
        return self.status == "drift"

    def brief(self, columns: int = 8) -> str:
        """The fired tests in one line: at most `columns` column names, then a count."""
        cols = [f.removeprefix("column:") for f in self.fired if f.startswith("column:")]
        more = f" +{len(cols) - columns} more" if len(cols) > columns else ""
        named = [f"{len(cols)} column(s) [{', '.join(cols[:columns])}{more}]"] if cols else []
        return "; ".join(named + [f for f in self.fired if not f.startswith("column:")])


def config_for(model: str, params_path: Path) -> MonitorConfig:
    """`monitor` of the params file, resolved for the model's family (its latest version's `family` tag);
    the defaults when there is no params file."""
    if not Path(params_path).is_file():
        return MonitorConfig()
    family = registry.latest_version(model).tags.get("family")
    return load_params(params_path, {"model": family} if family else None).monitor


def history(out_dir: Path, model: str) -> list[dict[str, Any]]:
    """Every check of a model, oldest first."""
    path = Path(out_dir) / model / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def seen_parts(out_dir: Path, model: str) -> set[str]:
    """The log parts completed checks have read (`window: new` reads the others)."""
    path = Path(out_dir) / model / "seen.json"
    return set(json.loads(path.read_text())) if path.is_file() else set()


def seen_feedback(out_dir: Path, model: str) -> set[str]:
    """The labels files completed `window: new` checks have joined (labels in the others arrived since)."""
    path = Path(out_dir) / model / "seen_feedback.json"
    return set(json.loads(path.read_text())) if path.is_file() else set()


def remember(out_dir: Path, model: str, files: list[Path], log_dir: Path, feedback: set[str] | None = None) -> None:
    """Add the parts a completed check read to the seen set, keeping only parts that still exist, and the
    labels files it joined (`feedback`, window `new`) to theirs."""
    existing = {store.part_name(f) for f in store.part_files(log_dir, model)}
    seen = (seen_parts(out_dir, model) | {store.part_name(f) for f in files}) & existing
    write_json(Path(out_dir) / model / "seen.json", sorted(seen))
    if feedback:
        write_json(Path(out_dir) / model / "seen_feedback.json", sorted(seen_feedback(out_dir, model) | feedback))


def window_bounds(window: str, out_dir: Path, model: str, now: pd.Timestamp) -> dict[str, Any]:
    """new: the parts no completed check has read | all | a duration: rows scored within it, back from `now`."""
    bounds: dict[str, Any] = {"mode": window, "since": None, "exclude": set()}
    if window == "new":  # and the labels that arrived since for the parts excluded
        bounds["exclude"] = seen_parts(out_dir, model)
    elif window != "all":
        try:  # `keel monitor --window` is not validated as params.yaml's monitor.window is
            check_window(window)
        except ValueError as e:
            raise ParamsError(str(e)) from e
        bounds["since"] = (now - pd.Timedelta(window)).isoformat()
    return bounds


def run(model: str, cfg: MonitorConfig, log_dir: Path = paths.INFERENCE_LOG_DIR, out_dir: Path = paths.MONITOR_DIR,
        features_dir: Path = paths.FEATURES_DIR, version: str | None = None, window: str | None = None,
        attach: bool = True) -> MonitorResult:
    """Check the window of `model`'s log (`window`, default `monitor.window`) scored by `version` (default: the
    version that scored the window's latest row); write the report; attach it to the version unless told not."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no download bars in the summary
    bounds = window_bounds(window or cfg.window, out_dir, model, pd.Timestamp.now(tz="UTC"))
    loaded: dict[str, Any] = {}

    def checkpoint(v: str):
        if v not in loaded:
            loaded[v] = registry.load_keel_checkpoint(model, v)
        return loaded[v]

    recover(log_dir, model, lambda v: RowSummarizer(checkpoint(v), cfg.log))  # what killed writers left
    joined = {f.name for f in store.feedback_files(log_dir, model)} if bounds["mode"] == "new" else None
    seen = bounds.pop("exclude")
    frame, files = store.read_window(log_dir, model, since=bounds["since"] and pd.Timestamp(bounds["since"]),
                                     exclude=seen)
    late = _late(log_dir, model, seen, seen_feedback(out_dir, model))  # `seen` is empty unless window `new`
    bounds["files"] = len(files)
    counts = frame["version"].astype(str).value_counts().to_dict() if len(frame) else {}
    if version is None and (len(frame) or len(late)):
        newest = frame if len(frame) else late
        version = str(newest.loc[newest["ts"].idxmax(), "version"])
    late = late[late["version"] == str(version)]
    rows = frame[frame["version"].astype(str) == str(version)].reset_index(drop=True) if len(frame) else frame
    others = {v: int(n) for v, n in counts.items() if v != str(version)}
    family = registry.get_version(model, str(version)).tags.get("family") if version else None
    base = dict(model=model, version=version, family=family, rows=len(rows), other_versions=others, window=bounds,
                log_counts=store.read_stats(log_dir, model))
    if len(rows) < cfg.min_rows and len(late) >= cfg.min_rows:
        return _late_only(model, cfg, late, checkpoint(str(version)), base, out_dir, log_dir, joined, attach)
    if len(rows) < cfg.min_rows:
        return _too_small(model, cfg, base, out_dir)

    ckpt = checkpoint(str(version))
    ref_rows, source = reference_rows(model, str(version), features_dir)
    features = rows[[c for c in rows.columns if c.startswith(FEATURE)]]
    features = features.rename(columns=lambda c: c[len(FEATURE):]).dropna(axis=1, how="all")
    raw = set(features.columns) <= set(ckpt.transform.input_columns)  # the log holds raw inputs, not a summary
    ref = describe(ckpt, ref_rows, cfg.log, raw, cfg.reference_rows, source, cfg.seed)
    columns = [c for c in features.columns if c in ref.features.columns]
    embeddings = _embeddings(rows)
    labels, metric, test_score = _labels(log_dir, model, rows, ckpt, str(version))
    monitor = DriftMonitor(cfg).fit(ref.features, ref.embeddings if embeddings is not None else None,
                                    ref.predictions if store.PREDICTION in rows.columns else None, columns=columns)
    result = monitor.check(features, embeddings, rows.get(store.PREDICTION), labels, test_score, metric,
                           late=(late["label"].to_numpy(), late[store.PREDICTION].to_numpy()))
    title = f"Drift report: {model} v{version}, {len(rows)} rows ({bounds['mode']} window)"
    labelled = (0 if labels is None else int(pd.notna(labels).sum())) + (len(late) if labels is not None else 0)
    return _report(model, result, title, base, out_dir, log_dir, files, joined, attach, labelled=labelled,
                   reference=ref.source, summary=result.summary_table(limit=15))


def _late_only(model: str, cfg: MonitorConfig, late: pd.DataFrame, ckpt, base: dict[str, Any], out_dir: Path,
               log_dir: Path, joined: set[str] | None, attach: bool) -> MonitorResult:
    """Too few new rows for the drift tests, enough late labels for the performance test: that test alone."""
    metric, test_score = _metric(model, ckpt, str(base["version"]))
    if test_score is None:
        return _too_small(model, cfg, base, out_dir)
    result = check_performance(late["label"].to_numpy(), late[store.PREDICTION].to_numpy(), test_score, metric, cfg)
    title = f"Performance report: {model} v{base['version']}, {len(late)} rows labelled since the last check"
    summary = (f"{model}: {base['rows']} new rows (< monitor.min_rows {cfg.min_rows}): drift tests not run; "
               f"performance test on {len(late)} rows labelled since the last check\n{result.summary_table()}")
    return _report(model, result, title, base, out_dir, log_dir, [], joined, attach, labelled=len(late),
                   reference=None, summary=summary)


def _too_small(model: str, cfg: MonitorConfig, base: dict[str, Any], out_dir: Path) -> MonitorResult:
    summary = f"{model}: {base['rows']} rows in the window (< monitor.min_rows {cfg.min_rows}): not checked"
    result = MonitorResult(status="too_small", fired=[], labelled=0, reference=None, report_dir=None,
                           report_uri=None, summary=summary, **base)
    _append(out_dir, model, result)
    return result


def _report(model: str, result: DriftResult, title: str, base: dict[str, Any], out_dir: Path, log_dir: Path,
            files: list[Path], joined: set[str] | None, attach: bool, **fields: Any) -> MonitorResult:
    """Write, attach and record a completed check; then remember what it read."""
    version = str(base["version"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report_dir = Path(out_dir) / model / stamp
    with atomic_dir(report_dir) as tmp:
        files_written = {k: report_dir / f.name for k, f in write_report(result, tmp, title).items()}
    uri = _attach(model, version, result, report_dir, files_written, stamp) if attach else None
    out = MonitorResult(status="drift" if result.drift else "no_drift", fired=result.fired, report_dir=report_dir,
                        report_uri=uri, **fields, **base)
    shutil.copyfile(report_dir / "drift_report.html", Path(out_dir) / model / "latest.html")
    _append(out_dir, model, out)
    remember(out_dir, model, files, log_dir, joined)  # last: a check that failed before this is re-run
    return out


def _embeddings(rows: pd.DataFrame) -> np.ndarray | None:
    if store.EMBEDDING not in rows.columns:
        return None
    values = [v for v in rows[store.EMBEDDING] if v is not None]
    return np.stack([np.asarray(v, dtype=np.float64) for v in values]) if values else None


def _metric(model: str, ckpt, version: str) -> tuple[str, float | None]:
    """The metric of the version's task and its test score (None: no performance test)."""
    metric = METRIC_OF_TASK.get(get(ckpt.family).task)
    score = registry.get_version(model, version).tags.get(f"metric.{metric}") if metric else None
    return metric or "accuracy", None if score is None else float(score)


def _labels(log_dir: Path, model: str, rows: pd.DataFrame, ckpt, version: str):
    """Labels that arrived for the window's rows (`keel feedback`), the metric, and the version's test score."""
    metric, score = _metric(model, ckpt, version)
    feedback = store.read_feedback(log_dir, model)
    if score is None or feedback.empty or store.PREDICTION not in rows.columns:
        return None, metric, None
    joined = rows[["request_id", "row"]].astype({"request_id": str, "row": "int64"}).merge(
        feedback, on=["request_id", "row"], how="left")
    return joined["label"].to_numpy(), metric, score


def _late(log_dir: Path, model: str, seen: set[str], seen_fb: set[str]) -> pd.DataFrame:
    """Rows of the parts completed checks read (`seen`) whose labels arrived since (in labels files not in
    `seen_fb`): version, ts, prediction, label."""
    empty = pd.DataFrame(columns=["version", "ts", store.PREDICTION, "label"])
    feedback = store.read_feedback(log_dir, model, exclude=seen_fb) if seen else None
    if feedback is None or feedback.empty:
        return empty
    frame, _ = store.read_window(log_dir, model, only=set(seen))
    if frame.empty or store.PREDICTION not in frame.columns:
        return empty
    keys = frame[["request_id", "row", "version", "ts", store.PREDICTION]].astype(
        {"request_id": str, "row": "int64", "version": str})
    return keys.merge(feedback, on=["request_id", "row"]).dropna(subset=["label", store.PREDICTION])


def _attach(model: str, version: str, result: DriftResult, report_dir: Path, files: dict[str, Path],
            stamp: str) -> str:
    """Attach the report to the version (artifacts `monitor/<stamp>/`) and tag it with the latest verdict."""
    uri = registry.log_version_artifacts(model, version, [files["html"], files["json"]], f"monitor/{stamp}")
    registry.set_version_tags(model, version, {"monitor.last_check": stamp, "monitor.drift": str(result.drift).lower(),
                                               "monitor.fired": result.fired_brief()[:250] or "-",
                                               "monitor.report": uri})
    return uri


def _append(out_dir: Path, model: str, result: MonitorResult) -> None:
    path = Path(out_dir) / model / "history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = result.model_dump(mode="json", exclude={"summary"}) | {"checked_at": datetime.now(UTC).isoformat()}
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
