"""Ingest: read the configured source into `data/raw/` (Parquet + manifest). The source is never modified.

Sources (`ingest.source`):
  sklearn:digits           scikit-learn's bundled 8x8 digits (1,797 images, pixel values 0-16)
  path/to/file.csv[.gz]    one row per image: pixel columns in row-major order, plus `label`
  path/to/file.parquet     same layout as the CSV
  path/to/folder/          an image folder, <folder>/<class>/*.png (grayscale; colour is converted)
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from components import paths
from components.config import IngestConfig, load_params
from components.errors import IngestError
from components.io import atomic_dir, sha256_file, sha256_paths, write_json, write_parquet
from components.stage import stage_main

log = logging.getLogger(__name__)

LABEL = "label"
IMAGE_SUFFIXES = (".png",)


class RawData(BaseModel):
    """A loaded source: the frame plus what is known about it."""

    model_config = {"arbitrary_types_allowed": True}
    frame: pd.DataFrame
    dataset: str
    source_sha256: str
    image_shape: tuple[int, int] | None


class IngestResult(BaseModel):
    """What ingest wrote."""

    out_dir: Path
    rows: int
    dataset: str
    sha256: str


def dataset_name(source: str) -> str:
    """Short dataset name used in model names: sklearn:digits -> digits, data/my_set.csv -> my_set."""
    if source.startswith("sklearn:"):
        stem = source.split(":", 1)[1]
    else:
        stem = Path(source.rstrip("/")).name
        for suffix in (".gz", ".csv", ".parquet", ".pq"):
            stem = stem.removesuffix(suffix)
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_") or "data"


def load_raw(cfg: IngestConfig) -> RawData:
    """Read `cfg.source` into a frame with pixel columns and a `label` column."""
    source = cfg.source
    if source.startswith("sklearn:"):
        frame, digest = _load_sklearn(source.split(":", 1)[1])
    else:
        path = Path(source)
        if not path.exists():
            raise IngestError(f"{path}: ingest.source not found")
        if path.is_dir():
            frame = _load_image_folder(path)
        elif path.name.endswith((".csv", ".csv.gz")):
            frame = _load_csv(path)
        elif path.name.endswith((".parquet", ".pq")):
            frame = _load_parquet(path)
        else:
            raise IngestError(f"{path}: unsupported source type (expected .csv, .csv.gz, .parquet or a folder)")
        digest = sha256_paths([path])
        if cfg.label_column != LABEL and cfg.label_column in frame.columns:
            frame = frame.rename(columns={cfg.label_column: LABEL})
    return RawData(frame=frame, dataset=dataset_name(source), source_sha256=digest,
                   image_shape=cfg.image_shape or infer_shape(frame))


def source_fingerprint(cfg: IngestConfig) -> str:
    """Cheap identity of the source's content: its file hash, or the bundled dataset's name."""
    path = Path(cfg.source)
    return sha256_paths([path]) if not cfg.source.startswith("sklearn:") and path.exists() else cfg.source


def infer_shape(frame: pd.DataFrame) -> tuple[int, int] | None:
    """Square (side, side) from the number of pixel columns, or None when that is not a square."""
    n = len([c for c in frame.columns if c != LABEL])
    side = math.isqrt(n)
    return (side, side) if n > 0 and side * side == n else None


def _load_sklearn(name: str) -> tuple[pd.DataFrame, str]:
    if name != "digits":
        raise IngestError(f"sklearn:{name}: unknown bundled dataset (known: sklearn:digits)")
    from sklearn.datasets import load_digits

    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"px_{i}" for i in range(d.data.shape[1])])
    frame[LABEL] = d.target.astype("int64")
    return frame, sha256_bytes_of(frame)


def sha256_bytes_of(frame: pd.DataFrame) -> str:
    """Content hash of a frame (values and column names)."""
    from hashlib import sha256

    h = sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()


def _load_csv(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as e:
        raise IngestError(f"{path}: no columns to read (empty CSV)") from e
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as e:
        raise IngestError(f"{path}: not a readable CSV (truncated or corrupt?): {e}") from e


def _load_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError subclasses for corrupt files
        raise IngestError(f"{path}: not a readable Parquet file (truncated or corrupt?): {e}") from e


def _load_image_folder(root: Path) -> pd.DataFrame:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(f, d.name) for d in class_dirs for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise IngestError(f"{root}: no images found (expected {root}/<class>/*.png)")
    rows, labels, shape = [], [], None
    for f, label in files:
        try:
            with Image.open(f) as img:
                arr = np.asarray(img.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise IngestError(f"{f}: not a readable PNG (truncated or corrupt?): {e}") from e
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise IngestError(f"{f}: image is {arr.shape[0]}x{arr.shape[1]}, expected {shape[0]}x{shape[1]} "
                              f"like {files[0][0]}")
        rows.append(arr.reshape(-1))
        labels.append(label)
    frame = pd.DataFrame(np.stack(rows), columns=[f"px_{i}" for i in range(len(rows[0]))])
    # Folders named 0..9 become integer labels so they match `validate.labels: [0, ..., 9]`.
    frame[LABEL] = [int(x) for x in labels] if all(x.isdigit() for x in labels) else labels
    return frame


def run(cfg: IngestConfig, out_dir: Path = paths.RAW_DIR) -> IngestResult:
    """Read the source and write `<out_dir>/data.parquet` and `<out_dir>/manifest.json`."""
    raw = load_raw(cfg)
    frame = raw.frame
    with atomic_dir(out_dir) as tmp:
        write_parquet(tmp / paths.RAW_FILE, frame)
        digest = sha256_file(tmp / paths.RAW_FILE)
        write_json(tmp / paths.MANIFEST_FILE, {
            "source": cfg.source,
            "dataset": raw.dataset,
            "rows": len(frame),
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "image_shape": list(raw.image_shape) if raw.image_shape else None,
            "source_sha256": raw.source_sha256,
            "sha256": digest,
        })
    log.info("ingest: %s rows from %s -> %s", len(frame), cfg.source, out_dir)
    return IngestResult(out_dir=Path(out_dir), rows=len(frame), dataset=raw.dataset, sha256=digest)


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.ingest --params params.yaml --out data/raw"""
    p = argparse.ArgumentParser(prog="python -m components.ingest", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--out", type=Path, default=paths.RAW_DIR)
    args = p.parse_args(argv)
    return stage_main(lambda: run(load_params(args.params).ingest, args.out))


if __name__ == "__main__":
    raise SystemExit(main())
