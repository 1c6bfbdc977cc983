"""Validate on the media kinds: good generated data passes; a corrupt image, a box outside its image, an
undecodable clip and a clip of the wrong frame size each fail, naming the file and the check."""

import numpy as np
import pytest

from components.config.media import ClipConfig, DecodeConfig, SceneConfig
from components.data import clips, coco, scenes, validator, video
from tests.helpers import params_with


def failed(report) -> dict[str, list[str]]:
    """{checked column: examples} of the failed expectations."""
    return {f.column: [str(e) for e in f.examples] for f in report.failures}


@pytest.fixture(scope="module")
def scene_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    scenes.write_scenes(root, SceneConfig(n_train=6, n_val=2, n_test=2))
    return root


def test_detection_checks_name_a_corrupt_image_and_a_box_outside(scene_folder):
    cfg = params_with({"model": "detection", "validate.min_rows": 5}).validation
    df = coco.read(scene_folder)
    assert validator.validate(df, cfg, {"kind": "detection"}).success
    bad = df.copy()
    bad.at[2, "image"] = bad.at[2, "image"][:60]  # a truncated PNG
    bad.at[4, "boxes"] = [[50.0, 10.0, 20.0, 10.0]] + list(bad.at[4, "boxes"])[1:]  # x + w = 70 > 64
    bad.at[5, "classes"] = ["cat"] + list(bad.at[5, "classes"])[1:]
    report = validator.validate(bad, cfg, {"kind": "detection"})
    names = failed(report)
    assert not report.success
    assert any(df.at[2, "file"] in e for e in names["decodable"])
    assert any(df.at[4, "file"] in e for e in names["box_inside_image"])
    assert any(df.at[5, "file"] in e for e in names["box_label_known"])
    assert "train-000002.png" in report.message("scenes")


@pytest.fixture(scope="module")
def clip_rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    clips.write_clips(root, ClipConfig(n_train=4, n_val=1, n_test=1, height=32, width=32, n_frames=16, min_size=10,
                                       max_size=14, min_steps=6))
    files = sorted(root.rglob("*.mp4"))
    files[1].write_bytes(b"\x00" * 300)  # undecodable
    return video.probe_all(video.read_clips(root / clips.CSV), DecodeConfig(frames=8, height=16, width=16)), files[1]


def test_video_checks_name_an_undecodable_clip_and_a_wrong_frame_size(clip_rows):
    rows, broken = clip_rows
    cfg = params_with({"model": "video", "validate.min_rows": 2, "validate.video.frame_size": [32, 32]}).validation
    report = validator.validate(rows, cfg, {"kind": "video"})
    assert failed(report).keys() == {"decodable"} and any(str(broken) in e for e in failed(report)["decodable"])
    good = rows[rows["decodable"]].reset_index(drop=True)
    assert validator.validate(good, cfg, {"kind": "video"}).success
    wrong = params_with({"model": "video", "validate.min_rows": 2, "validate.video.frame_size": [48, 48]}).validation
    names = failed(validator.validate(good, wrong, {"kind": "video"}))
    assert {"width", "height"} <= names.keys() and good["video"].iloc[0] in " ".join(names["width"])
    assert np.frombuffer(good["frames"].iloc[0], np.uint8).size == 8 * 16 * 16


def test_scoring_checks_and_decodes_a_clip_with_the_models_own_settings(tmp_path):
    """keel serve / keel predict check a clip as the model decodes it (Loaded.manifest carries the decode
    settings recorded at training), not with DecodeConfig's defaults (fps null, 16 frames of 32x32 gray)."""
    from types import SimpleNamespace

    import pandas as pd

    from components.data.suitecheck import SuiteCheck
    from components.data.transforms.video import VideoTransform
    from components.serving.loaded import suite_manifest

    rng = np.random.default_rng(0)
    clips.encode(rng.integers(0, 255, (12, 40, 48, 3), dtype=np.uint8), tmp_path / "c.mp4", fps=10)  # 1.2 s
    df = pd.DataFrame({"video": [str(tmp_path / "c.mp4")]})
    cfg = params_with({"model": "video", "validate.min_rows": 1, "validate.video.frame_size": None}).validation

    def model(decoding: DecodeConfig):
        t = VideoTransform(decoding=decoding, mean=0.0, std=1.0, classes=["a", "b"])
        return t, suite_manifest(SimpleNamespace(transform=t, family="video"))

    t, manifest = model(DecodeConfig(frames=6, fps=5.0, height=24, width=20, channels=3))  # source frames 0, 2 .. 10
    assert manifest["decode"] == t.decoding.model_dump(mode="json")
    assert SuiteCheck(cfg, manifest)(df).success  # what keel serve runs first (GX only where it cannot)
    assert t.features(df).shape == (1, 6, 3, 24, 20)
    _, longer = model(DecodeConfig(frames=8, fps=5.0))  # needs source frame 14 of 12: 1.6 s of a 1.2 s clip
    assert failed(SuiteCheck(cfg, longer)(df)).keys() == {"long_enough"}
    report = validator.validate(df, cfg, longer, require_label=False)  # keel predict's check, naming the clip
    assert not report.success and str(tmp_path / "c.mp4") in " ".join(failed(report)["long_enough"])
    assert SuiteCheck(cfg, {"kind": "video"})(df).success  # DecodeConfig's defaults would have let it through
