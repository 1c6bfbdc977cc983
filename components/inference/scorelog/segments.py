"""Write-ahead segments: one Arrow IPC stream per writer, flushed to the OS on every append; converting one into
the log's Parquet parts (features, embeddings: the model's pass happens here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from components.inference.scorelog import store
from components.inference.scorelog.locks import lock, same_file, try_lock
from components.inference.scorelog.rows import FEATURE, RowSummarizer


class Segment:
    """One write-ahead file, locked by the process writing it until it is converted and deleted."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.file = path, lock(path, "wb")  # lives until `done`
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None
        self.rows = 0

    def append(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pa.ipc.new_stream(self.file, table.schema)
        self.writer.write_table(table)
        self.file.flush()  # in the OS's hands: survives the process
        self.rows += table.num_rows

    def seal(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.file.flush()

    def done(self) -> None:
        """Delete the file, then release the lock."""
        self.path.unlink(missing_ok=True)
        self.file.close()


def read_segment(path: Path) -> pa.Table | None:
    """The complete record batches of a segment (a torn last one, from a killed writer, was never acknowledged)."""
    batches = []
    try:
        with pa.ipc.open_stream(pa.BufferReader(Path(path).read_bytes())) as reader:
            for batch in reader:
                batches.append(batch)
    except (pa.ArrowInvalid, OSError):
        pass
    return pa.Table.from_batches(batches) if batches else None


def to_log_table(raw: pa.Table, summarizer: RowSummarizer) -> pa.Table:
    """A segment's rows (meta + raw inputs + prediction) -> log rows (meta, f.<feature>, prediction, embedding)."""
    frame = raw.to_pandas()
    inputs = frame[[c for c in summarizer.columns if c in frame.columns]]
    out = frame[store.META].reset_index(drop=True)
    feats = summarizer.features(inputs).add_prefix(FEATURE)
    out = pd.concat([out, feats], axis=1)
    if store.PREDICTION in frame.columns:
        out[store.PREDICTION] = frame[store.PREDICTION].to_numpy()
    table = pa.Table.from_pandas(out, preserve_index=False)
    emb = summarizer.embeddings(inputs)
    if emb is not None and len(emb):
        flat = pa.array(np.ascontiguousarray(emb, dtype=np.float32).ravel())
        table = table.append_column(store.EMBEDDING, pa.FixedSizeListArray.from_arrays(flat, emb.shape[1]))
    return table


def convert(log_dir: Path, model: str, path: Path, summarizer: RowSummarizer) -> int:
    """Turn one sealed segment into Parquet parts; returns the rows written."""
    raw = read_segment(path)
    if raw is None:
        return 0
    store.write_parts(log_dir, model, path.stem, to_log_table(raw, summarizer))
    return raw.num_rows


def convert_unlocked(log_dir: Path, model: str, path: Path,
                     summarizer_for: Callable[[str], RowSummarizer | None]) -> int | None:
    """Convert and delete the segment `path` if no writer holds it (rows written; None: left alone, a live writer's,
    gone, or no summarizer for its version)."""
    try:
        if (f := try_lock(path)) is None:
            return None  # a live writer's
    except FileNotFoundError:
        return None  # converted by someone else
    with f:
        if not same_file(path, f):
            return None  # converted by someone else meanwhile
        raw = read_segment(path)
        versions = [] if raw is None else sorted(set(raw.column("version").to_pylist()))
        summarizer = summarizer_for(versions[0]) if len(versions) == 1 else None
        if raw is not None and summarizer is None:
            return None
        rows = convert(log_dir, model, path, summarizer) if raw is not None else 0
        path.unlink(missing_ok=True)
        return rows
