"""The log's layout on disk: partitions by model and day, reading a window back, the size bound, feedback."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from components.core.errors import StageInputError
from components.core.io import atomic_path

META = ["ts", "version", "request_id", "row", "source"]  # the columns every log row has
PREDICTION, EMBEDDING = "prediction", "embedding"
FEEDBACK = "feedback"


def model_dir(log_dir: Path, model: str) -> Path:
    """The folder holding a model's partitions."""
    return Path(log_dir) / f"model={model}"


def wal_dir(log_dir: Path, model: str) -> Path:
    """Write-ahead segments of a model (rows acknowledged but not yet in Parquet)."""
    return Path(log_dir) / "_wal" / model


def held_dir(log_dir: Path, model: str) -> Path:
    """Segments of batch runs still in progress, one folder per request id (each with a `<id>.lock` beside it)."""
    return Path(log_dir) / "_held" / model


def stats_dir(log_dir: Path, model: str) -> Path:
    """One counters file per writer (per segment series) of a model."""
    return Path(log_dir) / "_stats" / model


def segment_id() -> str:
    """A new segment's name: creation time (ns, sortable) and process id."""
    return f"{time.time_ns():020d}-{os.getpid()}"


def write_parts(log_dir: Path, model: str, segment: str, table: pa.Table) -> list[Path]:
    """Write a converted segment as one Parquet file per day; the names come from the segment, so writing the
    same segment again (a recovery after a crash between writing and deleting it) replaces, not duplicates."""
    days = pc.strftime(table["ts"], format="%Y-%m-%d").to_numpy(zero_copy_only=False)
    written = []
    for day in sorted(set(days)):
        part = table.filter(pa.array(days == day))
        path = model_dir(log_dir, model) / f"date={day}" / f"part-{segment}-{day}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(part, tmp)
        written.append(path)
    return written


def part_files(log_dir: Path, model: str) -> list[Path]:
    """Every Parquet file of a model's log, oldest segment first."""
    root = model_dir(log_dir, model)
    return sorted(root.glob("date=*/part-*.parquet"), key=lambda p: p.name) if root.is_dir() else []


def part_name(path: Path) -> str:
    """A part's name relative to its model's folder (`date=<day>/part-....parquet`): how a check remembers it."""
    return f"{Path(path).parent.name}/{Path(path).name}"


def read_window(log_dir: Path, model: str, since: datetime | None = None, until: datetime | None = None,
                exclude: set[str] | None = None, only: set[str] | None = None) -> tuple[pd.DataFrame, list[Path]]:
    """The log rows of `model` scored in [since, until), from the parts not in `exclude` and, given `only`, in
    it (`keel monitor`'s `window: new` excludes the parts earlier checks read). Returns the rows and the files
    read."""
    files = [f for f in part_files(log_dir, model)
             if part_name(f) not in (exclude or set()) and (only is None or part_name(f) in only)]
    if not files:
        return pd.DataFrame(columns=META), []
    frame = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive").to_pandas()
    keep = np.ones(len(frame), dtype=bool)
    if since is not None:
        keep &= (frame["ts"] >= pd.Timestamp(since)).to_numpy()
    if until is not None:
        keep &= (frame["ts"] < pd.Timestamp(until)).to_numpy()
    return frame[keep].reset_index(drop=True), files


def log_bytes(log_dir: Path, model: str) -> int:
    """Size of a model's Parquet log."""
    return sum(f.stat().st_size for f in part_files(log_dir, model))


def prune(log_dir: Path, model: str, max_bytes: int) -> list[Path]:
    """Delete the oldest days until the model's log fits in `max_bytes` (today is never deleted)."""
    root = model_dir(log_dir, model)
    days = sorted(root.glob("date=*")) if root.is_dir() else []
    today = f"date={datetime.now(UTC):%Y-%m-%d}"
    removed, total = [], log_bytes(log_dir, model)
    for day in days:
        if total <= max_bytes or day.name >= today:
            break
        total -= sum(f.stat().st_size for f in day.glob("*.parquet"))
        shutil.rmtree(day)
        removed.append(day)
    return removed


def read_stats(log_dir: Path, model: str) -> dict[str, int]:
    """The writers' counters of a model, summed (seen, sampled_out, logged, dropped, flushed)."""
    total: dict[str, int] = {}
    root = stats_dir(log_dir, model)
    for f in sorted(root.glob("*.json")) if root.is_dir() else []:
        for k, v in json.loads(f.read_text()).get("counts", {}).items():
            total[k] = total.get(k, 0) + int(v)
    return total


FEEDBACK_COLUMNS = ["request_id", "row", "label"]


def write_feedback(log_dir: Path, model: str, labels: pd.DataFrame) -> Path:
    """Store labels (`request_id`, `row`, `label`) that arrived after scoring; `keel monitor` joins them."""
    missing = [c for c in FEEDBACK_COLUMNS if c not in labels.columns]
    if missing:
        raise StageInputError(f"feedback needs columns request_id, row, label; missing {missing}")
    frame = labels[FEEDBACK_COLUMNS].assign(received=pd.Timestamp.now(tz="UTC"))
    frame = frame.astype({"request_id": str, "row": "int64"})
    path = Path(log_dir) / FEEDBACK / f"model={model}" / f"part-{segment_id()}.parquet"
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def feedback_files(log_dir: Path, model: str) -> list[Path]:
    """The stored labels files of `model`, oldest first."""
    root = Path(log_dir) / FEEDBACK / f"model={model}"
    return sorted(root.glob("part-*.parquet")) if root.is_dir() else []


def read_feedback(log_dir: Path, model: str, exclude: set[str] | None = None) -> pd.DataFrame:
    """Every label received for `model`, the latest per (request_id, row); with `exclude` (file names), only
    the labels whose latest value came in another file (`keel monitor`: labels that arrived since a check)."""
    files = feedback_files(log_dir, model)
    if not files:
        return pd.DataFrame(columns=FEEDBACK_COLUMNS)
    frame = pd.concat([pd.read_parquet(f).assign(file=f.name) for f in files], ignore_index=True)
    frame = frame.sort_values("received", kind="stable").drop_duplicates(["request_id", "row"], keep="last")
    return frame[~frame["file"].isin(exclude or set())][FEEDBACK_COLUMNS]
