"""`dvc exp run -S model=video` in a fresh git copy.

CI (tiny: 64 train clips of 32x32 pixels, 2 epochs): the whole pipeline runs (generated H.264 clips of real
digits -> validate -> features -> train + the frame-average baseline -> evaluate -> register @staging); the
registered pyfunc scores raw .mp4 bytes in a clean venv holding only the model's requirements; `keel predict`
scores a folder of clips to Parquet; `keel serve` answers an uploaded clip with its label and names an
undecodable one's failed check.

`quality` (full size, minutes of CPU training: `make test-quality`): 2,000 clips in which two real digits cross
the frame one after the other; the CNN + GRU meets the bar (test accuracy >= 0.95 on 800 clips, labels no single
frame answers) and beats the frame-average baseline (the same CNN, no time) trained in the same run by 0.3, and
passes the gate (bootstrap over clips)."""

import base64

import pandas as pd
import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store
from tests.pipeline.media_helpers import clean_venv, score_in_clean_process, serving_upload

pytestmark = pytest.mark.slow
NAME = "crossings-video"
LABELS = {"left-left", "left-right", "right-left", "right-right"}
TINY = ("ingest.video.clips.n_train=64", "ingest.video.clips.n_val=16", "ingest.video.clips.n_test=32",
        "ingest.video.clips.height=32", "ingest.video.clips.width=32", "ingest.video.clips.n_frames=16",
        "ingest.video.clips.min_size=10", "ingest.video.clips.max_size=14", "ingest.video.clips.min_steps=6",
        "ingest.video.decode.frames=16", "ingest.video.decode.height=24", "ingest.video.decode.width=24",
        "validate.min_rows=10", "validate.video.frame_size=[32,32]", "train.epochs=2",
        "train.video.channels=[8,16]", "train.video.frame_dim=32", "train.video.gru_hidden=32",
        "register.video.min.accuracy=0.0")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-video-tiny"))
    return repo, exp_run_family(repo, "video", *TINY)


def test_tiny_run_registers_and_scores_raw_clips(tiny, tmp_path):
    repo, m = tiny
    assert m["n_test"] == 32 and 0 <= m["accuracy"] <= 1 and 0 <= m["baseline_accuracy"] <= 1, m
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "video"

    folder = repo / "data/raw/clips/test/left-right"
    clips = sorted(folder.glob("*.mp4"))[:2]
    clean = score_in_clean_process(repo, NAME, "video", clips, clean_venv(repo, NAME, tmp_path / "venv"))
    assert len(clean) == 2 and all(r["prediction"] in LABELS for r in clean)
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-4 for r in clean)

    from components.serving import batch

    use_store(repo)
    result = batch.run(NAME, folder, tmp_path / "clips.parquet", repo / "params.yaml", alias="staging",
                       log_dir=tmp_path / "log")
    scored = pd.read_parquet(tmp_path / "clips.parquet")
    assert result.rows == len(list(folder.glob("*.mp4"))) and scored["video"].str.endswith(".mp4").all()
    assert scored["prediction"].head(2).tolist() == [r["prediction"] for r in clean]

    with serving_upload(repo, NAME, tmp_path / "serve-log") as call:
        status, out = call("/upload", clips[0].read_bytes())
        assert status == 200 and out["version"] == str(mv.version), out
        assert out["predictions"][0]["prediction"] == clean[0]["prediction"], (out, clean[0])
        status, out = call("/invocations", {"inputs": {"video": [base64.b64encode(clips[1].read_bytes()).decode()]}})
        assert status == 200 and out["predictions"][0]["prediction"] == clean[1]["prediction"], out
        status, out = call("/upload", b"\x00" * 512)
        assert status == 422 and "decodable" in out["message"], out


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-video"))
    return repo, exp_run_family(repo, "video")


@pytest.mark.quality
def test_video_meets_the_bar_and_beats_the_frame_average(full):
    repo, metrics = full
    assert metrics["accuracy"] >= 0.95, metrics
    assert metrics["accuracy"] - metrics["baseline_accuracy"] >= 0.3, metrics
    assert metrics["n_test"] == 800
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "video" and mv.tags["gate.absolute"] == "pass"


@pytest.mark.quality
def test_registered_video_model_scores_raw_clips_from_a_clean_process(full, tmp_path):
    repo, _ = full
    files = sorted((repo / "data/raw/clips/test/right-left").glob("*.mp4"))[:3]
    out = score_in_clean_process(repo, NAME, "video", files, clean_venv(repo, NAME, tmp_path / "venv"))
    assert [r["prediction"] for r in out] == ["right-left"] * 3
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-4 for r in out)


@pytest.mark.quality
def test_first_production_video_model_through_the_gate(full):
    promote(full[0], NAME)
