"""`keel:crossings`: seeded MP4 clips (H.264 through PyAV; MPEG-4 Part 2 where its FFmpeg lacks libx264) in
which real images (components/data/pools.py) move, with a label that needs time to answer.

"Two crossings" (4 classes): in the first half of a clip one object enters at one edge, crosses the frame and
leaves at the other; in the second half another object does the same. The label is the pair of directions in
time order: left-left, left-right, right-left, right-right. A crossing starts and ends fully off screen, so the
set of frames of one crossing does not depend on its direction (reversed in time it is a crossing the other
way, drawn with the same probability), and the two crossings never share a frame: any function of one frame,
and any average over frames, has the same distribution for all four labels. Only the order of frames tells,
and the first direction must be remembered through the second crossing. Frame 0 is blank (x264 makes it the
only key frame), a static dimmed distractor sits in some clips, and size, height, drift, speed and start time
vary per object.

Written as `<root>/<split>/<label>/<split>-<i>.mp4` and `<root>/clips.csv` (path,label,split): the documented
CSV source format, read back like a team's own clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.config.media import ClipConfig
from components.data import pools

LABELS = ("left-left", "left-right", "right-left", "right-right")
CSV = "clips.csv"


def pick_codec(preferred: str = "libx264") -> str:
    """`preferred` when PyAV's FFmpeg can encode with it, else mpeg4 (always built in)."""
    import av

    for name in (preferred, "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001, S112 - UnknownCodecError moved between PyAV versions
            continue
    raise RuntimeError("PyAV can encode neither libx264 nor mpeg4")


def _paste(canvas: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    """Max-composite `img` with its top-left at (x, y); what falls off the canvas is dropped."""
    (h, w), (s_h, s_w) = canvas.shape, img.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + s_w, w), min(y + s_h, h)
    if x0 < x1 and y0 < y1:
        np.maximum(canvas[y0:y1, x0:x1], img[y0 - y:y1 - y, x0 - x:x1 - x], out=canvas[y0:y1, x0:x1])


def _resized(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))


def draw(cfg: ClipConfig, images: np.ndarray, rng: np.random.Generator, label: str) -> np.ndarray:
    """(n_frames, H, W) uint8 frames of one clip with `label`."""
    half = cfg.n_frames // 2
    frames = np.zeros((cfg.n_frames, cfg.height, cfg.width), np.uint8)
    crossings = []
    for h, direction in enumerate(label.split("-")):
        s = int(rng.integers(cfg.min_size, cfg.max_size + 1))
        img = _resized(images[rng.integers(len(images))], s)
        steps = int(rng.integers(cfg.min_steps, half - 1))  # frames t0 .. t0 + steps, inside the half
        t0 = h * half + int(rng.integers(0, half - steps))
        drift = int(rng.integers(-cfg.max_drift, cfg.max_drift + 1))
        lo, hi = max(0, -drift * steps), min(cfg.height - s, cfg.height - s - drift * steps)
        crossings.append((img, int(rng.integers(lo, hi + 1)), drift, t0, steps, direction))
    if rng.random() < cfg.distractor:  # a static object in every frame but the first
        s = int(rng.integers(cfg.min_size, cfg.max_size + 1))
        img = (_resized(images[rng.integers(len(images))], s) * rng.uniform(0.4, 0.8)).astype(np.uint8)
        x, y = int(rng.integers(0, cfg.width - s + 1)), int(rng.integers(0, cfg.height - s + 1))
        for t in range(1, cfg.n_frames):
            _paste(frames[t], img, x, y)
    for img, y0, drift, t0, steps, direction in crossings:
        s = img.shape[0]
        for k in range(steps + 1):
            frac = k / steps if direction == "right" else 1.0 - k / steps
            _paste(frames[t0 + k], img, round(-s + frac * (cfg.width + s)), y0 + drift * k)  # -s .. width: off screen
    frames[0] = 0  # the blank key frame
    return frames


def encode(frames: np.ndarray, path: Path, fps: int, crf: int = 20) -> str:
    """(T, H, W) gray or (T, H, W, 3) RGB uint8 frames -> an MP4 at `path`, yuv420p, one key frame; the codec.
    One encoder thread, so the bytes depend only on the frames and the settings."""
    import av

    codec = pick_codec()
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.gop_size = 250
        stream.codec_context.thread_count = 1
        stream.options = ({"crf": str(crf), "preset": "veryfast", "threads": "1"} if codec == "libx264"
                          else {"qscale": "3"})
        for i, arr in enumerate(np.ascontiguousarray(frames)):
            frame = av.VideoFrame.from_ndarray(arr, format="gray" if arr.ndim == 2 else "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return codec


def write_clips(root: Path, cfg: ClipConfig) -> pd.DataFrame:
    """Every split's clips under `root` (labels balanced, content seeded per split), and `root/clips.csv`."""
    rows = []
    for split, n in zip(pools.SPLITS, (cfg.n_train, cfg.n_val, cfg.n_test), strict=True):
        images = pools.pool(cfg.pool, split)[0]
        rng = np.random.default_rng([cfg.seed, pools.SPLITS.index(split)])
        for label in LABELS:
            (Path(root) / split / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            label = LABELS[i % len(LABELS)]
            rel = f"{split}/{label}/{split}-{i:05d}.mp4"
            encode(draw(cfg, images, rng, label), Path(root) / rel, cfg.fps, cfg.crf)
            rows.append({"path": rel, "label": label, "split": split})
    table = pd.DataFrame(rows, columns=["path", "label", "split"])
    table.to_csv(Path(root) / CSV, index=False)
    return table
