"""Robustness: the task's metrics on perturbed copies of the test split, as `robust_<metric>_<perturbation>`.

Perturbations act on RAW rows (what a caller sends), seeded and independent of the model, so every version
of a model is measured on the same perturbed rows and the registered transform does the rest:
- images (pixel columns): Gaussian `noise` (sigma in units of the train split's pixel std), random `shift`
  (up to N pixels each way, bilinear) and `rotation` (up to N degrees), the uncovered area filled with the
  background (median of the border pixels of the split);
- text (`text` column): character `typos` (swap / drop / insert / substitute a letter in a share of the
  words) and `word_drop` (a share of the words removed, one kept at least);
- tabular (numeric feature columns): Gaussian `noise` per column, sigma a share of the train split's std.
Series (forecasting windows) get none. Each figure is the mean over `evaluate.robustness.seeds` seeds.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from components.config.sections import RobustnessConfig
from components.core.columns import TEXT
from components.inference.checkpoint import Checkpoint
from components.inference.predict import predict, task_of

Perturbation = Callable[[pd.DataFrame, int], pd.DataFrame]


def _images(df: pd.DataFrame, t) -> np.ndarray:
    return df[t.columns].to_numpy(dtype=np.float64).reshape(len(df), t.height, t.width)


def _with_images(df: pd.DataFrame, t, x: np.ndarray) -> pd.DataFrame:
    out = df.copy()
    out[t.columns] = x.reshape(len(df), -1)
    return out


def image_noise(t, sigma: float, pixel_std: float) -> Perturbation:
    """Additive N(0, (sigma * pixel_std)^2) on every pixel."""
    def f(df: pd.DataFrame, seed: int) -> pd.DataFrame:
        x = _images(df, t)
        return _with_images(df, t, x + np.random.default_rng(seed).normal(0.0, sigma * pixel_std, x.shape))
    return f


def image_warp(t, kind: str, amount: float, background: float) -> Perturbation:
    """Each image shifted by up to `amount` pixels per axis, or rotated by up to `amount` degrees."""
    from scipy import ndimage

    def f(df: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng, x = np.random.default_rng(seed), _images(df, t)
        out = np.empty_like(x)
        for i in range(len(x)):
            if kind == "shift":
                out[i] = ndimage.shift(x[i], rng.uniform(-amount, amount, 2), order=1, mode="constant",
                                       cval=background)
            else:
                out[i] = ndimage.rotate(x[i], rng.uniform(-amount, amount), reshape=False, order=1,
                                        mode="constant", cval=background)
        return _with_images(df, t, out)
    return f


def _typo(word: str, rng: np.random.Generator) -> str:
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if not letters:
        return word
    i, op, ch = letters[rng.integers(len(letters))], rng.integers(4), string.ascii_lowercase[rng.integers(26)]
    if op == 0 and i + 1 < len(word):  # swap with the next character
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1 and len(word) > 1:  # drop
        return word[:i] + word[i + 1:]
    return word[:i] + ch + word[i + (0 if op == 2 else 1):]  # insert, or substitute


def text_edit(kind: str, rate: float) -> Perturbation:
    """A typo in each word with probability `rate`, or each word dropped with probability `rate`."""
    def f(df: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng, texts = np.random.default_rng(seed), []
        for text in df[TEXT].tolist():
            words = text.split(" ")
            if kind == "typos":
                texts.append(" ".join(_typo(w, rng) if w and rng.random() < rate else w for w in words))
            else:
                texts.append(" ".join([w for w in words if rng.random() >= rate] or words[:1]))
        return df.assign(**{TEXT: texts})
    return f


def tabular_noise(columns: list[str], scale: float, column_std: np.ndarray) -> Perturbation:
    """Additive N(0, (scale * std_j)^2) on each numeric feature column j."""
    def f(df: pd.DataFrame, seed: int) -> pd.DataFrame:
        x = df[columns].to_numpy(dtype=np.float64)
        out = df.copy()
        out[columns] = x + np.random.default_rng(seed).normal(size=x.shape) * (scale * column_std)
        return out
    return f


def perturbations(ckpt: Checkpoint, reference: pd.DataFrame, test: pd.DataFrame,
                  cfg: RobustnessConfig) -> dict[str, Perturbation]:
    """The perturbations that apply to the checkpoint's data kind (a strength of 0 leaves one out)."""
    t = ckpt.transform
    kind = t.kind.split(":")[0]
    out: dict[str, Perturbation] = {}
    if kind == "image":
        px = _images(test, t)
        border = np.concatenate([px[:, 0], px[:, -1], px[:, :, 0], px[:, :, -1]], axis=1)
        background = float(np.median(border))
        pixel_std = float(reference[t.columns].to_numpy(dtype=np.float64).std()) or 1.0
        out = {"noise": image_noise(t, cfg.image_noise, pixel_std) if cfg.image_noise else None,
               "shift": image_warp(t, "shift", cfg.image_shift, background) if cfg.image_shift else None,
               "rotation": image_warp(t, "rotation", cfg.image_rotation, background) if cfg.image_rotation else None}
    elif kind == "text":
        out = {"typos": text_edit("typos", cfg.text_typos) if cfg.text_typos else None,
               "word_drop": text_edit("word_drop", cfg.text_word_drop) if cfg.text_word_drop else None}
    elif kind == "tabular" and cfg.tabular_noise:
        std = reference[t.columns].to_numpy(dtype=np.float64).std(axis=0)
        out = {"noise": tabular_noise(list(t.columns), cfg.tabular_noise, np.where(std > 0, std, 1.0))}
    return {k: v for k, v in out.items() if v is not None}


def robust_metrics(ckpt: Checkpoint, test: pd.DataFrame, reference: pd.DataFrame, cfg: RobustnessConfig,
                   only: set[str] | None = None, batch_size: int = 1024) -> tuple[dict[str, float], dict[str, Any]]:
    """(`robust_<metric>_<perturbation>` means over seeds, details with per-seed values). `only`: compute just
    these names (the gate's floors)."""
    if not cfg.enabled:
        return {}, {}
    task = task_of(ckpt)
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    for name, perturb in perturbations(ckpt, reference, test, cfg).items():
        if only is not None and not any(k.endswith(f"_{name}") for k in only):
            continue
        per_seed: dict[str, list[float]] = {}
        for seed in range(cfg.seeds):
            rows = perturb(test, seed)
            for metric, value in task.score(ckpt.transform, rows, predict(ckpt, rows, batch_size)).items():
                per_seed.setdefault(metric, []).append(float(value))
        for metric, values in per_seed.items():
            figures[f"robust_{metric}_{name}"] = float(np.mean(values))
        details[name] = {"seeds": cfg.seeds, "per_seed": per_seed}
    if only is not None:
        figures = {k: v for k, v in figures.items() if k in only}
    return figures, details
