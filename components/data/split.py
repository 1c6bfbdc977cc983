"""Seeded train/val/test splits: stratified for classes, or honouring a predefined `split` column; and the
check (run by validate, before anything trains) that the classes can be split that way."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from components.config.sections import FeaturesConfig
from components.core import paths
from components.core.columns import LABEL, SPLIT
from components.core.errors import StageInputError


def split(df: pd.DataFrame, cfg: FeaturesConfig, stratify: bool = True) -> dict[str, pd.DataFrame]:
    """Train/val/test split, deterministic for a seed; stratified on `label` for class targets.

    The holdout (val + test) is drawn first, then divided, so `val_size: 0` gives exactly
    train_test_split(test_size=test_size, random_state=seed).
    """
    if SPLIT in df.columns:
        return predefined_split(df, cfg, stratify)
    idx = np.arange(len(df))
    y = df[LABEL].to_numpy() if stratify else None
    holdout = cfg.val_size + cfg.test_size
    try:
        i_tr, i_tmp = train_test_split(idx, test_size=holdout, stratify=y, random_state=cfg.seed)
        if cfg.val_size == 0:
            i_va, i_te = i_tmp[:0], i_tmp
        else:
            i_va, i_te = train_test_split(i_tmp, test_size=cfg.test_size / holdout,
                                          stratify=None if y is None else y[i_tmp], random_state=cfg.seed)
    except ValueError as e:
        counts = pd.Series(y).value_counts() if y is not None else pd.Series(dtype=int)
        raise StageInputError(f"cannot split {len(df)} rows: {e}; smallest classes: "
                              f"{counts.tail(3).to_dict()}") from e
    return {name: df.iloc[np.sort(i)].reset_index(drop=True)
            for name, i in zip(paths.SPLITS, (i_tr, i_va, i_te), strict=True)}


def predefined_split(df: pd.DataFrame, cfg: FeaturesConfig, stratify: bool = True) -> dict[str, pd.DataFrame]:
    """Honour the `split` column: test = its `test` rows; val = its `val` rows when it has some, else a seeded
    `val_size` share of its `train` rows.

    `test_size` does not apply. The `split` column is dropped from every part.
    """
    values = df[SPLIT].astype(str)
    unknown = sorted(set(values.unique()) - {"train", "val", "test"})
    if unknown:
        raise StageInputError(f"column {SPLIT!r}: unknown value(s) {unknown[:5]} (expected train, val, test)")
    i_pool, i_given, i_te = (np.flatnonzero(values == s) for s in ("train", "val", "test"))
    if len(i_pool) == 0 or len(i_te) == 0:
        raise StageInputError(f"column {SPLIT!r}: {len(i_pool)} train and {len(i_te)} test rows; both are needed")
    i_tr, i_va = i_pool, i_given
    if len(i_given) == 0 and cfg.val_size > 0:
        y = df[LABEL].to_numpy()[i_pool] if stratify else None
        i_tr, i_va = train_test_split(i_pool, test_size=cfg.val_size, stratify=y, random_state=cfg.seed)
    data = df.drop(columns=SPLIT)
    return {name: data.iloc[np.sort(i)].reset_index(drop=True)
            for name, i in zip(paths.SPLITS, (i_tr, i_va, i_te), strict=True)}


def min_rows_per_class(cfg: FeaturesConfig) -> int:
    """Rows every class needs for a stratified split: 2 in the holdout (val + test) when it is split again,
    i.e. ceil(2 / (val_size + test_size)) (7 for 0.15 + 0.15); else 2 (scikit-learn's own minimum)."""
    return max(2, math.ceil(2 / (cfg.val_size + cfg.test_size))) if cfg.val_size > 0 else 2


def class_problems(df: pd.DataFrame, cfg: FeaturesConfig, stratified: bool = True) -> list[tuple[str, str]]:
    """Why the `label` column cannot make a classification split: fewer than two classes, or (`stratified`)
    a class with too few rows for `cfg`'s val/test shares. [(check, problem)]; empty when the split can be drawn."""
    if LABEL not in df.columns:
        return []  # the suite names the missing column
    counts = df[LABEL].value_counts(dropna=True)
    if len(counts) < 2:
        return [("class_count", f"column {LABEL!r} holds {len(counts)} class(es) {sorted(counts.index.tolist())}; "
                                "a classification task needs at least two")]
    if not stratified:
        return []
    need = min_rows_per_class(cfg)
    few = counts[counts < need]
    if SPLIT not in df.columns and len(few):
        return [("class_rows", f"the stratified split (val_size {cfg.val_size}, test_size {cfg.test_size}) needs at "
                               f"least {need} rows of every class in column {LABEL!r}; too few: {few.to_dict()}")]
    try:  # the split itself, on the labels alone: what features will do
        split(df[[c for c in (LABEL, SPLIT) if c in df.columns]], cfg, stratify=True)
    except (StageInputError, ValueError) as e:
        return [("class_rows", f"the stratified split (val_size {cfg.val_size}, test_size {cfg.test_size}) cannot be "
                               f"drawn: {e}")]
    return []
