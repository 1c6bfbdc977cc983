"""Pure pieces of the media kinds: reading what a client sends, the COCO folder format, NMS, the COCO metrics
(pycocotools) and their bootstrap re-weighting, the detection targets, the media families' learning-rate
schedule and gradient clipping."""

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from components.core.errors import IngestError, ParamsError
from components.data import coco, images
from components.problems import coco_eval
from components.problems.detection import nms
from components.training.precision import backward_step
from components.training.schedule import make_schedule
from tests.helpers import params_with


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_an_image_reads_the_same_from_bytes_base64_a_path_and_an_array(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    data = png(rgb)
    (tmp_path / "a.png").write_bytes(data)
    sent = [data, base64.b64encode(data).decode(), str(tmp_path / "a.png"), tmp_path / "a.png", rgb, rgb.tolist()]
    for value in sent:
        assert np.array_equal(images.to_array(value, 3), rgb), type(value)
    assert images.to_array(data, 3, (6, 10)).shape == (6, 10, 3)
    assert images.to_array(data, 1).shape == (12, 20, 1)
    for bad, why in [(data[:30], "not a decodable image"), ("not base64 !", "neither an existing file path"),
                     (np.zeros((4, 4, 4)), r"\(H, W\) or \(H, W, 3\)"), (np.full((3, 3), 300), "values 0..255"),
                     (3.5, "expected encoded bytes")]:
        with pytest.raises(ValueError, match=why):
            images.to_array(bad, 3)


def test_image_folder_reads_bytes_without_decoding_and_labels_from_folders(tmp_path):
    for label in ("3", "7"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "x.png").write_bytes(png(np.zeros((9, 5), np.uint8)))
    (tmp_path / "7" / "broken.jpg").write_bytes(b"not an image")  # read as is: validate decodes
    df = images.read_folder(tmp_path)
    assert list(df.columns) == ["file", "image", "label"] and df["label"].tolist() == [3, 7, 7]
    assert df["image"].iloc[1] == b"not an image"
    checks = images.image_checks(df)
    assert checks["decodable"].tolist() == [True, False, True] and checks["width"].tolist()[0] == 5
    (tmp_path / "7" / "notes.txt").write_text("x")
    with pytest.raises(IngestError, match="notes.txt: not an image file"):
        images.read_folder(tmp_path)


def coco_folder(root, annotations=None, files=("a.png",)):
    (root / "images").mkdir(parents=True)
    for f in files:
        (root / "images" / f).write_bytes(png(np.zeros((10, 10), np.uint8)))
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
            "annotations": annotations if annotations is not None else [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def test_coco_folder_reads_boxes_and_names_what_breaks_the_format(tmp_path):
    df = coco.read(coco_folder(tmp_path / "ok"))
    assert df["boxes"].tolist() == [[[1.0, 2.0, 3.0, 4.0]]] and df["classes"].tolist() == [["cat"]]
    with pytest.raises(IngestError, match=r"images/a.png: image file missing"):
        coco.read(coco_folder(tmp_path / "nofile", files=()))
    with pytest.raises(IngestError, match=r"refers to unknown image_id 9"):
        coco.read(coco_folder(tmp_path / "orphan", [{"id": 1, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]}]))
    with pytest.raises(IngestError, match=r"a.png: annotation 1 bbox \[0, 0, 1\] is not 4 finite numbers"):
        coco.read(coco_folder(tmp_path / "short", [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}]))
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "annotations.json").write_text("{")
    with pytest.raises(IngestError, match="annotations.json: not valid JSON"):
        coco.read(tmp_path / "json")


def test_box_checks_flag_outside_empty_and_unknown(tmp_path):
    df = coco.read(coco_folder(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [8, 2, 3, 4]},  # x2 = 11 > width 10
        {"id": 2, "image_id": 1, "category_id": 5, "bbox": [1, 1, 0, 4]}]))  # w = 0, unknown category 5
    cfg = params_with({"model": "detection", "validate.detection.labels": ["cat"]}).validation
    checks = coco.box_checks(df, cfg)
    assert checks[["box_inside_image", "box_positive_area", "box_label_known"]].iloc[0].tolist() == [False, False,
                                                                                                    False]


def test_nms_keeps_the_best_box_per_class():
    dets = np.array([[0, 0, 10, 10, 0.9, 0], [1, 1, 10, 10, 0.8, 0],  # IoU 0.81: suppressed
                     [1, 1, 10, 10, 0.7, 1],  # same place, another class: kept
                     [20, 20, 30, 30, 0.6, 0]], np.float64)
    assert nms(dets, 0.5).tolist() == [0, 2, 3]
    assert nms(dets, 0.9).tolist() == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def detections():
    """30 images with 1-3 true boxes each over 3 classes, and noisy predictions (hits, misses, false alarms)."""
    rng = np.random.default_rng(0)
    boxes, classes, preds = [], [], np.zeros((30, 6, 6))
    preds[..., 5] = -1
    for i in range(30):
        n = int(rng.integers(1, 4))
        xy = rng.uniform(0, 40, (n, 2))
        b = np.c_[xy, rng.uniform(5, 15, (n, 2))]
        c = rng.integers(0, 3, n)
        boxes.append(b), classes.append(c)
        jitter = rng.normal(0, 1.5, (n, 4))
        p = np.c_[b[:, :2] + jitter[:, :2], b[:, :2] + b[:, 2:] + jitter[:, 2:], rng.uniform(0.2, 1, n),
                  np.where(rng.random(n) < 0.85, c, (c + 1) % 3)]
        fa = np.array([[50, 50, 60, 60, rng.uniform(0, 0.6), rng.integers(0, 3)]])
        preds[i, :n + 1] = np.r_[p, fa]
    return boxes, classes, preds


def test_subset_scores_equal_pycocotools_on_the_same_images(detections):
    boxes, classes, preds = detections
    stats = coco_eval.run_cocoeval(boxes, classes, preds, 3).stats
    scorer = coco_eval.RowScorer(boxes, classes, preds, 3)
    assert scorer(np.arange(30)) == pytest.approx({"map": stats[0], "map50": stats[1]}, abs=1e-12)
    rows = np.random.default_rng(1).integers(0, 30, 30)  # a bootstrap draw: repeats, some images left out
    assert len(set(rows.tolist())) < 30
    # pycocotools on a dataset holding each drawn image as often as it was drawn, each copy a new image id
    drawn = coco_eval.evaluate([boxes[i] for i in rows], [classes[i] for i in rows], preds[rows], ["a", "b", "c"])
    assert 0 < drawn["map"] < 1
    assert scorer(rows) == pytest.approx({"map": drawn["map"], "map50": drawn["map50"]}, abs=1e-9)
    assert scorer(rows, "map50") == pytest.approx({"map50": drawn["map50"]}, abs=1e-9)  # the gate's one threshold


def test_detection_bootstrap_matches_once_and_equals_rescoring_each_draw(detections):
    from dataclasses import replace

    from components.data.transforms.detection import DetectionTransform
    from components.problems.detection import DETECTION
    from components.problems.intervals import bootstrap_ci

    boxes, classes, preds = detections
    t = DetectionTransform(height=64, width=64, channels=1, mean=[0.0], std=[1.0], classes=["a", "b", "c"])
    test = pd.DataFrame({"boxes": [b.tolist() for b in boxes], "classes": [[t.classes[k] for k in c] for c in classes]})
    fast = bootstrap_ci(DETECTION, t, test, preds, samples=10)
    slow = bootstrap_ci(replace(DETECTION, rows_scorer=None), t, test, preds, samples=10)  # COCOeval per draw
    assert set(fast) == {"map", "map50"} and fast["map"][0] < fast["map"][1]
    assert fast == {m: pytest.approx(v, abs=1e-9) for m, v in slow.items()}


def test_detection_targets_follow_the_resize_and_predictions_map_back():
    from components.data.transforms.detection import DetectionTransform

    t = DetectionTransform(height=32, width=32, channels=1, mean=[0.0], std=[1.0], classes=["a", "b"])
    df = pd.DataFrame({"image": [png(np.zeros((16, 64), np.uint8))], "boxes": [[[8.0, 4.0, 16.0, 8.0]]],
                       "classes": [["b"]]})
    assert t.targets(df).tolist() == [[[4.0, 8.0, 12.0, 24.0, 1.0]]]  # x by 32/64, y by 32/16
    pred = np.array([[[4.0, 8.0, 12.0, 24.0, 0.9, 1.0]]])
    assert t.restore(df, pred)[0, 0, :4].tolist() == [8.0, 4.0, 24.0, 12.0]


def test_media_families_warm_up_for_one_epoch_then_anneal_on_the_shared_schedule():
    for family, clip in (("detection", 10.0), ("video", None)):
        cfg = params_with({"model": family}).train
        assert (cfg.schedule, cfg.clip_grad_norm) == ("onecycle", clip)
        steps_per_epoch = 10
        opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
        sched = make_schedule(opt, cfg, steps=cfg.epochs * steps_per_epoch)
        lrs = [opt.param_groups[0]["lr"]]  # the lr of each batch, stepped between batches as the loop does
        for _ in range(cfg.epochs * steps_per_epoch - 1):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        peak = lrs.index(max(lrs))
        assert steps_per_epoch - 2 <= peak <= steps_per_epoch - 1, (family, peak)  # the first epoch's last batches
        assert max(lrs) == pytest.approx(cfg.lr, rel=1e-3) and lrs[0] < cfg.lr / 5 and lrs[-1] < cfg.lr * 1e-3
        assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:], strict=False))


def test_clip_grad_norm_bounds_the_step():
    w = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([w], lr=1.0)
    backward_step((w * torch.full((4,), 100.0)).sum(), opt, None, clip=1.0)  # gradient norm 200
    assert float(w.detach().norm()) == pytest.approx(1.0, rel=1e-4)
    backward_step((w * torch.full((4,), 100.0)).sum(), opt, None)
    assert float(w.detach().norm()) > 100.0


def test_media_families_resolve_and_name_a_bad_key():
    p = params_with({"model": "detection"})
    assert (p.kind, p.task, p.features.image_size, p.registration.min) == ("detection", "detection", (64, 64),
                                                                           {"map50": 0.9})
    assert params_with({"model": "video"}).ingest.decode.frames == 16
    with pytest.raises(ParamsError, match=r"ingest.video.clips.heigth: unknown key"):
        params_with({"model": "video", "ingest.video.clips.heigth": 32})
    with pytest.raises(ParamsError, match=r"multiples of 8"):
        params_with({"model": "detection", "features.detection.image_size": [60, 64]})


def test_a_served_file_is_base64_or_an_array_never_a_path(tmp_path):
    from components.serving.payload import BadRequest, parse
    from components.serving.upload import upload_column, upload_table

    data = png(np.full((5, 7), 200, np.uint8))
    (tmp_path / "a.png").write_bytes(data)
    schema = [("image", "binary")]
    body = json.dumps({"inputs": {"image": [base64.b64encode(data).decode(), [[0, 255], [255, 0]]]}}).encode()
    table = parse(body, schema, 10)
    assert table.frame["image"][0] == data and table.frame["image"][1].shape == (2, 2)
    with pytest.raises(BadRequest, match="row 0 is not base64"):
        parse(json.dumps({"inputs": {"image": [str(tmp_path / "a.png")]}}).encode(), schema, 10)
    assert upload_column(schema) == "image" and upload_column([("x", "double")]) is None
    table, options = upload_table("image", data, {"nms_iou": "0.4"}, {"score_threshold": 0.3, "nms_iou": 0.5})
    assert table.rows == 1 and table.frame["image"][0] == data and options == {"nms_iou": 0.4}
    with pytest.raises(BadRequest, match="unknown query parameter.*score_threshold") as e:
        upload_table("image", data, {"iou": "0.4"}, {"score_threshold": 0.3, "nms_iou": 0.5})
    assert e.value.status == 400
    with pytest.raises(BadRequest, match="empty body"):
        upload_table("image", b"", {}, None)


def test_a_media_model_pins_what_its_decoding_imports():
    from components.lifecycle.packaging import requirements

    names = {kind: {r.split("==")[0].lower() for r in requirements({}, kind)} for kind in ("detection", "video")}
    assert "pillow" in names["detection"] and "av" in names["video"] and "av" not in names["detection"]
    assert all("==" in r for r in requirements({}, "video"))
