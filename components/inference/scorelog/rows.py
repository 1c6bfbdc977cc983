"""What a log row holds about one scored input: its monitored features, the prediction, the model's embedding.

The same functions describe the reference split when `keel monitor` compares a window with it, so a
window and its reference are always summarised alike.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from components.config.monitor import InferenceLogConfig
from components.core.columns import TEXT, TIMESTAMP
from components.families.registry import get
from components.inference.checkpoint import Checkpoint
from components.inference.predict import embed

FEATURE = "f."  # prefix of the monitored feature columns in the log
GRID = 4  # wide images: mean intensity per cell of a GRID x GRID grid (where in the image the ink is)


def encoded_image_summary(values) -> pd.DataFrame:
    """Encoded images (bytes, arrays) -> per-row width, height, channels and gray mean / std (NaN: undecodable)."""
    from components.data.images import open_image, probe, to_array

    rows = []
    for v in values:
        ok, channels, width, height = probe(v)
        gray = to_array(open_image(v), 1).astype(np.float64) if ok else None
        rows.append({"width": width, "height": height, "channels": channels,
                     "pixel_mean": gray.mean() if ok else np.nan, "pixel_std": gray.std() if ok else np.nan})
    return pd.DataFrame(rows, columns=["width", "height", "channels", "pixel_mean", "pixel_std"], dtype="float64")


def image_summary(pixels: np.ndarray, height: int, width: int) -> pd.DataFrame:
    """(N, H*W) pixels -> per-row mean, std, min, max, share at the row's minimum, and GRID x GRID cell means."""
    x = np.asarray(pixels, dtype=np.float64)
    out = {"pixel_mean": x.mean(1), "pixel_std": x.std(1), "pixel_min": x.min(1), "pixel_max": x.max(1),
           "pixel_at_min": (x <= x.min(1, keepdims=True)).mean(1)}
    img = x.reshape(len(x), height, width)
    rows, cols = np.array_split(np.arange(height), GRID), np.array_split(np.arange(width), GRID)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            out[f"cell_{i}_{j}"] = img[:, r][:, :, c].mean(axis=(1, 2))
    return pd.DataFrame(out)


class RowSummarizer:
    """A model's view of its inputs for the log: `features(df)` (the monitored columns), `embeddings(df)`.

    Image and tabular inputs up to `max_input_columns` wide are logged as they are; wider images as
    `image_summary`; encoded images (image_file, detection) as `encoded_image_summary`; clips not at all (only
    their predictions); text as its length in characters and tokens and the share of tokens the model's
    vocabulary does not know; a series by its values. The model is copied, so the log's embedding pass never
    touches the module that serves requests."""

    def __init__(self, ckpt: Checkpoint, cfg: InferenceLogConfig, raw: bool | None = None):
        """`raw`: log the raw inputs (True), their summary (False), or as `cfg.max_input_columns` says (None)."""
        self.kind = get(ckpt.family).kind
        self.transform = ckpt.transform
        self.columns = [] if self.kind == "video" else list(ckpt.transform.input_columns)  # a clip: MBs
        wide = len(self.columns) > cfg.max_input_columns if raw is None else not raw
        self.raw = self.kind in ("image", "tabular") and not wide
        has_embed = callable(getattr(ckpt.model, "embed", None)) and self.kind in ("image", "text")
        self.ckpt = copy.copy(ckpt) if cfg.embeddings and has_embed else None
        if self.ckpt is not None:
            self.ckpt.model = copy.deepcopy(ckpt.model).eval()

    def features(self, df: pd.DataFrame) -> pd.DataFrame:
        """The monitored columns of raw rows (named without the log's `f.` prefix)."""
        if self.raw:
            return df[self.columns].reset_index(drop=True)
        if self.kind == "image":
            t = self.transform
            return image_summary(df[self.columns].to_numpy(dtype=np.float64), t.height, t.width)
        if self.kind in ("image_file", "detection"):  # encoded files: their size, channels, brightness
            return encoded_image_summary(df[self.columns[0]].tolist())
        if self.kind == "video":  # a clip is not summarised (its label distribution is logged)
            return pd.DataFrame(index=range(len(df)))
        if self.kind == "text":
            vocab = set(self.transform.vocab)
            tokens = [self.transform.tokenize(t) if isinstance(t, str) else [] for t in df[TEXT].tolist()]
            return pd.DataFrame({"text_chars": df[TEXT].astype(str).str.len().to_numpy(dtype=np.float64),
                                 "text_tokens": np.array([len(t) for t in tokens], dtype=np.float64),
                                 "text_unknown": np.array([sum(w not in vocab for w in t) / len(t) if t else 1.0
                                                           for t in tokens])})
        return df[[c for c in self.columns if c != TIMESTAMP]].reset_index(drop=True)

    def embeddings(self, df: pd.DataFrame) -> np.ndarray | None:
        """(N, D) float32 embeddings from the model's `embed`, or None (no embedding for this family)."""
        return None if self.ckpt is None else embed(self.ckpt, df)


def prediction_of(inputs: pd.DataFrame, outputs: pd.DataFrame) -> pd.Series | None:
    """The prediction per input row: the output frame's first column, when there is one row out per row in."""
    if len(outputs.columns) == 0 or len(outputs) != len(inputs):
        return None
    return outputs.iloc[:, 0].reset_index(drop=True)
