"""Batch inference: score a file (or, for the media kinds, a folder of images or clips) with
`models:/<model>@production`, chunk by chunk (bounded memory).

Each chunk passes the family's Great Expectations suite (the label is not required) before it is
scored; a failing chunk stops the run and nothing is written (the output appears atomically), the inference
log included (its rows are held until the output is written). The output
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

from components.config.monitor import InferenceLogConfig
from components.core import paths
from components.core.columns import LABEL, SPLIT
from components.core.errors import DataValidationError, StageInputError
from components.core.io import atomic_dir, atomic_path, dictionary_columns, sha256_file, sha256_paths
from components.data import media
from components.data.cluster import map_parts, session, sha256_tree
from components.data.validator import Validator, kept_validator
from components.inference.scorelog.writer import held_log, open_log
from components.lifecycle import registry
from components.lifecycle.ledger import now_iso
from components.serving.loaded import load
from components.serving.payload import BadRequest, columns_against

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
    backend: str = "torch"  # what ran the network: onnxruntime (the version's ONNX file) or torch


CHUNK_BYTES = 64 * 2**20  # default chunk: ~64 MiB of input values (8 bytes each); peak memory is a few chunks
FOLDER_CHUNK = 256  # files per chunk when scoring a folder of images or clips


def missing_input(path: Path) -> StageInputError:
    """The error for an input that is not there: the absolute path looked at and, for a relative one, as given and
    the working directory (a deployment's worker resolves a relative input_path against the directory its pull
    step set)."""
    path = Path(path)
    if path.is_absolute():
        return StageInputError(f"{path}: input file not found")
    return StageInputError(f"{path.absolute()}: input file not found (given as {str(path)!r}; working directory "
                           f"{Path.cwd()})")


def default_chunk_rows(path: Path) -> int:
    """Rows per chunk for ~CHUNK_BYTES of input values: 131k digits rows (64 columns), 10.7k Fashion-MNIST
    rows (784). Fewer, larger chunks spread the per-chunk cost of GX (~0.04 s) over more rows."""
    path = Path(path)
    if not path.is_file():
        raise missing_input(path)
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
        raise missing_input(path)
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
        log_dir: Path = paths.INFERENCE_LOG_DIR, version: str | None = None) -> BatchResult:
    """Validate and score `input_path` with `model_name@alias` (`version`: that version, alias or none); write
    predictions + metadata to `output_path`.
    `chunk_rows`: rows per chunk (default: ~64 MiB of input values, `default_chunk_rows`). A sample of the
    scored rows goes to the inference log (`monitor.log`) under one request id, rows numbered in file order.

    The GX suite is the schema check here (exact columns, types, values: stricter than the MLflow signature),
    so chunks go to the model's own predict, not through MLflow's per-call signature enforcement, which
    re-checks and copies every column (~13% of the forward on 250k digits rows).

    A directory `input_path` is a folder of files for a media model (image_file, detection, video: one row per
    file, the file's name first in the output) or, for any other model, a partitioned Parquet dataset scored
    part by part, in parallel on Dask when the environment asks for it (components/data/cluster.py), into a
    directory of parts: `run_partitioned`."""
    folder = Path(input_path).is_dir()
    if not (folder or Path(input_path).is_file()):
        raise missing_input(input_path)
    if not folder and Path(output_path).suffix != ".parquet":  # not Parquet bytes under a .csv name
        raise StageInputError(f"{output_path}: predictions are written as Parquet; name the output *.parquet")
    loaded = load(model_name, alias, params_path, version)  # models:/<name>/<version>: pinned for the run
    kind, alias = loaded.manifest["kind"], loaded.alias
    if folder and kind not in media.KINDS:
        return run_partitioned(model_name, input_path, output_path, params_path, alias, chunk_rows, log_dir, loaded)
    ref, model, cfg = loaded.ref, loaded.model, loaded.validation
    digest = sha256_paths([input_path]) if folder else sha256_file(input_path)
    chunk_rows = chunk_rows or (FOLDER_CHUNK if folder else default_chunk_rows(input_path))
    name = media.NAMES[kind] if folder else None  # a folder's predictions start with the file they are about
    request_id = uuid4().hex
    meta = {"model": model_name, "version": ref.version, "model_uri": ref.model_uri, "alias": alias,
            "input": str(input_path), "input_sha256": digest, "created_at": now_iso(), "request_id": request_id,
            "backend": loaded.backend}
    # the log joins once the output is written: a failed run leaves none of its rows (held_log)
    with held_log(log_dir, model_name, model.ckpt, loaded.log, request_id), atomic_path(Path(output_path)) as tmp:
        scorelog = open_log(log_dir, model_name, ref.version, model.ckpt, loaded.log, "batch", hold=request_id)
        try:
            checked = checked_chunks(input_path, chunk_rows, cfg, loaded.manifest, kind if folder else None,
                                     columns=None if kind in media.KINDS else loaded.columns,
                                     renames=model.ckpt.transform.renames)
            rows, chunks, checks = write_predictions(model, checked, tmp, meta, scorelog, request_id, name=name)
        finally:
            scorelog.close()
        if not chunks:
            raise StageInputError(f"{input_path}: no rows to score")
    log.info("batch: %s v%s scored %d rows in %d chunks -> %s", model_name, ref.version, rows, chunks, output_path)
    return BatchResult(model_name=model_name, version=ref.version, model_uri=ref.model_uri, input=Path(input_path),
                       input_sha256=digest, output=Path(output_path), rows=rows, chunks=chunks, checks_passed=checks,
                       request_id=request_id, backend=loaded.backend)


def run_partitioned(model_name: str, input_dir: Path, output_dir: Path, params_path: Path = paths.PARAMS,
                    alias: str = "production", chunk_rows: int | None = None,
                    log_dir: Path = paths.INFERENCE_LOG_DIR, loaded: Any = None) -> BatchResult:
    """Score every Parquet file under `input_dir` (one task per file: the model loaded once per worker) into
    `<output_dir>/part-NNNNN.parquet`, each with the run's metadata; the directory appears atomically. The
    inference log gets one request id, rows numbered across the files in sorted order (as `keel feedback`
    numbers them), each worker writing its own segments. `loaded`: the model `run` already loaded."""
    import pyarrow.parquet as pq

    files = sorted(Path(input_dir).rglob("*.parquet"))
    if not files:
        raise StageInputError(f"{input_dir}: no .parquet files to score")
    loaded = loaded or load(model_name, alias, params_path)  # pinned: every worker loads this version's URI
    ref = loaded.ref
    _MODELS.clear()
    _MODELS[ref.model_uri] = loaded.model  # parts scored in this process (no Dask) reuse this copy
    request_id = uuid4().hex
    logging_to = (log_dir, loaded.log, request_id)  # the params as read once
    with session():  # hashing and scoring on one cluster
        digest = sha256_tree(Path(input_dir))  # = sha256_paths([input_dir]), the files hashed in parallel
        meta = {"model": model_name, "version": ref.version, "model_uri": ref.model_uri, "alias": alias,
                "input": str(input_dir), "input_sha256": digest, "created_at": now_iso(), "request_id": request_id,
                "backend": loaded.backend}
        try:
            sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise StageInputError(f"{input_dir}: a part is not a readable Parquet file: {e}") from e
        starts = [sum(sizes[:i]) for i in range(len(files))]
        with held_log(log_dir, model_name, loaded.model.ckpt, loaded.log, request_id), \
                atomic_dir(Path(output_dir)) as tmp:  # the workers' rows join the log once the output is written
            done = map_parts(score_part, [(ref.model_uri, loaded.validation, loaded.manifest, f, chunk_rows,
                                           tmp / f"part-{i:05d}.parquet", meta, logging_to, start)
                                          for i, (f, start) in enumerate(zip(files, starts, strict=True))])
            rows, chunks, checks = (sum(d[k] for d in done) for k in range(3))
            if not rows:
                raise StageInputError(f"{input_dir}: no rows to score")
    log.info("batch: %s v%s scored %d rows in %d parts -> %s", model_name, ref.version, rows, len(files), output_dir)
    return BatchResult(model_name=model_name, version=ref.version, model_uri=ref.model_uri, input=Path(input_dir),
                       input_sha256=digest, output=Path(output_dir), rows=rows, chunks=chunks, checks_passed=checks,
                       request_id=request_id, backend=loaded.backend)


_MODELS: dict[str, Any] = {}  # per process (a Dask worker): the pinned model, loaded once for all its parts


def loaded_model(model_uri: str):
    """This process's copy of the pinned `model_uri` (the unwrapped pyfunc), loaded on first use."""
    if model_uri not in _MODELS:
        _MODELS.clear()
        _MODELS[model_uri] = registry.load_pyfunc(model_uri).unwrap_python_model()
    return _MODELS[model_uri]


def score_part(model_uri: str, cfg, manifest: dict, f: Path, chunk_rows: int | None, out: Path, meta: dict,
               logging_to: tuple[Path, InferenceLogConfig, str], start: int) -> tuple[int, int, int]:
    """Validate and score one input file into `out` with this process's copy of `model_uri`; its rows go to
    the inference log as rows `start`.. of the run's request, held until the driver commits or discards them."""
    log_dir, log_cfg, request_id = logging_to
    model = loaded_model(model_uri)
    check = kept_validator(cfg, manifest, "batch", require_label=False, chunks=True)
    chunks = checked_chunks(f, chunk_rows or default_chunk_rows(f), cfg, manifest, check=check)
    scorelog = open_log(log_dir, meta["model"], meta["version"], model.ckpt, log_cfg, "batch", hold=request_id)
    try:
        return write_predictions(model, chunks, out, meta, scorelog, request_id, start)
    finally:
        scorelog.close()


def write_predictions(model, chunks: Iterator[tuple[pd.DataFrame, Any]], out: Path, meta: dict, scorelog: Any,
                      request_id: str, start: int = 0, name: str | None = None) -> tuple[int, int, int]:
    """Score each checked chunk with the unwrapped pyfunc `model` into one Parquet file `out` whose schema
    metadata is `meta`, a sample to `scorelog` (rows numbered from `start`); returns (rows, chunks, checks
    passed). `name`: the chunk's column naming each row's file, copied first into the output (media folders).
    Nothing is written for no chunks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = n = checks = 0
    writer = None
    try:
        for chunk, report in chunks:
            scored = model.predict(None, chunk)
            scorelog.record(chunk, scored, request_id, start + rows)  # a sample (converted off this path)
            if name is not None:
                scored.insert(0, name, chunk[name].to_numpy())
            table = pa.Table.from_pandas(scored, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema.with_metadata({META_KEY: json.dumps(meta).encode()}),
                                          use_dictionary=dictionary_columns(table.schema))
            writer.write_table(table)
            rows, n, checks = rows + len(chunk), n + 1, checks + report.successful
    finally:
        if writer is not None:
            writer.close()
    return rows, n, checks


def checked_chunks(input_path: Path, chunk_rows: int, cfg, manifest: dict, kind: str | None = None,
                   check: Validator | None = None, columns: list[str] | None = None,
                   renames: dict[str, str] | None = None) -> Iterator[tuple[pd.DataFrame, Any]]:
    """The input's chunks (label dropped), each with its passing GX report; the first failing chunk raises
    DataValidationError naming the rows, the checks, counts and examples. `kind`: the input is a folder of
    that media kind's files. `check`: the Validator to use (a worker's, kept for all its parts; default a new
    one for this input). `columns`: the model's input columns; a chunk with others fails naming them (as
    `keel serve` does), before the suite, whose image checks only count the columns. `renames`: column names
    the model also takes (a text model's training column name, `ingest.text_column`) -> its own."""
    check = check or Validator(cfg, manifest, require_label=False, name="batch", chunks=True)
    start = 0
    chunks = media.scoring_chunks(input_path, kind, chunk_rows) if kind else read_chunks(input_path, chunk_rows)
    for chunk in chunks:
        chunk = chunk.drop(columns=[LABEL], errors="ignore")
        chunk = chunk.rename(columns={k: v for k, v in (renames or {}).items() if v not in chunk.columns})
        if columns is not None:
            try:
                columns_against([c for c in chunk.columns if c != SPLIT], columns)  # a split, as a suite allows
            except BadRequest as e:
                raise DataValidationError(f"{input_path}: {e}", [str(e)]) from e
        report = check(chunk)  # a fast pass; only a failing chunk is checked again for counts and examples
        if not report.success:
            raise DataValidationError(report.message(f"{input_path} rows {start}..{start + len(chunk) - 1}"),
                                      [f.describe() for f in report.failures])
        yield chunk, report
        start += len(chunk)


def read_metadata(path: Path) -> dict:
    """The Keel metadata stored in a predictions file (or a partitioned output: every part carries it)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():  # a partitioned output: every part carries the same metadata
        path = next(iter(sorted(path.glob("*.parquet"))), path)
    meta = pq.read_schema(path).metadata or {}
    if META_KEY not in meta:
        raise StageInputError(f"{path}: no Keel metadata (not written by keel predict)")
    return json.loads(meta[META_KEY])
