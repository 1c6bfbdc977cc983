"""Writing the inference log without slowing scoring down or losing what was acknowledged.

`record` (on the scoring path) samples the rows and appends their raw inputs and predictions to a write-ahead
segment (Arrow IPC, flushed to the OS: a killed process loses nothing `record` returned for); a background
thread turns each closed segment into Parquet partitions (features, embeddings: the model's pass happens
there) every `flush_s` and at `close` (also run at interpreter exit). A segment is locked (flock) by its
writer while it lives; `recover` converts the segments a dead writer left. Rows beyond `max_pending_rows`
waiting for conversion are dropped and counted, so a stalled disk never grows memory or blocks scoring.
A batch run's log is held (`held_log`, held.py): nothing of it joins the log unless its output is written.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from components.config.monitor import InferenceLogConfig
from components.core.io import atomic_path
from components.inference.scorelog import store
from components.inference.scorelog.held import HeldRun, discard_dead
from components.inference.scorelog.rows import RowSummarizer, prediction_of
from components.inference.scorelog.segments import Segment, convert, convert_unlocked
from components.inference.scorelog.segtable import segment_table

log = logging.getLogger(__name__)
COUNTS = ("seen", "sampled_out", "logged", "dropped", "flushed")


def recover(log_dir: Path, model: str, summarizer_for: Callable[[str], RowSummarizer | None]) -> int:
    """Convert the segments writers left behind when they died (unlocked ones); `summarizer_for(version)` gives
    the summarizer of the version that scored them (None: leave the segment for someone who has it). The held
    segments of batch runs that died before writing their output are deleted, not converted."""
    discard_dead(log_dir, model)
    root = store.wal_dir(log_dir, model)
    return sum(convert_unlocked(log_dir, model, path, summarizer_for) or 0
               for path in (sorted(root.glob("*.arrows")) if root.is_dir() else []))


class InferenceLog:
    """The log writer of one model version in one process: `record` per scored batch, `close` at the end."""

    def __init__(self, log_dir: Path, model: str, version: str, summarizer: RowSummarizer, cfg: InferenceLogConfig,
                 source: str, hold: str | None = None):
        """`hold`: the request id of a batch run (`held_log`): segments go to its held folder, unconverted, and
        the run commits or discards them."""
        self.log_dir, self.model, self.version, self.source = Path(log_dir), model, str(version), source
        self.hold = hold
        self._segments = store.held_dir(log_dir, model) / hold if hold else store.wal_dir(log_dir, model)
        self.summarizer, self.cfg = summarizer, cfg
        self.counts = dict.fromkeys(COUNTS, 0)
        self._lock, self._wake, self._stop = threading.Lock(), threading.Event(), threading.Event()
        self._segment: Segment | None = None
        self._sealed: list[Segment] = []
        self._pending = 0
        self._rng = np.random.default_rng()
        self._offsets: tuple[str, int] = ("", 0)  # request id -> next row position (batch files: chunk after chunk)
        self._id = store.segment_id()
        self._stats = (self._segments if hold else store.stats_dir(log_dir, model)) / f"{self._id}.json"
        self._convert_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"keel-log-{model}", daemon=True)
        if not hold:  # a held log is converted by its run's commit, not while the run lives
            self._thread.start()
        atexit.register(self.close)

    def record(self, inputs: pd.DataFrame, outputs: pd.DataFrame, request_id: str | None = None,
               start: int | None = None) -> str:
        """Log (a sample of) one scored batch; returns its request id. Never raises: a failure is counted.
        `start`: the position of its first row in the request (default: after the request's previous batch
        in this process; a part of a partitioned input scored elsewhere gives its offset)."""
        return self.record_many(inputs, outputs, [(request_id, len(inputs))], start)[0]

    def record_many(self, inputs: pd.DataFrame, outputs: pd.DataFrame, parts: list[tuple[str | None, int]],
                    start: int | None = None) -> list[str]:
        """`record` for a batch that several requests share (a server scores them together): `parts` are
        (request id or None, rows), in row order; returns the request ids. One append for them all."""
        ids = [rid or uuid.uuid4().hex for rid, _ in parts]
        try:
            with self._lock:
                starts = []
                for rid, (_, n) in zip(ids, parts, strict=True):
                    first = start if start is not None else self._offsets[1] if self._offsets[0] == rid else 0
                    self._offsets = (rid, first + n)
                    starts.append(first)
                sizes = np.array([n for _, n in parts], dtype=np.int64)
                part = np.repeat(np.arange(len(parts)), sizes)  # each row's request
                rows = np.arange(len(inputs)) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.array(starts)[part]
                self._append(inputs, outputs, np.array(ids, dtype=object)[part], rows)
        except Exception:  # noqa: BLE001 - the log must never fail a scoring call
            self.counts["dropped"] += len(inputs)
            log.warning("inference log %s: could not write %d rows", self.model, len(inputs), exc_info=True)
        return ids

    def _append(self, inputs: pd.DataFrame, outputs: pd.DataFrame, ids: np.ndarray, rows: np.ndarray) -> None:
        n = len(inputs)
        self.counts["seen"] += n
        keep = np.flatnonzero(self._rng.random(n) < self.cfg.sample)
        if len(keep) > self.cfg.max_rows_per_call:
            keep = np.sort(self._rng.choice(keep, self.cfg.max_rows_per_call, replace=False))
        self.counts["sampled_out"] += n - len(keep)
        if len(keep) == 0:
            return
        if not self.hold and self._pending + len(keep) > self.cfg.max_pending_rows:  # converter behind: shed
            self.counts["dropped"] += len(keep)
            return
        meta = {"ts": pd.Timestamp.now(tz="UTC"), "version": self.version, "request_id": ids[keep],
                "row": rows[keep].astype(np.int64), "source": self.source}
        present = set(inputs.columns.tolist())
        table = segment_table(meta, prediction_of(inputs, outputs), inputs,
                              [c for c in self.summarizer.columns if c in present], keep)
        if self._segment is None:
            self._segment = Segment(self._segments / f"{store.segment_id()}.arrows")
        self._segment.append(table)
        self._pending += len(keep)
        self.counts["logged"] += len(keep)

    def flush(self) -> None:
        """Seal the current segment and convert every sealed one to Parquet (the background thread's job)."""
        with self._lock:
            if self._segment is not None:
                self._segment.seal()
                self._sealed.append(self._segment)
                self._segment = None
        with self._convert_lock:
            while self._sealed:
                seg = self._sealed[0]
                rows = convert(self.log_dir, self.model, seg.path, self.summarizer)
                seg.done()
                with self._lock:
                    self._sealed.pop(0)
                    self._pending -= seg.rows
                    self.counts["flushed"] += rows
            store.prune(self.log_dir, self.model, self.cfg.max_mb * 2**20)
            self._write_stats()

    def _write_stats(self) -> None:
        with atomic_path(self._stats) as tmp:
            tmp.write_text(json.dumps({"model": self.model, "version": self.version, "source": self.source,
                                       "pid": os.getpid(), "counts": dict(self.counts)}))

    def _run(self) -> None:
        try:  # what an earlier process of this version left when it was killed
            recover(self.log_dir, self.model, lambda v: self.summarizer if v == self.version else None)
        except Exception:  # noqa: BLE001
            log.warning("inference log %s: recovery failed", self.model, exc_info=True)
        while not self._stop.is_set():
            self._wake.wait(self.cfg.flush_s)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep logging; the segment stays for `recover`
                log.warning("inference log %s: conversion failed", self.model, exc_info=True)

    def close(self) -> None:
        """Stop the background thread and convert what is left (idempotent; also runs at exit)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self.hold:  # convert the segment here (on a Dask worker: in parallel); its run moves or deletes the parts
            with self._lock:
                seg, self._segment = self._segment, None
            if seg is not None:
                seg.seal()
                try:  # Parquet parts inside the held folder; the segment's name names them (a redo replaces)
                    self.counts["flushed"] += convert(self._segments, self.model, seg.path, self.summarizer)
                    seg.done()
                except Exception:  # noqa: BLE001 - the sealed segment stays; the run's commit converts it
                    log.warning("inference log %s: converting a held segment failed", self.model, exc_info=True)
                    seg.file.close()
            self._write_stats()
        else:
            self._wake.set()
            self._thread.join(timeout=60)
            self.flush()
        atexit.unregister(self.close)


class NoLog:
    """What a scorer gets when the log is off: `record` only hands out request ids."""

    counts: dict[str, int] = {}

    def record(self, inputs: pd.DataFrame, outputs: pd.DataFrame, request_id: str | None = None,
               start: int | None = None) -> str:
        return request_id or uuid.uuid4().hex

    def record_many(self, inputs: pd.DataFrame, outputs: pd.DataFrame, parts: list[tuple[str | None, int]],
                    start: int | None = None) -> list[str]:
        return [rid or uuid.uuid4().hex for rid, _ in parts]

    def close(self) -> None:
        return None


@contextmanager
def held_log(log_dir: Path, model: str, ckpt, cfg: InferenceLogConfig, request_id: str) -> Iterator[None]:
    """The inference log of a batch run `request_id`: its writers (`open_log(..., hold=request_id)`, here or on
    Dask workers) hold their rows until the block completes (after the output is committed), then they join the
    log; if the block raises they are deleted; if the process dies, `recover` deletes them. `cfg`: `monitor.log`."""
    if not cfg.enabled:
        yield
        return
    run = HeldRun(log_dir, model, request_id)
    try:
        yield
    except BaseException:
        rows = run.discard()
        log.info("inference log %s: the run failed; %d held rows of request %s deleted", model, rows, request_id)
        raise
    try:
        run.commit(log_dir, model, lambda: RowSummarizer(ckpt, cfg))
        store.prune(log_dir, model, cfg.max_mb * 2**20)
    except Exception:  # noqa: BLE001 - the output is written; what was not converted stays for `recover`
        log.warning("inference log %s: converting request %s failed", model, request_id, exc_info=True)
        run.release()


def open_log(log_dir: Path, model: str, version: str, ckpt, cfg: InferenceLogConfig, source: str,
             hold: str | None = None) -> InferenceLog | NoLog:
    """The log writer for a scorer of `model` `version` (`source`: serve | batch), per `monitor.log`; `hold`:
    the request id of the batch run (`held_log`) whose rows it writes; `cfg`: `monitor.log` (`Loaded.log`)."""
    if not cfg.enabled:
        return NoLog()
    return InferenceLog(log_dir, model, version, RowSummarizer(ckpt, cfg), cfg, source, hold)
