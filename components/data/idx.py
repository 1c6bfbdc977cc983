"""IDX files (the MNIST / Fashion-MNIST format) -> Keel's raw image layout, for `ingest.source: idx:<spec>`.

An IDX file is a big-endian header, then the array in C order:
  bytes 0-1  zero;  byte 2  dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
  0x0E float64);  byte 3  number of dimensions d;  then d big-endian uint32 sizes;  then the data.
Images are (N, H, W) (`*-images-idx3-ubyte`), labels (N,) (`*-labels-idx1-ubyte`); either may be gzipped.

`<spec>` is one of
  DIR or PREFIX          `<prefix>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (a DIR means `DIR/`);
                         both parts are required and become the predefined split (`split`: train / test)
  IMAGES,LABELS          one pair of files; no predefined split
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from components.core.columns import LABEL, SPLIT
from components.core.errors import IngestError

SCHEME = "idx:"
PARTS = {"train": "train", "t10k": "test"}  # file-name part -> split name
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_array(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not); every malformation raises IngestError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: IDX file not found")
    try:
        blob = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise IngestError(f"{path}: not a readable gzip file (truncated or corrupt?): {e}") from e
    if len(blob) < 4 or blob[:2] != b"\x00\x00" or blob[2] not in DTYPES or blob[3] == 0:
        raise IngestError(f"{path}: not an IDX file (bad magic number {blob[:4].hex() or 'empty'})")
    ndim, start = blob[3], 4 + 4 * blob[3]
    if len(blob) < start:
        raise IngestError(f"{path}: IDX header truncated ({len(blob)} bytes, expected {start} for {ndim} dims)")
    shape = tuple(int(d) for d in np.frombuffer(blob, ">u4", ndim, 4))
    dtype = np.dtype(DTYPES[blob[2]])
    expected = start + int(np.prod(shape)) * dtype.itemsize
    if len(blob) != expected:
        raise IngestError(f"{path}: IDX data is {len(blob)} bytes, header {shape} {dtype.name} needs {expected} "
                          "(truncated or corrupt?)")
    return np.frombuffer(blob, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def _find(prefix: str, part: str, what: str) -> Path:
    base = f"{prefix}{part}-{what}-ubyte"
    for candidate in (Path(base), Path(base + ".gz")):
        if candidate.is_file():
            return candidate
    raise IngestError(f"{base}[.gz]: IDX file not found (ingest.source {SCHEME}{prefix.removesuffix('/')})")


def files(spec: str) -> list[tuple[str | None, Path, Path]]:
    """The (split, images, labels) file pairs that `spec` names (split is None for an explicit pair)."""
    if "," in spec:
        images, labels = (Path(p.strip()) for p in spec.split(",", 1))
        return [(None, images, labels)]
    prefix = spec + "/" if Path(spec).is_dir() and not spec.endswith("/") else spec
    return [(split, _find(prefix, part, "images-idx3"), _find(prefix, part, "labels-idx1"))
            for part, split in PARTS.items()]


def read(spec: str) -> pd.DataFrame:
    """The IDX files named by `spec` -> pixel columns px_0.. (row-major) + `label` (+ `split`)."""
    frames = []
    for split, images_path, labels_path in files(spec):
        images, labels = read_array(images_path), read_array(labels_path)
        if images.ndim != 3:
            raise IngestError(f"{images_path}: expected a 3-dim IDX array (N, height, width), got {images.shape}")
        if labels.ndim != 1:
            raise IngestError(f"{labels_path}: expected a 1-dim IDX array of labels, got {labels.shape}")
        if len(images) != len(labels):
            raise IngestError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
        if frames and images.shape[1:] != frames[0][1]:
            raise IngestError(f"{images_path}: images are {images.shape[1:]}, the other part's {frames[0][1]}")
        frame = pd.DataFrame(images.reshape(len(images), -1), columns=[f"px_{i}" for i in range(images[0].size)])
        frame[LABEL] = labels.astype("int64")
        if split is not None:
            frame[SPLIT] = split
        frames.append((frame, images.shape[1:]))
    return pd.concat([f for f, _ in frames], ignore_index=True)


def paths(spec: str) -> list[Path]:
    """Every file `spec` reads (for the source's content hash)."""
    return [p for _, images, labels in files(spec) for p in (images, labels)]


def name(spec: str) -> str:
    """Dataset name: the folder (or prefix) for a DIR/PREFIX spec, the images file's folder for a pair."""
    if "," in spec:
        return Path(spec.split(",", 1)[0]).resolve().parent.name
    p = Path(spec)
    if p.is_dir() or spec.endswith("/"):
        return p.resolve().name
    return re.sub(r"[-_.]+$", "", p.name) or p.resolve().parent.name
