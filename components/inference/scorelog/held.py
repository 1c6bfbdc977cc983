"""A batch run's inference log is held until the run's output is written: nothing from a run that did not complete.

The run (the driver process) creates `_held/<model>/<request id>.lock` and holds a flock on it while it lives,
then the folder `_held/<model>/<request id>/` where its writers (this process, or the Dask workers scoring its
parts) put their segments and counters; each writer converts its segment into Parquet parts inside the folder
when it closes (on the workers, in parallel). On success the parts move into the log's partitions (renames)
and any segment left unconverted moves into `_wal/` and is converted; on failure the folder is deleted
(`discard`). A folder whose lock nobody holds belongs to
a run that was killed before its output was committed: `discard_dead` deletes it (from `recover`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pyarrow.parquet as pq

from components.core.io import atomic_path
from components.inference.scorelog import store
from components.inference.scorelog.locks import lock, same_file, try_lock
from components.inference.scorelog.rows import RowSummarizer
from components.inference.scorelog.segments import convert_unlocked, read_segment

log = logging.getLogger(__name__)


def segment_rows(folder: Path) -> int:
    """Rows in a held folder: its segments (complete record batches) and the Parquet parts its writers converted."""
    tables = [read_segment(p) for p in sorted(Path(folder).glob("*.arrows"))]
    parts = sorted(Path(folder).rglob("*.parquet"))
    return sum(t.num_rows for t in tables if t is not None) + sum(pq.read_metadata(p).num_rows for p in parts)


class HeldRun:
    """The held log of one batch run, locked by the process that will commit or discard it."""

    def __init__(self, log_dir: Path, model: str, request_id: str):
        root = store.held_dir(log_dir, model)
        root.mkdir(parents=True, exist_ok=True)
        self.lock_path, self.folder = root / f"{request_id}.lock", root / request_id
        while True:
            self._lock = lock(self.lock_path, "ab", wait=True)  # held until `release`; others only probe it
            if same_file(self.lock_path, self._lock):
                break
            self._lock.close()  # `discard_dead` took it for a dead run's between open and flock
        self.folder.mkdir()  # after the lock: a folder without its lock file is an orphan

    def release(self) -> None:
        """Delete the folder (what is left in it), then the lock file, then let go of the lock."""
        if self._lock.closed:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        self.lock_path.unlink(missing_ok=True)
        self._lock.close()

    def discard(self) -> int:
        """Delete what the run's writers held (the run failed); returns the rows deleted."""
        rows = segment_rows(self.folder)
        self.release()
        return rows

    def commit(self, log_dir: Path, model: str, summarizer: Callable[[], RowSummarizer]) -> None:
        """The run's output is written: the parts its writers converted move into the log, a segment one left
        joins it (moved to `_wal/`, where `recover` would find it if this process died now, then converted here
        with `summarizer()`, built only then) and its writers' counters go to `_stats/`."""
        wal, stats = store.wal_dir(log_dir, model), store.stats_dir(log_dir, model)
        wal.mkdir(parents=True, exist_ok=True)
        stats.mkdir(parents=True, exist_ok=True)
        parts = store.model_dir(self.folder, model)  # what the writers converted as they closed
        for part in sorted(parts.rglob("*.parquet")):
            target = store.model_dir(log_dir, model) / part.relative_to(parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            part.replace(target)  # a rename: the same file system
        moved = []
        for path in sorted(self.folder.glob("*.arrows")):  # a writer that could not convert (or was killed)
            moved.append(path.rename(wal / path.name))
        for path in sorted(self.folder.glob("*.json")):
            record = json.loads(path.read_text())
            record["counts"]["flushed"] = record["counts"]["logged"]  # converted just below
            with atomic_path(stats / path.name) as tmp:
                tmp.write_text(json.dumps(record))
        self.release()
        once = cache(summarizer)  # a copy of the model, built for the first segment left (usually none)
        for path in moved:
            convert_unlocked(log_dir, model, path, lambda v: once())


def discard_dead(log_dir: Path, model: str) -> int:
    """Delete the held segments of batch runs that died before their output was committed; returns their rows."""
    root = store.held_dir(log_dir, model)
    rows = 0
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.suffix == ".lock" or not entry.is_dir():
            continue
        lock_path = root / f"{entry.name}.lock"
        try:
            if (f := try_lock(lock_path)) is None:
                continue  # a live run's
        except FileNotFoundError:  # its lock is gone: the run released it (folder first), or a worker recreated it
            if not entry.exists():
                continue  # committed or discarded meanwhile
            f = None
        try:
            n = segment_rows(entry)
            shutil.rmtree(entry, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            rows += n
            if n:
                log.warning("inference log %s: deleted %d rows held by batch run %s, which ended before writing "
                            "its output", model, n, entry.name)
        finally:
            if f is not None:
                f.close()
    for lock_path in root.glob("*.lock") if root.is_dir() else []:  # a run killed between lock and folder
        if not lock_path.with_suffix("").exists():
            try:
                if (f := try_lock(lock_path)) is None:
                    continue
            except FileNotFoundError:
                continue
            with f:
                if not lock_path.with_suffix("").exists():
                    lock_path.unlink(missing_ok=True)
    return rows
