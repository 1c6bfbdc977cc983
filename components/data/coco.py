"""Detection data on disk: a folder of images and one COCO-style JSON (the `detection` kind's source format).

    <root>/annotations.json
    <root>/images/<file_name>          PNG or JPEG, gray or RGB, any size

annotations.json is a subset of COCO "object detection" (other keys are ignored):

    {"images":      [{"id": 1, "file_name": "a.png", "width": 64, "height": 64, "split": "train"}],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [x, y, w, h]}],
     "categories":  [{"id": 3, "name": "cat"}]}

bbox is in pixels from the top-left corner. `split` (train / val / test) is optional: with it the features stage
keeps that split, without it draws one. Ingest reads the folder into rows `file`, `image` (the file's bytes),
`boxes` ([[x, y, w, h], ...]) and `classes` (category names; null for an unknown category id), failing on what
stops it from building them (not JSON, a missing image file, an annotation of an unknown image, a bbox that is
not 4 numbers). Validate checks the rest per image (`box_checks`): it decodes, every box lies inside the image
with a positive area, every label is one of `validate.labels`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from components.config.media import DetectionValidateConfig
from components.core.columns import SPLIT
from components.core.errors import IngestError
from components.data.images import FILE, IMAGE, image_checks

ANNOTATIONS, IMAGES = "annotations.json", "images"
BOXES, CLASSES = "boxes", "classes"  # per image: [[x, y, w, h], ...] and the boxes' class names


def write(root: Path, images: list[np.ndarray], dataset: dict) -> Path:
    """Images (H, W[, C]) uint8, in `dataset["images"]` order, as PNGs under <root>/images/ + annotations.json."""
    from PIL import Image

    (root / IMAGES).mkdir(parents=True, exist_ok=True)
    for img, meta in zip(images, dataset["images"], strict=True):
        arr = np.asarray(img, np.uint8)
        Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr).save(
            root / IMAGES / meta["file_name"])
    (root / ANNOTATIONS).write_text(json.dumps(dataset))
    return root


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def read(root: Path) -> pd.DataFrame:
    """The folder as rows `file`, `image`, `boxes`, `classes` (+ `split`); IngestError lists what breaks the format."""
    root, path = Path(root), Path(root) / ANNOTATIONS
    if not path.is_file():
        raise IngestError(f"{path}: missing (a detection source is <root>/{ANNOTATIONS} + <root>/{IMAGES}/)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IngestError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in ("images", "annotations",
                                                                                      "categories")):
        raise IngestError(f"{path}: needs the lists `images`, `annotations` and `categories`")
    problems: list[str] = []
    names = {c.get("id"): c.get("name") for c in data["categories"] if isinstance(c, dict)}
    rows: dict[int, dict] = {}
    for meta in data["images"]:
        if not isinstance(meta, dict) or not _int(meta.get("id")) or not isinstance(meta.get("file_name"), str):
            problems.append(f"{path}: image entry {meta!r} needs an int `id` and a str `file_name`")
            continue
        file = root / IMAGES / meta["file_name"]
        if meta["id"] in rows:
            problems.append(f"{file}: duplicate image id {meta['id']}")
        elif not file.resolve().is_relative_to((root / IMAGES).resolve()) or not file.is_file():
            problems.append(f"{file}: image file missing (or outside {root / IMAGES})")
        else:
            rows[meta["id"]] = {FILE: str(file), IMAGE: file.read_bytes(), BOXES: [], CLASSES: [],
                                **({SPLIT: meta["split"]} if "split" in meta else {})}
    for a in data["annotations"]:
        row = rows.get(a.get("image_id")) if isinstance(a, dict) else None
        bbox = a.get("bbox") if isinstance(a, dict) else None
        if row is None:
            problems.append(f"{path}: annotation {a.get('id') if isinstance(a, dict) else a!r} refers to unknown "
                            f"image_id {a.get('image_id') if isinstance(a, dict) else None!r}")
        elif not (isinstance(bbox, list) and len(bbox) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)):
            problems.append(f"{row[FILE]}: annotation {a.get('id')} bbox {bbox!r} is not 4 finite numbers")
        else:
            row[BOXES].append([float(v) for v in bbox])
            row[CLASSES].append(names.get(a.get("category_id")))
    if problems:
        raise IngestError(f"{root}: {len(problems)} problem(s) in the detection source:\n  " + "\n  ".join(
            problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    if not rows:
        raise IngestError(f"{path}: no images")
    splits = {SPLIT in r for r in rows.values()}
    if len(splits) > 1:
        raise IngestError(f"{path}: either every image entry has a `split` or none has")
    return pd.DataFrame(list(rows.values()))


def as_boxes(cell) -> np.ndarray:
    """A row's `boxes` (a list, or what Parquet gives back: an array of arrays) -> (n, 4) float64 xywh."""
    if cell is None:
        return np.zeros((0, 4))
    rows = [np.asarray(b, np.float64).ravel() for b in cell]
    return np.array(rows, np.float64).reshape(-1, 4) if rows else np.zeros((0, 4))


def box_checks(df: pd.DataFrame, cfg: DetectionValidateConfig) -> pd.DataFrame:
    """The image checks, and per image `box_inside_image`, `box_positive_area`, `box_label_known` (all boxes)."""
    out = image_checks(df, cfg)
    if BOXES not in df.columns:  # images to score: no boxes to check
        return out
    known = {str(label) for label in cfg.labels}
    inside, positive, labelled = [], [], []
    for boxes, classes, w, h in zip(df[BOXES].map(as_boxes), df[CLASSES], out["width"], out["height"], strict=True):
        positive.append(bool((boxes[:, 2] > 0).all() and (boxes[:, 3] > 0).all()))
        inside.append(None if pd.isna(w) else bool(
            (boxes[:, :2] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= w + 1e-6).all()
            and (boxes[:, 1] + boxes[:, 3] <= h + 1e-6).all()))
        labelled.append(all(c is not None and str(c) in known for c in (classes if classes is not None else [])))
    return out.assign(box_inside_image=pd.array(inside, dtype="boolean"), box_positive_area=positive,
                      box_label_known=labelled)
