"""Online scoring, off the event loop: each request's table is checked (the family's GX suite, as batch
scoring runs it), queued, and scored together with the requests that queued while the previous batch ran.

One thread scores (the model is not shared between threads); while it works, new requests wait in the queue,
and the next batch takes all of them (up to `max_batch_rows`): no delay is added to a lone request, and under
load the per-call cost of the model is shared. A family whose samples span rows (a series: one forecast
from a whole history) is scored one request at a time. Every scored batch goes through `Scorer.score_batch`,
the one call site of the model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from components.data.failures import ValidationReport
from components.data.matrixgate import MatrixGate
from components.data.suitecheck import SuiteCheck
from components.data.validator import Validator
from components.inference.predict import forward, predict, to_frame
from components.inference.scorelog.writer import InferenceLog, NoLog
from components.serving.loaded import Loaded
from components.serving.payload import BadRequest, Table

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The server cannot take or finish the request in time (HTTP 503)."""


@dataclass
class Job:
    table: Table
    options: dict[str, float] = field(default_factory=dict)  # the task's per-call settings (detection thresholds)
    request_id: str | None = None  # the client's (X-Request-Id), else the inference log makes one
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Checks:
    """The family's suite on one request: a request of numbers that passes it is told in microseconds
    (components/data/matrixgate.py); any other is checked compiled (components/data/suitecheck.py) where that
    can be exact, else by GX itself (one Validator, serialised: it is not thread-safe)."""

    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.fast = SuiteCheck(loaded.validation, loaded.manifest)
        self.gate = MatrixGate(self.fast, loaded.columns)
        if not self.gate.enabled:
            log.info("serve: every request gets the full checks (%s)", self.gate.why)
        self._gx: Validator | None = None
        self._lock = threading.Lock()
        self.unsupported = self.fast.supported(self._columns())
        if self.unsupported:
            log.warning("serve: the suite has checks only GX can run (%s): each request runs GX (~60 ms or more)",
                        ", ".join(self.unsupported))

    def _columns(self) -> list[str]:
        from components.data.suites import derive

        frame = pd.DataFrame({c: [] for c in self.loaded.columns})
        kind = self.loaded.manifest["kind"]
        return list(derive(kind, frame, self.loaded.validation, self.loaded.manifest).columns)

    def __call__(self, table: Table) -> ValidationReport:
        frame = table.to_frame(self.loaded.columns)
        report = self.fast(frame)
        if report is not None:
            return report
        with self._lock:
            if self._gx is None:
                self._gx = Validator(self.loaded.validation, self.loaded.manifest, require_label=False, name="serve")
            return self._gx(frame)

    def passes(self, table: Table) -> bool:
        """True: the table passes the suite (decided in microseconds). False: `verify` decides (milliseconds)."""
        return table.matrix is not None and self.gate(table.matrix)

    def require(self, table: Table) -> None:
        """BadRequest (422) naming every failed check: the quick check, then the full ones if it does not pass."""
        if not self.passes(table):
            self.verify(table)

    def verify(self, table: Table) -> None:
        """The full checks alone (for a table the quick check did not pass): BadRequest (422) naming every failed
        check."""
        report = self(table)
        if not report.success:
            for f in report.failures:  # a 6,000-character text need not come back whole
                f.examples = [f"{e[:60]}..." if isinstance(e, str) and len(e) > 60 else e for e in f.examples]
            raise BadRequest(report.message(f"request ({table.rows} row(s))").replace("\n  - ", "; ")
                             .replace(":;", ":"))


class Scorer:
    """Batches checked requests and scores them on one thread; `timeout_s` bounds a request's wait. `scorelog`
    (components/inference/scorelog) gets each scored batch, once for all its requests, before they are answered:
    what a client was answered is logged."""

    def __init__(self, loaded: Loaded, max_batch_rows: int = 2048, timeout_s: float = 30.0,
                 max_queued_rows: int = 200_000, scorelog: InferenceLog | NoLog | None = None):
        self.loaded, self.max_batch_rows, self.timeout_s = loaded, max_batch_rows, timeout_s
        self.max_queued_rows, self.scorelog = max_queued_rows, scorelog or NoLog()
        transform = loaded.ckpt.transform
        self.rowwise = not hasattr(transform, "serving_features")  # a series forecasts from the whole request
        self.lean = self.rowwise and hasattr(transform, "features_array")
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keel-score")
        self.queue: asyncio.Queue[Job] | None = None
        self.queued_rows = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def score(self, table: Table, options: dict[str, float] | None = None,
                    request_id: str | None = None) -> tuple[dict[str, list[Any]], str]:
        """The request's output columns (name -> values) and its request id (in the inference log), or
        Overloaded. `options`: the task's per-call settings; `request_id`: the client's."""
        if self.queued_rows + table.rows > self.max_queued_rows:
            raise Overloaded(f"server busy: {self.queued_rows} rows are waiting to be scored; retry later")
        job = Job(table, options or {}, request_id)
        self.queued_rows += table.rows
        self.queue.put_nowait(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job.done), self.timeout_s)
        except TimeoutError:
            raise Overloaded(f"scoring did not finish within {self.timeout_s:g} s (--timeout); retry later, "
                             "or send fewer rows per request") from None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        waiting: Job | None = None  # taken from the queue, but asked for other options than the batch before it
        while True:
            jobs = [waiting or await self.queue.get()]
            waiting, rows = None, jobs[0].table.rows
            while self.rowwise and not self.queue.empty() and rows < self.max_batch_rows:
                job = self.queue.get_nowait()
                if job.options != jobs[0].options:
                    waiting = job
                    break
                jobs.append(job)
                rows += job.table.rows
            try:
                outputs = await loop.run_in_executor(self.pool, self.scored, jobs)
                for job, out in zip(jobs, outputs, strict=True):
                    if not job.done.done():
                        job.done.set_result(out)
            except Exception as e:  # noqa: BLE001 - the batch's requests get the error; the loop keeps serving
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(e)
            finally:
                self.queued_rows -= rows

    def scored(self, jobs: list[Job]) -> list[tuple[dict[str, list[Any]], str]]:
        """Score one batch (`score_batch`), log it (one append for all its requests), split the answers."""
        inputs, out = self.score_batch([j.table for j in jobs], jobs[0].options)
        if callable(inputs):  # made only for a log that keeps them
            inputs = None if isinstance(self.scorelog, NoLog) else inputs()
        ids = self.scorelog.record_many(inputs, out, [(j.request_id, j.table.rows) for j in jobs])
        values = {str(c): v.tolist() for c, v in out.items()}
        if not self.rowwise:
            return [(values, ids[0])]
        result, start = [], 0
        for job, request_id in zip(jobs, ids, strict=True):
            result.append(({c: v[start:start + job.table.rows] for c, v in values.items()}, request_id))
            start += job.table.rows
        return result

    def score_batch(self, tables: list[Table], options: dict[str, float] | None = None) -> tuple[Any, pd.DataFrame]:
        """Score the tables of one batch together (with the task's per-call `options`): the one place the model
        runs. Returns the batch's input frame (or a function making it: numbers need none to be scored) and its
        output frame (the pyfunc's columns; one row per input row, or one forecast for a series)."""
        ckpt, columns = self.loaded.ckpt, self.loaded.columns
        if self.lean and all(t.matrix is not None for t in tables):  # numbers only: no pandas on the way in
            matrix = tables[0].matrix if len(tables) == 1 else np.concatenate([t.matrix for t in tables])
            predictions = forward(ckpt, ckpt.transform.features_array(matrix), options=options)
            inputs: Any = lambda: pd.DataFrame(matrix, columns=columns)  # noqa: E731 - only the log needs it
        else:
            frames = [t.to_frame(columns) for t in tables]
            inputs = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            predictions = predict(ckpt, inputs, serving=True, options=options)
        return inputs, to_frame(ckpt, predictions, options)
