"""`dvc exp run -S model=detection` in a fresh git copy.

CI (tiny: 96 train scenes, 2 epochs of a small detector): the whole pipeline runs (generated scenes of real
digits -> validate -> features -> train + the classical baseline -> evaluate with COCO mAP -> register
@staging); the registered pyfunc scores raw PNG bytes in a clean venv holding only the model's requirements;
`keel predict` scores a folder of images to Parquet; `keel serve` answers an uploaded image with boxes, takes
the thresholds as query parameters, base64 images in JSON, and names a corrupt upload's failed check.

`quality` (full size, minutes of CPU training: `make test-quality`): 3,000 train scenes, the CenterNet-style
detector meets the bar (test mAP@0.5 >= 0.90 on 1,000 scenes) above the classical baseline (threshold +
connected components + a classifier) in the same run, and passes the gate (bootstrap over test images)."""

import base64

import pandas as pd
import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store
from tests.pipeline.media_helpers import clean_venv, same_boxes, score_in_clean_process, serving_upload

pytestmark = pytest.mark.slow
NAME = "scenes-detection"
TINY = ("ingest.detection.scenes.n_train=96", "ingest.detection.scenes.n_val=16", "ingest.detection.scenes.n_test=32",
        "validate.min_rows=10", "train.epochs=2", "train.detection.channels=[8,16,32]", "train.detection.blocks=0",
        "train.detection.head_channels=16", "register.detection.min.map50=0.0")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-detection-tiny"))
    return repo, exp_run_family(repo, "detection", *TINY)


def test_tiny_run_registers_and_scores_raw_images(tiny, tmp_path):
    repo, m = tiny
    assert m["n_test"] == 32 and 0 <= m["map"] <= m["map50"] <= 1 and 0 <= m["baseline_map50"] <= 1, m
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "detection"
    assert (repo / "reports/plots/boxes.png").is_file() and (repo / "reports/plots/pr_curves.png").is_file()

    files = sorted((repo / "data/raw/scenes/images").glob("test-*.png"))[:3]
    clean = score_in_clean_process(repo, NAME, "image", files, clean_venv(repo, NAME, tmp_path / "venv"))
    assert len(clean) == 3 and all(r["n_boxes"] == len(r["boxes"]) == len(r["labels"]) == len(r["scores"])
                                   for r in clean)

    from components.serving import batch

    use_store(repo)
    (tmp_path / "photos").mkdir()
    for f in files:
        (tmp_path / "photos" / f.name).write_bytes(f.read_bytes())
    result = batch.run(NAME, tmp_path / "photos", tmp_path / "boxes.parquet", repo / "params.yaml", alias="staging",
                       log_dir=tmp_path / "log")
    scored = pd.read_parquet(tmp_path / "boxes.parquet")
    assert result.rows == 3 and [p.rsplit("/", 1)[-1] for p in scored["file"]] == [f.name for f in files]
    assert scored["n_boxes"].tolist() == [r["n_boxes"] for r in clean]

    with serving_upload(repo, NAME, tmp_path / "serve-log") as call:
        status, out = call("/upload?score_threshold=0", files[0].read_bytes())
        assert status == 200 and out["version"] == str(mv.version), out
        everything = out["predictions"][0]
        status, out = call("/upload", files[0].read_bytes())
        assert status == 200 and same_boxes(out["predictions"][0], clean[0]), (out, clean[0])
        assert everything["n_boxes"] >= out["predictions"][0]["n_boxes"]
        body = {"inputs": {"image": [base64.b64encode(files[0].read_bytes()).decode()]}}
        status, out = call("/invocations", body)
        assert status == 200 and same_boxes(out["predictions"][0], clean[0]), out
        status, out = call("/upload", b"\x89PNG\r\n\x1a\n broken")
        assert status == 422 and "decodable" in out["message"], out
        status, out = call("/upload?threshold=0.5", files[0].read_bytes())
        assert status == 400 and "score_threshold" in out["message"], out
        status, out = call("/invocations", {"inputs": {"image": [str(files[0])]}})  # a path is not read
        assert status == 422 and "base64" in out["message"], out


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-detection"))
    return repo, exp_run_family(repo, "detection")


@pytest.mark.quality
def test_detection_meets_the_bar_above_the_classical_baseline(full):
    repo, metrics = full
    assert metrics["map50"] >= 0.90, metrics
    assert metrics["map50"] > metrics["baseline_map50"] and metrics["map"] > metrics["baseline_map"], metrics
    assert metrics["n_test"] == 1000
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "detection" and mv.tags["gate.absolute"] == "pass"
    assert (repo / "reports/plots/boxes.png").is_file() and (repo / "reports/plots/pr_curves.png").is_file()


@pytest.mark.quality
def test_registered_detector_scores_raw_images_from_a_clean_process(full, tmp_path):
    repo, _ = full
    files = sorted((repo / "data/raw/scenes/images").glob("test-*.png"))[:4]
    out = score_in_clean_process(repo, NAME, "image", files, clean_venv(repo, NAME, tmp_path / "venv"))
    assert len(out) == 4 and all(r["n_boxes"] == len(r["boxes"]) == len(r["labels"]) for r in out)
    assert sum(r["n_boxes"] for r in out) >= 4
    assert all(0 <= v <= 64 for r in out for box in r["boxes"] for v in box)


@pytest.mark.quality
def test_first_production_detector_through_the_gate(full):
    promote(full[0], NAME)
