"""`keel:scenes`: seeded detection scenes composed from REAL images (scikit-learn digits, Fashion-MNIST).

A scene is a `canvas` x `canvas` uint8 image (1 or 3 channels) holding `min_objects..max_objects` real images
from the split's pool (components/data/pools.py), each resized to a side in [min_size, max_size] with a little
aspect jitter, placed so that any two boxes overlap by at most `max_overlap` IoU, max-blended on a gradient
background, plus unannotated clutter (partial crops of other real images, thin strokes) and Gaussian noise.
A box is the tight extent of its resized object's ink (pixels above INK of the object's peak), in integer
pixels, COCO [x, y, w, h] from the top-left. Scene i of a split depends only on (config, split, i).
Ingest writes the scenes as a COCO folder (components/data/coco.py) and reads them back like a team's own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.config.media import SceneConfig
from components.data import coco, pools

INK = 0.2  # a pixel is part of the object's box when above INK x the object's peak


def categories(cfg: SceneConfig) -> list[str]:
    """Class names, by class index: each pool's names in turn."""
    return [name for p in cfg.pools for name in pools.class_names(p)]


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """float [0, 1] (h0, w0) -> float [0, 1] (h, w), bilinear."""
    from PIL import Image

    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR),
                      np.float32).clip(0.0, 1.0)


def _iou(a: tuple, b: tuple) -> float:
    iw, ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0])), max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _covered(a: tuple, b: tuple) -> float:
    """Fraction of box a covered by box b."""
    iw, ih = max(0, min(a[2], b[2]) - max(a[0], b[0])), max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / max(1, (a[2] - a[0]) * (a[3] - a[1]))


def _colour(rng: np.random.Generator, channels: int) -> np.ndarray:
    """An object's intensity: a gray level, or a bright colour for RGB."""
    if channels == 1:
        return np.array([rng.uniform(0.55, 1.0)], np.float32)
    c = rng.uniform(0.15, 1.0, 3).astype(np.float32)
    return c / c.max() * rng.uniform(0.6, 1.0)


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int, colour: np.ndarray) -> None:
    """canvas[y:y+h, x:x+w] = max(canvas, patch * colour), clipped to the canvas."""
    (s_h, s_w), (h, w) = canvas.shape[:2], patch.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(s_w, x + w), min(s_h, y + h)
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = np.maximum(canvas[y0:y1, x0:x1], patch[y0 - y:y1 - y, x0 - x:x1 - x, None] * colour)


def draw(cfg: SceneConfig, split: str, i: int, sources: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list]:
    """Scene i of `split`: (image (H, W, C) uint8, [((x1, y1, x2, y2), class index)])."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([cfg.seed, pools.SPLITS.index(split), i])
    s, ch = cfg.canvas, cfg.channels
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
    theta = rng.uniform(0, 2 * np.pi)
    level, slope = rng.uniform(0.0, 0.15, ch).astype(np.float32), rng.uniform(0.0, 0.12, ch).astype(np.float32)
    canvas = level + (np.cos(theta) * xx + np.sin(theta) * yy)[..., None] * slope  # a gradient background
    objects: list[tuple[tuple[int, int, int, int], int]] = []
    n, attempts = int(rng.integers(cfg.min_objects, cfg.max_objects + 1)), 0
    while len(objects) < n and attempts < 60:
        attempts += 1
        si = int(rng.integers(len(sources)))
        xs, ys = sources[si]
        j = int(rng.integers(len(xs)))
        w = int(rng.integers(cfg.min_size, cfg.max_size + 1))
        h = max(4, int(round(w * rng.uniform(1 - cfg.aspect_jitter, 1 + cfg.aspect_jitter))))
        patch = _resize(xs[j] / 255.0, w, h)
        ink = patch > INK * patch.max()
        if patch.max() <= 0 or not ink.any():
            continue
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        ty0, ty1, tx0, tx1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        x, y = int(rng.integers(-tx0, s - tx1 + 1)), int(rng.integers(-ty0, s - ty1 + 1))  # the box stays inside
        box = (x + tx0, y + ty0, x + tx1, y + ty1)
        if any(_iou(box, b) > cfg.max_overlap for b, _ in objects):
            continue
        _paste(canvas, patch, x, y, _colour(rng, ch))
        objects.append((box, int(ys[j]) + 10 * si))
    for _ in range(int(rng.integers(0, cfg.max_clutter + 1))):  # clutter, kept mostly off the objects
        if rng.random() < 0.6:  # a corner or edge piece (<= ~45% of each side) of another real image
            src = sources[int(rng.integers(len(sources)))][0]
            src = src[int(rng.integers(len(src)))] / 255.0
            hh, ww = src.shape
            fh, fw = max(2, int(hh * rng.uniform(0.25, 0.45))), max(2, int(ww * rng.uniform(0.25, 0.45)))
            r0, c0 = int(rng.integers(0, hh - fh + 1)), int(rng.integers(0, ww - fw + 1))
            scale = rng.uniform(cfg.min_size, cfg.max_size) / max(hh, ww)
            piece = _resize(src[r0:r0 + fh, c0:c0 + fw], max(2, round(fw * scale)), max(2, round(fh * scale)))
            ph, pw = piece.shape
            x, y = int(rng.integers(0, s - pw + 1)), int(rng.integers(0, s - ph + 1))
            if all(_covered((x, y, x + pw, y + ph), b) <= 0.15 for b, _ in objects):
                _paste(canvas, piece * rng.uniform(0.4, 0.9), x, y, _colour(rng, ch))
        else:  # a thin stroke
            layer = Image.new("F", (s, s), 0.0)
            p = rng.uniform(0, s, 4)
            ImageDraw.Draw(layer).line([(p[0], p[1]), (p[2], p[3])], fill=float(rng.uniform(0.3, 0.8)),
                                       width=int(rng.integers(1, 3)))
            canvas = np.maximum(canvas, np.asarray(layer, np.float32)[..., None] * _colour(rng, ch))
    canvas = canvas + rng.normal(0.0, rng.uniform(0.0, cfg.noise) / 255.0, canvas.shape).astype(np.float32)
    return (canvas.clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), objects


def write_scenes(root: Path, cfg: SceneConfig) -> int:
    """Every split's scenes as one COCO folder under `root` (each image entry carries its `split`)."""
    names = categories(cfg)
    images, entries, annotations = [], [], []
    for split, n in zip(pools.SPLITS, (cfg.n_train, cfg.n_val, cfg.n_test), strict=True):
        sources = [pools.pool(p, split) for p in cfg.pools]
        for i in range(n):
            img, objects = draw(cfg, split, i, sources)
            images.append(img)
            entries.append({"id": len(entries) + 1, "file_name": f"{split}-{i:06d}.png", "width": cfg.canvas,
                            "height": cfg.canvas, "split": split})
            annotations += [{"id": len(annotations) + 1, "image_id": len(entries), "category_id": label + 1,
                             "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]}
                            for (x0, y0, x1, y1), label in objects]
    categories_ = [{"id": k + 1, "name": name} for k, name in enumerate(names)]
    coco.write(Path(root), images, {"images": entries, "annotations": annotations, "categories": categories_})
    return len(images)
