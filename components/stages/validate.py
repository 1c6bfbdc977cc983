"""Validate: the raw data must pass a Great Expectations suite before anything downstream runs.

The suite is built from `validate` params and the ingest manifest: columns, dtypes, nulls, finite values,
pixel range, label set and row count (components/data/suites.py); `validate.suite: inferred | both` runs the
suite `keel suite infer` wrote to `suites/<dataset>.json` instead, or merged with it (hand-written wins); when
that file is missing, validate infers it first from the train split features will make (suite_bootstrap.py). It
runs through a GX Checkpoint that also renders Data Docs (HTML) under `reports/validation/data_docs/`. For a
task with a stratified split (classification, clustering, anomaly), the labels must hold at least two
classes, each with enough rows for the `features` val/test shares (components/data/split.py:
class_problems). Text and string columns are scanned for personal data (components/data/pii.py,
`validate.pii`): found PII blocks, is marked for redaction before features, or is only reported. Any failure
raises DataValidationError naming each failed check (or PII kind) with its column and count; PII values are
never printed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from components.config.monitor import SuiteInferConfig
from components.config.sections import FeaturesConfig, ValidateConfig
from components.core import paths
from components.core.columns import LABEL
from components.core.errors import DataValidationError, StageInputError
from components.core.io import atomic_dir, read_json, read_parquet, require_files, write_json
from components.data import pii
from components.data.failures import Failure, ValidationReport
from components.data.split import class_problems
from components.data.streaming import PARTS_DIR, part_files, validate_parts
from components.data.suite_bootstrap import infer_missing
from components.data.suite_file import choose
from components.data.validator import validate
from components.problems.registry import TASKS
from components.stages.spec import Io, Stage

log = logging.getLogger(__name__)


def run(cfg: ValidateConfig, raw_dir: Path = paths.RAW_DIR, out_dir: Path = paths.VALIDATION_DIR,
        task: str | None = None, val_size: float = 0.15, test_size: float = 0.15,
        suites_dir: Path = paths.SUITES_DIR, features: FeaturesConfig | None = None,
        infer: SuiteInferConfig | None = None) -> ValidationReport:
    """Validate `<raw_dir>/data.parquet`; write the summary and Data Docs to `out_dir`; raise on failure.
    `task` (its split policy) and the val/test shares decide the class checks; None: none. `features` and
    `infer` (default: those shares, default settings) infer a missing suite for `validate.suite: inferred|both`."""
    require_files(raw_dir, [paths.MANIFEST_FILE])
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    partitioned = manifest.get("layout") == "partitioned"
    boot = None
    if cfg.suite != "params" and cfg.infer_missing and not partitioned:  # first run: infer it (suite_bootstrap.py)
        policy = TASKS[task].split if task is not None else "random"
        boot = infer_missing(Path(raw_dir) / paths.RAW_FILE, manifest, suites_dir, policy,
                      features or FeaturesConfig(val_size=val_size, test_size=test_size), infer or SuiteInferConfig())
    suite = choose(cfg.suite, suites_dir, manifest["dataset"])
    if partitioned and suite is not None:
        raise StageInputError(f"validate.suite: {cfg.suite} is not supported for partitioned raw data; use params")
    if not partitioned:
        require_files(raw_dir, [paths.RAW_FILE])
    with atomic_dir(out_dir) as tmp:
        if partitioned:  # one part at a time; Data Docs per part would be as many sites: none
            report, per_part = validate_parts(cfg, raw_dir, manifest)
            write_json(tmp / "partitions.json", per_part)
            labels = None  # read only for the class checks: every part's label column, on this process
            texts = [c for c, t in manifest.get("dtypes", {}).items() if "string" in t]
            frames = (read_parquet(f)[texts] for f in part_files(Path(raw_dir) / PARTS_DIR)) if texts else []
        else:
            labels = read_parquet(Path(raw_dir) / paths.RAW_FILE)
            frames = [labels]
            report = validate(labels, cfg, manifest, docs_dir=tmp / "data_docs", suite=suite)
        if task is not None and TASKS[task].split == "stratified":  # (streamed parts: split per row, not by sklearn)
            labels = _labels(Path(raw_dir) / PARTS_DIR) if labels is None else labels
            problems = class_problems(labels, FeaturesConfig(val_size=val_size, test_size=test_size), not partitioned)
            extra = [Failure(expectation=check, column=LABEL, error=problem) for check, problem in problems]
            report = report.model_copy(update={"failures": report.failures + extra,
                                               "success": report.success and not extra})
        found = pii.check(frames, cfg.pii)
        report = report.model_copy(update={
            "data_sha256": manifest["sha256"], "success": report.success and not found["blocked"],
            "failures": report.failures + pii_failures(found),
            "data_docs": str(Path(out_dir) / "data_docs" / Path(report.data_docs).name) if report.data_docs else None})
        warnings = [f"{boot.suite} was inferred from this data's train split ({boot.train_rows} rows) in this run: "
                    "the data was checked against itself and passes by construction; review the suite"] if boot else []
        write_json(tmp / paths.VALIDATION_FILE, report.model_dump(mode="json") | {"pii": found, "warnings": warnings})
    if not report.success:
        raise DataValidationError(report.message(f"{manifest['source']} (via {raw_dir}/{paths.RAW_FILE})"),
                                  [f.describe() for f in report.failures])
    log.info("validate: %d/%d checks passed; data docs: %s", report.successful, report.evaluated, report.data_docs)
    for line in warnings:
        log.warning("validate: %s", line)
    for line in pii.describe(found["found"]):
        log.warning("validate: personal data (validate.pii.action=%s): %s", found["action"], line)
    return report


def _labels(parts: Path):
    """The label column of every part (the only column the class checks need)."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = [pq.read_table(f, columns=[LABEL]).to_pandas() for f in part_files(parts)
              if LABEL in pq.read_schema(f).names]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pii_failures(found: dict) -> list[Failure]:
    """A failed check per column holding PII when `validate.pii.action` is block (kinds and counts, no values)."""
    if not found["blocked"]:
        return []
    return [Failure(expectation="no_personal_data", column=col,
                    unexpected_count=sum(r["count"] for r in kinds.values()),
                    error=line.split(": ", 1)[1] + " (validate.pii: action redact replaces them before features; "
                    "allow_columns lists columns that may hold them)")
            for (col, kinds), line in zip(found["found"].items(), pii.describe(found["found"]), strict=True)]


STAGE = Stage("validate", run, (Io("raw_dir", paths.RAW_DIR, "in"), Io("suites_dir", paths.SUITES_DIR, "in"),
                                Io("out_dir", paths.VALIDATION_DIR, "out", marker=paths.VALIDATION_FILE)), data=True)
