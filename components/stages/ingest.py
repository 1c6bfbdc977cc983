"""Ingest: read the configured source into `data/raw/` (Parquet + manifest). The source is never modified.

Sources (`ingest.source`), see components/data/sources.py:
  sklearn:digits, sklearn:diabetes, ...   bundled datasets, read from installed packages
  path/to/file.csv[.gz], .parquet          one row per example, a `label` column (or `ingest.label_column`);
                                           series: `timestamp` + `value` columns, one row per observation
  path/to/folder/                          an image folder, <folder>/<class>/*.png
  idx:<dir-or-prefix> | idx:<images>,<labels>   IDX files (MNIST format), see components/data/idx.py
Media kinds (image_file, detection, video; components/data/media.py): a folder of image files, a COCO-style
folder, a folder or CSV of clips, or a generated set (keel:photos, keel:scenes, keel:crossings) written into
the output folder first.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from components.config.sections import IngestConfig
from components.core import paths
from components.core.columns import LABEL, SPLIT
from components.core.io import atomic_dir, sha256_file, sha256_paths, write_json, write_parquet
from components.data import media, sources, streaming
from components.data.sources import dataset_name
from components.stages.spec import Io, Stage

log = logging.getLogger(__name__)


class RawData(BaseModel):
    """A loaded source: the frame plus what is known about it."""

    model_config = {"arbitrary_types_allowed": True}
    frame: pd.DataFrame
    dataset: str
    kind: str
    source_sha256: str
    image_shape: tuple[int, int] | None = None


class IngestResult(BaseModel):
    """What ingest wrote."""

    out_dir: Path
    rows: int
    dataset: str
    sha256: str


def load_raw(cfg: IngestConfig, kind: str = "image") -> RawData:
    """Read `cfg.source` into the raw layout of `kind`, with the target renamed to `label`."""
    frame = sources.read(cfg.source)
    if cfg.label_column != LABEL and cfg.label_column in frame.columns:
        frame = frame.rename(columns={cfg.label_column: LABEL})
    if kind == "series":
        frame = sources.as_series(frame, cfg.source)
    if kind == "text":
        frame = text_columns(frame, cfg.text_column)
    return RawData(frame=frame, dataset=dataset_name(cfg.source), kind=kind, source_sha256=source_fingerprint(cfg),
                   image_shape=(cfg.image_shape or infer_shape(frame)) if kind == "image" else None)


def text_columns(frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
    """Text kind: `text_column` renamed to `text`; only `text` and `label` kept (validate checks they exist)."""
    if text_column != "text" and text_column in frame.columns:
        frame = frame.rename(columns={text_column: "text"})
    dropped = [str(c) for c in frame.columns if c not in ("text", LABEL)]
    if dropped:
        log.info("ingest: text kind keeps `text` and `%s`; dropped %s", LABEL, dropped)
    return frame[[c for c in frame.columns if c in ("text", LABEL)]]


def source_fingerprint(cfg: IngestConfig) -> str:
    """Identity of the source's content: the hash of its file(s), or the bundled dataset's name."""
    return cfg.source if sources.is_bundled(cfg.source) else sha256_paths(sources.source_paths(cfg.source))


def infer_shape(frame: pd.DataFrame) -> tuple[int, int] | None:
    """Square (side, side) from the number of pixel columns, or None when that is not a square."""
    n = len([c for c in frame.columns if c not in (LABEL, SPLIT)])
    side = math.isqrt(n)
    return (side, side) if n > 0 and side * side == n else None


def run(cfg: IngestConfig, out_dir: Path = paths.RAW_DIR, kind: str = "image") -> IngestResult:
    """Read the source and write `<out_dir>/data.parquet` and `<out_dir>/manifest.json`."""
    if streaming.is_parquet_dataset(cfg.source):  # larger than memory: streamed into parts
        m = streaming.ingest(Path(cfg.source), out_dir, cfg.label_column, kind)
        return IngestResult(out_dir=Path(out_dir), rows=m["rows"], dataset=m["dataset"], sha256=m["sha256"])
    with atomic_dir(out_dir) as tmp:
        if kind in media.KINDS:  # encoded files (a generated set is written into the output folder first)
            raw = RawData(frame=media.read(cfg, kind, tmp, Path(out_dir)), dataset=dataset_name(cfg.source),
                          kind=kind, source_sha256=source_fingerprint(cfg))
        else:
            raw = load_raw(cfg, kind)
        frame = raw.frame
        write_parquet(tmp / paths.RAW_FILE, frame)
        digest = sha256_file(tmp / paths.RAW_FILE)
        write_json(tmp / paths.MANIFEST_FILE, {
            "source": cfg.source,
            "dataset": raw.dataset,
            "kind": kind,
            "rows": len(frame),
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "image_shape": list(raw.image_shape) if raw.image_shape else None,
            "source_sha256": raw.source_sha256,
            "sha256": digest,
        } | media.manifest(cfg, kind) | ({"text_column": cfg.text_column} if kind == "text" else {}))
    log.info("ingest: %s rows from %s -> %s", len(frame), cfg.source, out_dir)
    return IngestResult(out_dir=Path(out_dir), rows=len(frame), dataset=raw.dataset, sha256=digest)


STAGE = Stage("ingest", run, (Io("out_dir", paths.RAW_DIR, "out", marker=paths.MANIFEST_FILE),),
              extra_deps=(str(paths.SOURCES_DIR),), fingerprint=lambda p: source_fingerprint(p.ingest), data=True,
              retries=True)
