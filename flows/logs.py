"""Component logs in the Prefect UI: the `components` loggers get Prefect's API log handler (what
PREFECT_LOGGING_EXTRA_LOGGERS=components does at process start, here for every way a flow is started), so
each stage's own log lines appear in its task run's logs. Records logged outside a flow or task run (the
CLI, a test) are not sent: Prefect would warn about them."""

from __future__ import annotations

import logging

from prefect.logging.handlers import APILogHandler

COMPONENTS = "components"


class _RunLogs(APILogHandler):
    """Prefect's API handler, for records logged inside a flow or task run only."""

    def emit(self, record: logging.LogRecord) -> None:
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
            super().emit(record)


def send_component_logs(level: int = logging.INFO) -> None:
    """Send `components` log records at `level` and above to the run's logs in the Prefect API (once per
    process; idempotent)."""
    target = logging.getLogger(COMPONENTS)
    if not any(isinstance(h, _RunLogs) for h in target.handlers):
        handler = _RunLogs()
        handler.setLevel(level)
        target.addHandler(handler)
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
