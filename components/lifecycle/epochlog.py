"""The one per-epoch metrics path: each epoch's figures go to the MLflow run and, when a folder is given, to
dvclive (`<live_dir>/metrics.json` + `<live_dir>/plots/metrics/<name>.tsv`, rewritten after every epoch), so
`dvc plots show`, `dvc metrics show` and `dvc exp show` see a run while it trains. Both receive the same
numbers from the same call: there is no second list of metrics to keep in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.lifecycle.tracking import MetricBuffer, log_missing_steps


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric figures of one step (None and other values are skipped, for MLflow and dvclive alike)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class EpochLog:
    """Per-step metrics to MLflow (batched, components/lifecycle/tracking.MetricBuffer) and to dvclive."""

    def __init__(self, run_id: str, live_dir: Path | None = None):
        self.run_id = run_id
        self.mlflow = MetricBuffer(run_id)
        self.live = None
        if live_dir is not None:
            from dvclive import Live

            # no dvc.yaml edits (Keel generates it), no experiment of its own, no HTML report
            self.live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)

    def add(self, metrics: Mapping[str, Any], step: int) -> None:
        """One step's figures, to both."""
        values = numeric(metrics)
        self.mlflow.add(values, step=step)
        self._live(values, step)

    def replay(self, per_step: Mapping[int, Mapping[str, Any]]) -> None:
        """Steps trained before a resume: those MLflow lacks to MLflow, all of them to dvclive (its folder is an
        output DVC deletes before it re-runs the stage)."""
        values = {step: numeric(m) for step, m in sorted(per_step.items())}
        log_missing_steps(self.run_id, values)
        for step, m in values.items():
            self._live(m, step)

    def _live(self, values: dict[str, float], step: int) -> None:
        if self.live is None:
            return
        self.live.step = step
        for k, v in values.items():
            self.live.log_metric(k, v)
        self.live.next_step()  # writes metrics.json (with this step) now

    def flush(self) -> None:
        """Send what MLflow has not received yet."""
        self.mlflow.flush()

    def close(self) -> None:
        """Flush MLflow and end dvclive (no-op when already closed)."""
        self.flush()
        if self.live is not None:
            self.live.end()
            self.live = None
