"""Validate: the raw data must pass a Great Expectations suite before anything downstream runs.

The suite is built from `validate` params and the ingest manifest: columns, dtypes, nulls, pixel range,
label set and row count (components/data/suites.py); `validate.suite: inferred | both` runs the suite
`keel suite infer` wrote to `suites/<dataset>.json` instead, or merged with it (hand-written wins). It runs
through a GX Checkpoint that also renders Data Docs (HTML) under `reports/validation/data_docs/`. Any
failure raises DataValidationError naming each failed expectation with its column and unexpected count.
"""

from __future__ import annotations

import logging
from pathlib import Path

from components.config.sections import ValidateConfig
from components.core import paths
from components.core.errors import DataValidationError, StageInputError
from components.core.io import atomic_dir, read_json, read_parquet, require_files, write_json
from components.data.streaming import validate_parts
from components.data.suite_file import choose
from components.data.validator import ValidationReport, validate
from components.stages.spec import Io, Stage

log = logging.getLogger(__name__)


def run(cfg: ValidateConfig, raw_dir: Path = paths.RAW_DIR, out_dir: Path = paths.VALIDATION_DIR,
        suites_dir: Path = paths.SUITES_DIR) -> ValidationReport:
    """Validate `<raw_dir>/data.parquet`; write the summary and Data Docs to `out_dir`; raise on failure."""
    require_files(raw_dir, [paths.MANIFEST_FILE])
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    partitioned = manifest.get("layout") == "partitioned"
    suite = choose(cfg.suite, suites_dir, manifest["dataset"])
    if partitioned and suite is not None:
        raise StageInputError(f"validate.suite: {cfg.suite} is not supported for partitioned raw data; use params")
    if not partitioned:
        require_files(raw_dir, [paths.RAW_FILE])
    with atomic_dir(out_dir) as tmp:
        if partitioned:  # one part at a time; Data Docs per part would be as many sites: none
            report, per_part = validate_parts(cfg, raw_dir, manifest)
            write_json(tmp / "partitions.json", per_part)
        else:
            report = validate(read_parquet(Path(raw_dir) / paths.RAW_FILE), cfg, manifest,
                              docs_dir=tmp / "data_docs", suite=suite)
        report = report.model_copy(update={
            "data_sha256": manifest["sha256"],
            "data_docs": str(Path(out_dir) / "data_docs" / "index.html") if report.data_docs else None})
        write_json(tmp / paths.VALIDATION_FILE, report.model_dump(mode="json"))
    if not report.success:
        raise DataValidationError(report.message(f"{manifest['source']} (via {raw_dir}/{paths.RAW_FILE})"),
                                  [f.describe() for f in report.failures])
    log.info("validate: %d/%d checks passed; data docs: %s", report.successful, report.evaluated, report.data_docs)
    return report


STAGE = Stage("validate", run, (Io("raw_dir", paths.RAW_DIR, "in"), Io("suites_dir", paths.SUITES_DIR, "in"),
                                Io("out_dir", paths.VALIDATION_DIR, "out", marker=paths.VALIDATION_FILE)), data=True)
