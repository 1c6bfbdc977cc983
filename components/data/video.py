"""Video clips: listing a team's clips, decoding them with PyAV, and what validate checks.

A source is a folder `<root>/<label>/*.mp4` or a CSV with columns `path,label[,split]` (paths relative to the
CSV's folder). Ingest decodes every clip once (`probe`): `frames` frames resized to height x width, gray or
RGB, either spread over the whole clip (`fps: null`) or resampled to `fps` from its start (constant frame
rate assumed). What it learns about the source goes beside the frames: `decodable` (it opens, has a video
stream, every frame decodes), `fps`, `frame_count`, `width`, `height` (the source resolution) and
`long_enough` (enough frames for the decode settings); validate checks them (`clip_checks`), naming the file.
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

from components.config.media import DecodeConfig
from components.core.columns import LABEL, SPLIT
from components.core.errors import IngestError

VIDEO, FRAMES = "video", "frames"  # a clip's path (or the bytes a caller sends); its decoded uint8 frames
CHECKS = ["decodable", "fps", "frame_count", "width", "height", "long_enough"]
SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")


class ClipError(ValueError):
    """A clip failed a check: `check` names it (decodable, long_enough)."""

    def __init__(self, check: str, detail: str):
        super().__init__(f"{check}: {detail}")
        self.check = check


def read_clips(source: Path) -> pd.DataFrame:
    """A folder `<root>/<label>/*.mp4` or a CSV `path,label[,split]` -> rows `video` (path), `label` (+ `split`)."""
    source = Path(source)
    if source.is_file():
        table = pd.read_csv(source)
        missing = [c for c in ("path", LABEL) if c not in table.columns]
        if missing:
            raise IngestError(f"{source}: a clip list needs the columns path,{LABEL}[,{SPLIT}]; missing {missing}")
        out = pd.DataFrame({VIDEO: [str(source.parent / p) for p in table["path"]], LABEL: table[LABEL].to_numpy()})
        return out.assign(**{SPLIT: table[SPLIT].astype(str).to_numpy()}) if SPLIT in table.columns else out
    files = sorted(f for d in source.iterdir() if d.is_dir() and not d.name.startswith(".")
                   for f in d.iterdir() if f.suffix.lower() in SUFFIXES)
    if not files:
        raise IngestError(f"{source}: no clips found (expected {source}/<label>/*.mp4 or a CSV of path,label)")
    labels = [f.parent.name for f in files]
    return pd.DataFrame({VIDEO: [str(f) for f in files],
                         LABEL: [int(x) for x in labels] if all(x.isdigit() for x in labels) else labels})


def _open(value: Any):
    """An open PyAV container from a path, encoded bytes or base64 text."""
    import av

    if isinstance(value, (bytes, bytearray, memoryview)):
        target: Any = io.BytesIO(bytes(value))
    elif isinstance(value, os.PathLike) or (isinstance(value, str) and len(value) < 4096 and os.path.isfile(value)):
        target = str(value)
    elif isinstance(value, str):
        try:
            target = io.BytesIO(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ClipError("decodable", "text is neither an existing file path nor base64 of a video") from None
    else:
        raise ClipError("decodable", f"expected a path, encoded bytes or base64 text, got {type(value).__name__}")
    try:
        return av.open(target)
    except (av.FFmpegError, OSError) as e:  # not a media file, truncated (no moov atom), missing
        raise ClipError("decodable", f"cannot open: {e}") from None


def indices(n: int, src_fps: float, cfg: DecodeConfig) -> np.ndarray | None:
    """Source frame index of each output frame; None when the clip is too short for `cfg.fps`."""
    if cfg.fps is None:
        return np.floor(np.linspace(0, max(n - 1, 0), cfg.frames) + 0.5).astype(np.int64)
    idx = np.floor(np.arange(cfg.frames) * (src_fps / cfg.fps) + 0.5).astype(np.int64)
    return idx if idx[-1] < n else None


def probe(value: Any, cfg: DecodeConfig) -> dict[str, Any]:
    """Decode one clip (every frame: decodability is checked on the whole file); the checks' values, the selected
    frames (bytes of (T, H, W, C) uint8, None when it fails) and `error` (why, or None)."""
    import av
    from av.video.reformatter import Interpolation, VideoReformatter

    out: dict[str, Any] = dict.fromkeys(CHECKS) | {"decodable": False, FRAMES: None, "error": None}
    try:
        with _open(value) as container:
            if not container.streams.video:
                raise ClipError("decodable", "no video stream")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            rate = stream.average_rate or stream.guessed_rate
            out |= {"fps": float(rate) if rate else None, "width": stream.codec_context.width,
                    "height": stream.codec_context.height}
            frames = []
            try:
                for i, frame in enumerate(container.decode(stream)):
                    if frame.is_corrupt:
                        raise ClipError("decodable", f"frame {i} is corrupt")
                    frames.append(frame)
            except av.FFmpegError as e:
                raise ClipError("decodable", f"frame {len(frames)}: {e}") from None
        if not frames:
            raise ClipError("decodable", "no frame decodes")
        out |= {"decodable": True, "frame_count": len(frames)}
        idx = indices(len(frames), out["fps"] or 0.0, cfg)
        out["long_enough"] = idx is not None
        if idx is None:
            raise ClipError("long_enough", f"{len(frames)} frames at {out['fps']:g} fps; {cfg.frames} frames at "
                                           f"{cfg.fps:g} fps need {cfg.frames / cfg.fps:.2f} s")
        scale = VideoReformatter()
        fmt = "gray" if cfg.channels == 1 else "rgb24"
        pixels = np.stack([scale.reformat(frames[i], width=cfg.width, height=cfg.height, format=fmt,
                                          interpolation=Interpolation.AREA).to_ndarray() for i in idx])
        out[FRAMES] = np.ascontiguousarray(pixels.reshape(cfg.frames, cfg.height, cfg.width, cfg.channels)).tobytes()
    except ClipError as e:
        out["error"] = str(e)
    return out


def decode(value: Any, cfg: DecodeConfig) -> np.ndarray:
    """(T, H, W, C) uint8 frames of one clip; ClipError names the failed check."""
    found = probe(value, cfg)
    if found[FRAMES] is None:
        raise ClipError(*found["error"].split(": ", 1))
    return np.frombuffer(found[FRAMES], np.uint8).reshape(cfg.frames, cfg.height, cfg.width, cfg.channels)


def probe_all(df: pd.DataFrame, cfg: DecodeConfig) -> pd.DataFrame:
    """`df` (with a `video` column) plus the checks' columns, `frames` and `error`, one decode per clip."""
    found = pd.DataFrame([probe(v, cfg) for v in df[VIDEO]], index=df.index,
                         columns=None if len(df) else [*CHECKS, FRAMES, "error"])  # no clips: the columns alone
    return pd.concat([df, found.astype({"decodable": bool, "frame_count": "Int64", "width": "Int64",
                                        "height": "Int64", "fps": "float64", "long_enough": "boolean"})], axis=1)


def clip_checks(df: pd.DataFrame, cfg: Any = None, decode: dict[str, Any] | None = None) -> pd.DataFrame:
    """What validate checks, one row per clip: `video` and CHECKS (+ label, split); clips not probed at ingest
    (batch scoring, serving) are probed here with `decode`, the model's own settings (`long_enough` depends
    on them), DecodeConfig's defaults only when none are known."""
    if "decodable" not in df.columns:
        df = probe_all(df, DecodeConfig.model_validate(decode or {}))
    keep = [VIDEO, *CHECKS] + [c for c in (LABEL, SPLIT) if c in df.columns]
    out = df[keep].copy()
    out[VIDEO] = [v if isinstance(v, str) and len(v) < 4096 else f"row {i}" for i, v in enumerate(out[VIDEO])]
    return out
