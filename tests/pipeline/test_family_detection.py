"""`dvc exp run -S model=detection` in a fresh git copy, full size: 3,000 generated train scenes of real digits,
the CenterNet-style detector meets the bar (test mAP@0.5 >= 0.90 on 1,000 scenes) above the classical baseline
(threshold + connected components + a classifier) in the same run, is registered as scenes-detection@staging,
scores raw PNG bytes from a clean process and passes the gate (bootstrap over test images).

Long (minutes of CPU training): `make test-quality`, not in `make test`; CI runs the tiny version
(tests/flows/test_media_flows.py)."""

import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote
from tests.pipeline.media_helpers import score_in_clean_process

pytestmark = [pytest.mark.slow, pytest.mark.quality]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-detection"))
    return repo, exp_run_family(repo, "detection")


def test_detection_meets_the_bar_above_the_classical_baseline(run):
    repo, metrics = run
    assert metrics["map50"] >= 0.90, metrics
    assert metrics["map50"] > metrics["baseline_map50"] and metrics["map"] > metrics["baseline_map"], metrics
    assert metrics["n_test"] == 1000
    mv = client(repo).get_model_version_by_alias("scenes-detection", "staging")
    assert mv.tags["family"] == "detection" and mv.tags["gate.absolute"] == "pass"
    assert (repo / "reports/plots/boxes.png").is_file() and (repo / "reports/plots/pr_curves.png").is_file()


def test_registered_detector_scores_raw_images_from_a_clean_process(run):
    repo, _ = run
    files = sorted((repo / "data/raw/scenes/images").glob("test-*.png"))[:4]
    out = score_in_clean_process(repo, "scenes-detection", "image", files)
    assert len(out) == 4 and all(r["n_boxes"] == len(r["boxes"]) == len(r["labels"]) for r in out)
    assert sum(r["n_boxes"] for r in out) >= 4
    assert all(0 <= v <= 64 for r in out for box in r["boxes"] for v in box)


def test_first_production_detector_through_the_gate(run):
    promote(run[0], "scenes-detection")
