"""promotion_flow: the same gate as `keel promote`; when params require approval, the flow pauses for a
human decision in the Prefect UI before moving the alias. The gate report is a markdown artifact of the run
(key `gate-<model>`) and the description of the approval form, so the reviewer reads what they approve.
Run locally:

    python -m flows.promotion_flow digits-cnn [--version N]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from prefect import flow, get_run_logger, pause_flow_run, task
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput
from pydantic import BaseModel

from components.core import paths
from components.lifecycle import promote
from flows.logs import send_component_logs
from flows.retries import io_retries


class Approval(RunInput):
    """The form shown in the Prefect UI when the flow pauses."""

    approve: bool = False
    reviewer: str = ""
    comment: str = ""


class PromotionSummary(BaseModel):
    """How one promotion flow run ended."""

    model_name: str
    version: str
    promoted: bool
    outcome: str  # promoted | refused | rejected | timed out
    reasons: list[str]
    report: str
    ledger_id: int | None = None


@task(name="gate")
def gate_task(model: str, version: str | None, params_path: str, features_dir: str) -> promote.Gate:
    return promote.prepare(model, version, params_path, features_dir)


@task(name="review")
def review_task(g: promote.Gate, approved: bool | None, reviewer: str | None, comment: str | None) -> None:
    promote.record_review(g, approved, reviewer, comment)


@task(name="move-alias", **io_retries(delay_s=1))  # a refusal or a concurrent move is final
def commit_task(g: promote.Gate, user: str | None):
    return promote.commit(g, user)


def report_key(model: str) -> str:
    """The artifact key of `model`'s gate reports (Prefect keys: lowercase letters, digits, dashes)."""
    return "gate-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


@flow(name="promotion", log_prints=True)
def promotion_flow(model: str, version: str | None = None, params_path: str = str(paths.PARAMS),
                   features_dir: str = str(paths.FEATURES_DIR), approval_timeout_s: int | None = None,
                   approval_poll_s: int = 5) -> PromotionSummary:
    """Gate a version against @production; pause for approval if params say so; move the alias."""
    send_component_logs()
    logger = get_run_logger()
    g = gate_task(model, version, params_path, features_dir)
    d = g.decision
    report = Path(g.report_md).read_text()
    create_markdown_artifact(markdown=report, key=report_key(model),
                             description=f"gate report: {model} v{d.candidate_version} vs @{g.alias}")

    def end(outcome: str, reasons: list[str], entry=None) -> PromotionSummary:
        logger.info("%s v%s: %s (%s)", model, d.candidate_version, outcome, "; ".join(reasons))
        return PromotionSummary(model_name=model, version=d.candidate_version, promoted=entry is not None,
                                outcome=outcome, reasons=reasons, report=str(g.report_md),
                                ledger_id=entry.id if entry else None)

    if not d.promote:
        return end("refused", d.reasons)
    user = None
    if g.approval_required:
        timeout = approval_timeout_s or g.approval_timeout_s
        logger.info("gate passed; waiting up to %d s for a reviewer (resume the run in the UI)", timeout)
        try:
            form = Approval.with_initial_data(description=report)  # the report above the form's fields
            answer = pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=approval_poll_s)
        except FlowPauseTimeout:
            review_task(g, None, None, None)
            return end("timed out", d.reasons + [f"no approval within {timeout} s"])
        review_task(g, answer.approve, answer.reviewer, answer.comment)
        if not answer.approve:
            return end("rejected", d.reasons + [f"rejected by {answer.reviewer or 'a reviewer'}: {answer.comment}"])
        user = answer.reviewer or None
    entry = commit_task(g, user)
    return end("promoted", d.reasons, entry)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Gate (and, if approved, promote) a model version.")
    parser.add_argument("model")
    parser.add_argument("--version")
    parser.add_argument("--params", default=str(paths.PARAMS))
    a = parser.parse_args()
    print(promotion_flow(a.model, a.version, a.params).model_dump_json(indent=2))
