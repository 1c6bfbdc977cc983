"""Prefect retry options shared by the flows: retry what may pass (I/O, a busy store), never a Keel error."""

from __future__ import annotations

from typing import Any

from components.core.errors import KeelError


def transient(task, task_run, state) -> bool:
    """Retry only errors that may pass; Keel errors are about the input (or a refusal) and final."""
    try:
        state.result()
    except KeelError:
        return False
    except Exception:
        return True
    return False


def io_retries(retries: int = 2, delay_s: float = 2) -> dict[str, Any]:
    """Task options: `retries` more tries after a transient failure, `delay_s` apart."""
    return {"retries": retries, "retry_delay_seconds": delay_s, "retry_condition_fn": transient}
