"""`dvc exp run -S model=video` in a fresh git copy, full size: 2,000 generated H.264 clips in which two real
digits cross the frame one after the other; the CNN + GRU meets the bar (test accuracy >= 0.95 on 800 clips on
labels no single frame answers) and beats the frame-average baseline (the same CNN, no time) trained in the
same run; registered as crossings-video@staging, it scores raw .mp4 bytes from a clean process and passes the
gate (bootstrap over clips).

Long (minutes of CPU training): `make test-quality`, not in `make test`; CI runs the tiny version
(tests/flows/test_media_flows.py)."""

import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote
from tests.pipeline.media_helpers import score_in_clean_process

pytestmark = [pytest.mark.slow, pytest.mark.quality]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-video"))
    return repo, exp_run_family(repo, "video")


def test_video_meets_the_bar_and_beats_the_frame_average(run):
    repo, metrics = run
    assert metrics["accuracy"] >= 0.95, metrics
    assert metrics["accuracy"] - metrics["baseline_accuracy"] >= 0.3, metrics
    assert metrics["n_test"] == 800
    mv = client(repo).get_model_version_by_alias("crossings-video", "staging")
    assert mv.tags["family"] == "video" and mv.tags["gate.absolute"] == "pass"


def test_registered_video_model_scores_raw_clips_from_a_clean_process(run):
    repo, _ = run
    files = sorted((repo / "data/raw/clips/test/right-left").glob("*.mp4"))[:3]
    out = score_in_clean_process(repo, "crossings-video", "video", files)
    assert [r["prediction"] for r in out] == ["right-left"] * 3
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-4 for r in out)


def test_first_production_video_model_through_the_gate(run):
    promote(run[0], "crossings-video")
