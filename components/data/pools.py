"""Real source images for the generated media sets (photo folders, detection scenes, video clips), split into
disjoint train / val / test pools, so that no test pixel comes from a train image:

  digits   scikit-learn's 1,797 8x8 digits, one fixed stratified 60/20/20 permutation (seed POOL_SEED)
  fashion  Fashion-MNIST (Debian dataset-fashion-mnist): train file [:50000] / [50000:] / the t10k file
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from components.core.errors import IngestError
from components.data.idx import read_array

SPLITS = ("train", "val", "test")
POOL_SEED = 1234
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                 "ankle-boot")


def class_names(pool: str) -> list[str]:
    """The pool's class names, by class index: digits "0".."9", Fashion-MNIST "t-shirt".."ankle-boot"."""
    return [str(k) for k in range(10)] if pool == "digits" else list(FASHION_NAMES)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.clip(d.images * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8), d.target.astype(np.int64)


@functools.cache
def _fashion(part: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = FASHION_DIR / f"{part}-images-idx3-ubyte.gz", FASHION_DIR / f"{part}-labels-idx1-ubyte.gz"
    if not images.is_file():
        raise IngestError(f"{images}: Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or use the "
                          "digits pool)")
    return read_array(images), read_array(labels).astype(np.int64)


def _digit_indices(split: str) -> np.ndarray:
    _, y = _digits()
    rng = np.random.default_rng(POOL_SEED)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for k in range(10):
        idx = rng.permutation(np.flatnonzero(y == k))
        a, b = int(0.6 * len(idx)), int(0.8 * len(idx))
        for name, part in zip(SPLITS, (idx[:a], idx[a:b], idx[b:]), strict=True):
            parts[name].append(part)
    return np.sort(np.concatenate(parts[split]))


def pool(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, h, w) uint8, class indices (n,)) of one pool's split; the three splits are disjoint."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if name == "digits":
        x, y = _digits()
        sel = _digit_indices(split)
        return x[sel], y[sel]
    if name == "fashion":
        x, y = _fashion("t10k" if split == "test" else "train")
        sel = {"train": slice(0, 50_000), "val": slice(50_000, 60_000), "test": slice(None)}[split]
        return x[sel], y[sel]
    raise ValueError(f"unknown image pool {name!r} (digits, fashion)")
