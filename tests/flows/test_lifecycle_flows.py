"""Lifecycle flows on the real Prefect engine: promotion_flow pauses for a reviewer and moves the alias
only on approval (rejection and timeout end "not promoted"); batch_inference_flow scores a file with
the version that approval put in production."""

import threading
import time

import pytest
from mlflow import MlflowClient
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from prefect.input.run_input import keyset_from_paused_state

from components.core.errors import DataValidationError
from components.lifecycle import ledger
from components.serving.batch import read_metadata
from flows.batch_inference_flow import batch_inference_flow
from flows.promotion_flow import promotion_flow, report_key
from tests.helpers import write_params
from tests.lifecycle.pipeline import register_version

pytestmark = pytest.mark.slow
APPROVAL = {"promote.approval_required": True, "promote.approval_timeout_s": 120}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("promotion-flow")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        assert register_version(root).version == "1"
        write_params(root / "params.yaml", APPROVAL, base=root / "params.yaml")
        yield root


def run_and_answer(answer: dict | None, **flow_args):
    """Run the flow in a thread; when it pauses, resume it with `answer` (None: let it time out)."""
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("summary", promotion_flow("digits-cnn", **flow_args)))
    worker.start()
    paused = []
    deadline = time.time() + 300
    while not paused and time.time() < deadline and worker.is_alive():
        time.sleep(0.5)
        with get_client(sync_client=True) as client:
            paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
    assert len(paused) == 1, "the flow never paused for approval"
    reviewer_sees(paused[0])
    if answer is not None:
        resume_flow_run(paused[0].id, run_input=answer)
    worker.join(timeout=300)
    return out["summary"]


def reviewer_sees(run) -> None:
    """The paused run shows the gate report: as its markdown artifact and as the approval form's description."""
    with get_client(sync_client=True) as client:
        form = client.read_flow_run_input(run.id, keyset_from_paused_state(run.state)["description"])
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]), key=ArtifactFilterKey(any_=[report_key("digits-cnn")])))
    assert "# Promotion gate: digits-cnn v1" in form and "**Verdict:" in form
    assert artifact.type == "markdown" and artifact.data.startswith("# Promotion gate: digits-cnn v1")


def production(project):
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return str(client.get_model_version_by_alias("digits-cnn", "production").version)
    except Exception:
        return None


def test_rejected_then_timed_out_then_approved(project):
    rejected = run_and_answer({"approve": False, "reviewer": "bob", "comment": "wait for the audit"},
                              approval_poll_s=1)
    assert not rejected.promoted and rejected.outcome == "rejected" and production(project) is None
    assert "rejected by bob: wait for the audit" in rejected.reasons[-1]

    timed_out = run_and_answer(None, approval_timeout_s=3, approval_poll_s=1)
    assert not timed_out.promoted and timed_out.outcome == "timed out" and production(project) is None

    approved = run_and_answer({"approve": True, "reviewer": "alice", "comment": "ok"}, approval_poll_s=1)
    assert approved.promoted and approved.outcome == "promoted" and production(project) == "1"
    moves = ledger.history(ledger.engine_for(f"sqlite:///{project / 'mlflow.db'}"), "digits-cnn")
    assert [(m.user, m.action, m.to_version) for m in moves] == [("alice", "promote", "1")]


def test_batch_inference_flow_scores_with_production(project, digits_frame, tmp_path):
    assert production(project) == "1"  # put there by the approved promotion above
    digits_frame.head(600).to_parquet(tmp_path / "in.parquet")  # a label column is allowed and ignored
    result = batch_inference_flow("digits-cnn", str(tmp_path / "in.parquet"), str(tmp_path / "out.parquet"),
                                  chunk_rows=256)
    assert (result.version, result.rows, result.chunks) == ("1", 600, 3)
    assert read_metadata(tmp_path / "out.parquet")["version"] == "1"
    bad = digits_frame.head(600).drop(columns=["px_5"])
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataValidationError, match=r"bad.parquet: missing column\(s\) \['px_5'\]"):
        batch_inference_flow("digits-cnn", str(tmp_path / "bad.parquet"), str(tmp_path / "bad-out.parquet"))
    assert not (tmp_path / "bad-out.parquet").exists()
