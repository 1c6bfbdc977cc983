"""Prefect retry options shared by the flows: retry what may pass (I/O, a busy or unreachable store), never a
Keel error about the input or a refusal."""

from __future__ import annotations

from typing import Any

from components.core.errors import KeelError


def transient(task, task_run, state) -> bool:
    """Retry only errors that may pass: Keel errors are final (about the input, or a refusal) unless they are
    marked transient (an unreachable tracking store)."""
    try:
        state.result()
    except KeelError as e:
        return e.transient
    except Exception:
        return True
    return False


def io_retries(retries: int = 2, delay_s: float = 2) -> dict[str, Any]:
    """Task options: `retries` more tries after a transient failure, `delay_s` apart."""
    return {"retries": retries, "retry_delay_seconds": delay_s, "retry_condition_fn": transient}
