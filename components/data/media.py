"""Ingest for the media kinds: a team's folder of encoded files, or a generated set (`keel:photos`,
`keel:scenes`, `keel:crossings`) that ingest first WRITES in the documented on-disk format, inside its own
output folder, and then reads back through the same reader.

  kind        source                                              raw rows
  image_file  <root>/<class>/*.{png,jpg,jpeg}  | keel:photos       file, image (bytes), label
  detection   <root>/annotations.json + images/ | keel:scenes      file, image, boxes, classes (+ split)
  video       <root>/<label>/*.mp4, a CSV      | keel:crossings    video (path), label (+ split), the checks'
                                                                   values, frames (decoded, uint8 bytes)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from components.core.errors import IngestError
from components.data import clips, coco, images, photos, scenes, video

KINDS = ("image_file", "detection", "video")
# generated source -> (its data kind, folder name inside the raw folder, writer(root, cfg of the kind's ingest))
GENERATED: dict[str, tuple[str, str, Callable[[Path, Any], Any]]] = {
    "keel:photos": ("image_file", "photos", lambda root, cfg: photos.write_photos(root, cfg.photos)),
    "keel:scenes": ("detection", "scenes", lambda root, cfg: scenes.write_scenes(root, cfg.scenes)),
    "keel:crossings": ("video", "clips", lambda root, cfg: clips.write_clips(root, cfg.clips)),
}
NAMES = {"image_file": images.FILE, "detection": images.FILE, "video": video.VIDEO}  # the column naming a file


def read(cfg, kind: str, work_dir: Path, out_dir: Path) -> pd.DataFrame:
    """The source's raw rows. A generated source is written under `work_dir` (the raw folder being built,
    which becomes `out_dir`); file names in the rows point where the files will be, under `out_dir`."""
    source = cfg.source
    if source in GENERATED:
        want, folder, write = GENERATED[source]
        if want != kind:
            raise IngestError(f"ingest.source {source}: generates {want} data, the family's kind is {kind}")
        root = Path(work_dir) / folder
        write(root, cfg)
        frame = _read(cfg, kind, root / clips.CSV if kind == "video" else root)
        column = NAMES[kind]
        frame[column] = [str(Path(out_dir) / Path(p).relative_to(work_dir)) for p in frame[column]]
        return frame
    if source.startswith("keel:"):
        raise IngestError(f"ingest.source {source}: unknown generated source (known: {', '.join(GENERATED)})")
    path = Path(source)
    if not path.exists():
        raise IngestError(f"{path}: ingest.source not found")
    return _read(cfg, kind, path)


def _read(cfg, kind: str, path: Path) -> pd.DataFrame:
    if kind == "image_file":
        if not path.is_dir():
            raise IngestError(f"{path}: an image_file source is a folder <root>/<class>/*.png|jpg")
        return images.read_folder(path)
    if kind == "detection":
        return coco.read(path)
    return video.probe_all(video.read_clips(path), cfg.decode)


def manifest(cfg, kind: str) -> dict[str, Any]:
    """What later stages need to know about the raw data beyond the rows: the clips' decode settings."""
    return {"decode": cfg.decode.model_dump(mode="json")} if kind == "video" else {}


def scoring_chunks(folder: Path, kind: str, rows: int) -> Iterator[pd.DataFrame]:
    """Every file of the kind under `folder` (recursively, sorted), as raw rows to score, `rows` files at a
    time: `file` + `image` (bytes) for images, `video` (the path) for clips."""
    folder = Path(folder)
    suffixes = video.SUFFIXES if kind == "video" else images.SUFFIXES
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                   and not any(p.startswith(".") for p in f.relative_to(folder).parts))
    if not files:
        raise IngestError(f"{folder}: no {' / '.join(suffixes)} files to score")
    for start in range(0, len(files), rows):
        part = files[start:start + rows]
        yield (pd.DataFrame({video.VIDEO: [str(f) for f in part]}) if kind == "video" else
               pd.DataFrame({images.FILE: [str(f) for f in part], images.IMAGE: [f.read_bytes() for f in part]}))
