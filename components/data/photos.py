"""`keel:photos`: a folder `<class>/*` of real images (scikit-learn digits or Fashion-MNIST) as RGB and gray
PNG and JPEG files of varied sizes and aspect ratios, the way a team's photo folder looks. Ingest writes it
and reads it back like a team's own folder (components/data/images.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.config.media import PhotoConfig
from components.data import pools


def write_photos(root: Path, cfg: PhotoConfig) -> int:
    """`per_class` real images per class under `<root>/<class>/` (RGB PNG, gray PNG, RGB JPEG)."""
    from PIL import Image

    parts = [pools.pool(cfg.pool, s) for s in pools.SPLITS]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    names = pools.class_names(cfg.pool)
    rng = np.random.default_rng(cfg.seed)
    count = 0
    for k, name in enumerate(names):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        members = np.flatnonzero(y == k)
        for j, i in enumerate(rng.choice(members, size=min(cfg.per_class, len(members)), replace=False)):
            w, h = (int(v) for v in rng.integers(cfg.min_side, cfg.max_side + 1, 2))  # varied aspect too
            kind = rng.random()
            if kind < cfg.gray_fraction:
                img, ext = Image.fromarray(x[i]), ".png"
            else:  # a tinted colour image: background + intensity * (foreground - background)
                fg, bg = rng.uniform(150, 255, 3), rng.uniform(0, 80, 3)
                rgb = np.clip(bg + x[i].astype(np.float32)[..., None] / 255.0 * (fg - bg), 0, 255).astype(np.uint8)
                img, ext = Image.fromarray(rgb), ".jpg" if kind < cfg.gray_fraction + cfg.jpeg_fraction else ".png"
            options = {"quality": 90} if ext == ".jpg" else {}
            img.resize((w, h), Image.Resampling.BILINEAR).save(folder / f"{name}-{j:05d}{ext}", **options)
            count += 1
    return count
