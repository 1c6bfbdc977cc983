"""Encoded images (PNG, JPEG, anything Pillow decodes): folders of them, what a caller may send, the checks.

A folder `<root>/<class>/*.{png,jpg,jpeg}` is read WITHOUT decoding into rows `file` (the path), `image`
(the file's bytes) and `label` (the class folder; all-digit names become integers); validate decodes every
image (`image_checks`). `to_array` turns what a client sends (encoded bytes, base64 text, a file path, an
array (H, W[, C]) of 0..255 values) into pixels.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.config.media import ImageFileValidateConfig
from components.core.columns import LABEL, SPLIT
from components.core.errors import IngestError

IMAGE, FILE = "image", "file"  # the raw layout's columns: encoded bytes, and the name checks report
SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow mode -> channels the image has as decoded (P: a palette, read as RGB); 0: not 8-bit gray or colour
CHANNELS = {"1": 1, "L": 1, "P": 3, "RGB": 3, "LA": 2, "RGBA": 4, "CMYK": 4}


def read_folder(root: Path) -> pd.DataFrame:
    """`<root>/<class>/*.{png,jpg,jpeg}` -> `file`, `image` (bytes, not decoded), `label` (the class folder)."""
    root = Path(root)
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(f, d.name) for d in classes for f in sorted(d.iterdir()) if f.is_file() and not f.name.startswith(".")]
    other = [f for f, _ in files if f.suffix.lower() not in SUFFIXES]
    if other:
        raise IngestError(f"{other[0]}: not an image file (expected {', '.join(SUFFIXES)} in {root}/<class>/); "
                          f"{len(other)} such file(s)")
    if not files:
        raise IngestError(f"{root}: no images found (expected {root}/<class>/*.png or .jpg)")
    labels = [c for _, c in files]
    return pd.DataFrame({FILE: [str(f) for f, _ in files], IMAGE: [f.read_bytes() for f, _ in files],
                         LABEL: [int(c) for c in labels] if all(c.isdigit() for c in labels) else labels})


def open_image(value: Any):
    """A PIL image, fully decoded, from encoded bytes, base64 text, a path or an array; ValueError says why not."""
    from PIL import Image

    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (np.ndarray, list)):
        arr = np.asarray(value)
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3) or arr.dtype.kind not in "uif" \
                or arr.size == 0 or np.nanmin(arr) < 0 or np.nanmax(arr) > 255:
            raise ValueError(f"an image array must be (H, W) or (H, W, 3) of values 0..255, got shape "
                             f"{arr.shape} dtype {arr.dtype}")
        return Image.fromarray(np.rint(arr).astype(np.uint8) if arr.dtype != np.uint8 else arr)
    data = _bytes(value)
    try:
        img = Image.open(io.BytesIO(data))
        img.load()  # a full decode: truncated and broken files fail here, not only bad headers
    except Exception as e:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
        raise ValueError(f"not a decodable image ({type(e).__name__}: {e})") from None
    return img


def _bytes(value: Any) -> bytes:
    """Encoded bytes from bytes, a path (str or PathLike) or base64 text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, os.PathLike) or (isinstance(value, str) and len(value) < 4096 and os.path.isfile(value)):
        return Path(value).read_bytes()
    if isinstance(value, str):
        try:
            return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("text is neither an existing file path nor base64 of an encoded file") from None
    raise ValueError(f"expected encoded bytes, base64 text, a file path or an array, got {type(value).__name__}")


def to_array(value: Any, channels: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, channels) uint8 pixels (gray or RGB), resized (bilinear) to `size` (height, width) when given."""
    from PIL import Image

    img = open_image(value).convert("L" if channels == 1 else "RGB")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(img, np.uint8).reshape(img.size[1], img.size[0], channels)


def sizes(values) -> np.ndarray:
    """(N, 2) [height, width] of encoded images, from their headers only."""
    from PIL import Image

    out = np.empty((len(values), 2), np.int64)
    for i, v in enumerate(values):
        img = open_image(v) if isinstance(v, (np.ndarray, list)) else Image.open(io.BytesIO(_bytes(v)))
        out[i] = img.size[1], img.size[0]
    return out


def probe(value: Any) -> tuple[bool, int | None, int | None, int | None]:
    """(decodable, channels, width, height) of one image; None for what an undecodable image cannot say."""
    try:
        img = open_image(value)
    except ValueError:
        return False, None, None, None
    return True, CHANNELS.get(img.mode, 0), img.size[0], img.size[1]


def image_checks(df: pd.DataFrame, cfg: ImageFileValidateConfig | None = None) -> pd.DataFrame:
    """What validate checks, one row per image: `file`, `decodable`, `channels`, `width`, `height` (+ label, split)."""
    names = df[FILE] if FILE in df.columns else pd.Series([f"row {i}" for i in range(len(df))])
    found = [probe(v) for v in df[IMAGE]] if IMAGE in df.columns else []
    out = pd.DataFrame(found, columns=["decodable", "channels", "width", "height"], dtype="object")
    out = out.astype({"decodable": bool, "channels": "Int64", "width": "Int64", "height": "Int64"})
    out.insert(0, FILE, names.astype(str).to_numpy())
    for c in (LABEL, SPLIT):
        if c in df.columns:
            out[c] = df[c].to_numpy()
    return out
