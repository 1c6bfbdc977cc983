"""Batch inference: score a file (or, for the media kinds, a folder of images or clips) with
`models:/<model>@production`, chunk by chunk (bounded memory).

Each chunk passes the family's Great Expectations suite (the label is not required) before it is
scored; a failing chunk stops the run and nothing is written (the output appears atomically). The output
is Parquet whose schema metadata names the model, the version, the model URI and the input's sha256.
The alias is resolved to a version once, up front, so a promotion during the run cannot mix two models.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd
from pydantic import BaseModel

from components.core import paths
from components.core.columns import LABEL
from components.core.errors import DataValidationError, StageInputError
from components.core.io import atomic_path, sha256_file, sha256_paths
from components.data import media
from components.data.validator import Validator, validate
from components.inference.scorelog.writer import open_log
from components.lifecycle.ledger import now_iso
from components.serving.loaded import load

log = logging.getLogger(__name__)
META_KEY = b"keel"


class BatchResult(BaseModel):
    """What one batch run scored and wrote."""

    model_name: str
    version: str
    model_uri: str
    input: Path
    input_sha256: str
    output: Path
    rows: int
    chunks: int
    checks_passed: int
    request_id: str  # the inference log's id of this run (rows are numbered from 0 in file order)


CHUNK_BYTES = 64 * 2**20  # default chunk: ~64 MiB of input values (8 bytes each); peak memory is a few chunks
FOLDER_CHUNK = 256  # files per chunk when scoring a folder of images or clips


def default_chunk_rows(path: Path) -> int:
    """Rows per chunk for ~CHUNK_BYTES of input values: 131k digits rows (64 columns), 10.7k Fashion-MNIST
    rows (784). Fewer, larger chunks spread the per-chunk cost of GX (~0.04 s) over more rows."""
    path = Path(path)
    if not path.is_file():
        raise StageInputError(f"{path}: input file not found")
    try:
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            columns = len(pq.read_schema(path))
        else:
            columns = len(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return 50_000  # unreadable: read_chunks names the problem
    return max(1_000, min(1_000_000, CHUNK_BYTES // (8 * max(columns, 1))))


def read_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Parquet or CSV (.csv, .csv.gz) in chunks of at most `chunk_rows` rows."""
    path = Path(path)
    if not path.is_file():
        raise StageInputError(f"{path}: input file not found")
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise StageInputError(f"{path}: not a readable Parquet file: {e}") from e
    elif name.endswith((".csv", ".csv.gz")):
        try:
            yield from pd.read_csv(path, chunksize=chunk_rows)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise StageInputError(f"{path}: not a readable CSV file: {e}") from e
    else:
        raise StageInputError(f"{path}: unsupported input (use .parquet, .csv or .csv.gz)")


def run(model_name: str, input_path: Path, output_path: Path, params_path: Path = paths.PARAMS,
        alias: str = "production", chunk_rows: int | None = None,
        log_dir: Path = paths.INFERENCE_LOG_DIR) -> BatchResult:
    """Validate and score `input_path` with `model_name@alias`; write predictions + metadata to `output_path`.
    `chunk_rows`: rows per chunk (default: ~64 MiB of input values, `default_chunk_rows`).

    The GX suite is the schema check here (exact columns, types, values: stricter than the MLflow signature),
    so chunks go to the model's own predict, not through MLflow's per-call signature enforcement, which
    re-checks and copies every column (~13% of the forward on 250k digits rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(input_path).is_dir()
    if not (folder or Path(input_path).is_file()):
        raise StageInputError(f"{input_path}: input file not found")
    loaded = load(model_name, alias, params_path)  # models:/<name>/<version>: pinned for the run
    ref, model, cfg = loaded.ref, loaded.model, loaded.validation
    kind = loaded.manifest["kind"]
    if folder and kind not in media.KINDS:
        raise StageInputError(f"{input_path}: a folder is scored by image_file, detection and video models; "
                              f"{model_name} is a {kind} model: score a .parquet or .csv file")
    digest = sha256_paths([input_path]) if folder else sha256_file(input_path)
    chunk_rows = chunk_rows or (FOLDER_CHUNK if folder else default_chunk_rows(input_path))
    name = media.NAMES[kind] if folder else None  # a folder's predictions start with the file they are about
    scorelog, request_id = open_log(log_dir, model_name, ref.version, model.ckpt, params_path, "batch"), uuid4().hex
    meta = {"model": model_name, "version": ref.version, "model_uri": ref.model_uri, "alias": alias,
            "input": str(input_path), "input_sha256": digest, "created_at": now_iso(), "request_id": request_id}
    rows = chunks = checks = 0
    writer = None
    with atomic_path(Path(output_path)) as tmp:
        try:
            for chunk, report in checked_chunks(input_path, chunk_rows, cfg, loaded.manifest, kind if folder else None):
                scored = model.predict(None, chunk)
                scorelog.record(chunk, scored, request_id)  # a sample, to the inference log (converted off this path)
                if name is not None:
                    scored.insert(0, name, chunk[name].to_numpy())
                table = pa.Table.from_pandas(scored, preserve_index=False)
                if writer is None:  # no dictionary encoding for float columns: it never pays and costs ~3x the write
                    dictionary = [f.name for f in table.schema
                                  if not pa.types.is_floating(f.type) and not pa.types.is_nested(f.type)]
                    writer = pq.ParquetWriter(tmp, table.schema.with_metadata({META_KEY: json.dumps(meta).encode()}),
                                              use_dictionary=dictionary)
                writer.write_table(table)
                rows, chunks, checks = rows + len(chunk), chunks + 1, checks + report.successful
        finally:
            scorelog.close()
            if writer is not None:
                writer.close()
        if writer is None:
            raise StageInputError(f"{input_path}: no rows to score")
    log.info("batch: %s v%s scored %d rows in %d chunks -> %s", model_name, ref.version, rows, chunks, output_path)
    return BatchResult(model_name=model_name, version=ref.version, model_uri=ref.model_uri, input=Path(input_path),
                       input_sha256=digest, output=Path(output_path), rows=rows, chunks=chunks, checks_passed=checks,
                       request_id=request_id)


def checked_chunks(input_path: Path, chunk_rows: int, cfg, manifest: dict,
                   kind: str | None = None) -> Iterator[tuple[pd.DataFrame, Any]]:
    """The input's chunks (label dropped), each with its passing GX report; the first failing chunk raises
    DataValidationError naming the rows, the checks, counts and examples. `kind`: the input is a folder of
    that media kind's files."""
    check = Validator(cfg, manifest, require_label=False, name="batch", result_format="BOOLEAN_ONLY", chunks=True)
    start = 0
    chunks = media.scoring_chunks(input_path, kind, chunk_rows) if kind else read_chunks(input_path, chunk_rows)
    for chunk in chunks:
        chunk = chunk.drop(columns=[LABEL], errors="ignore")
        report = check(chunk)  # the fast pass; only a failing chunk is re-checked for counts and examples
        if not report.success:
            report = validate(chunk, cfg, manifest, require_label=False, name="batch")
            raise DataValidationError(report.message(f"{input_path} rows {start}..{start + len(chunk) - 1}"),
                                      [f.describe() for f in report.failures])
        yield chunk, report
        start += len(chunk)


def read_metadata(path: Path) -> dict:
    """The Keel metadata stored in a predictions file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if META_KEY not in meta:
        raise StageInputError(f"{path}: no Keel metadata (not written by keel predict)")
    return json.loads(meta[META_KEY])
