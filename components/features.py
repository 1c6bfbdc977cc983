"""Features: seeded stratified train/val/test split of the validated raw data, and a transform fitted on
train only. A source with a predefined split (a `split` column, e.g. IDX train / t10k) keeps it: its
`test` rows are the test split and `val_size` of its `train` rows become the validation split.
Splits are stored RAW (as ingested) so that the registered model's own transform is what turns rows
into tensors, in training and in serving alike. `split.json` holds each split's content hash;
the test split's hash identifies the frozen evaluation set.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.model_selection import train_test_split

from components import paths
from components.config import FeaturesConfig, load_params
from components.errors import StageInputError
from components.idx import SPLIT  # a predefined split column in the raw data (train / test)
from components.io import atomic_dir, read_json, read_parquet, sha256_file, write_json, write_parquet
from components.series import chronological_split
from components.stage import stage_main
from components.tasks import TASKS
from components.transforms import LABEL, TRANSFORMS, Transform, load_transform
from components.validate import require_validated

log = logging.getLogger(__name__)


class FeaturesResult(BaseModel):
    """What features wrote: split sizes and content hashes."""

    out_dir: Path
    sizes: dict[str, int]
    sha256: dict[str, str]


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
    """Honour the `split` column: test = its `test` rows; val = a seeded `val_size` share of its `train` rows.

    `test_size` does not apply. The `split` column is dropped from every part.
    """
    values = df[SPLIT].astype(str)
    unknown = sorted(set(values.unique()) - {"train", "test"})
    if unknown:
        raise StageInputError(f"column {SPLIT!r}: unknown value(s) {unknown[:5]} (expected train, test)")
    i_pool, i_te = np.flatnonzero(values == "train"), np.flatnonzero(values == "test")
    if len(i_pool) == 0 or len(i_te) == 0:
        raise StageInputError(f"column {SPLIT!r}: {len(i_pool)} train and {len(i_te)} test rows; both are needed")
    i_tr, i_va = i_pool, i_pool[:0]
    if cfg.val_size > 0:
        y = df[LABEL].to_numpy()[i_pool] if stratify else None
        i_tr, i_va = train_test_split(i_pool, test_size=cfg.val_size, stratify=y, random_state=cfg.seed)
    data = df.drop(columns=SPLIT)
    return {name: data.iloc[np.sort(i)].reset_index(drop=True)
            for name, i in zip(paths.SPLITS, (i_tr, i_va, i_te), strict=True)}


def fit_transform(train: pd.DataFrame, manifest: dict, task: str, cfg: FeaturesConfig | None = None) -> Transform:
    """Fit the data kind's transform (a task-specific one where registered) on the train split only
    (`cfg`: the kind's features settings)."""
    kind = manifest.get("kind", "image")
    return TRANSFORMS.get(f"{kind}:{task}", TRANSFORMS[kind]).fit(train, manifest, task, cfg=cfg)


def run(cfg: FeaturesConfig, raw_dir: Path = paths.RAW_DIR, validation_dir: Path = paths.VALIDATION_DIR,
        out_dir: Path = paths.FEATURES_DIR, task: str = "classification") -> FeaturesResult:
    """Split the validated raw data, fit the transform on train, write splits + transform + split.json."""
    require_validated(validation_dir, raw_dir)
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    if manifest.get("layout") == "partitioned":  # out of core: components/streaming.py
        from components.streaming import features as stream_features

        sizes, hashes = stream_features(cfg, raw_dir, out_dir, manifest, task)
        log.info("features: split %s (streamed); transform fitted on train", sizes)
        return FeaturesResult(out_dir=Path(out_dir), sizes=sizes, sha256=hashes)
    df = read_parquet(Path(raw_dir) / paths.RAW_FILE)
    if TASKS[task].split == "chronological":  # series: the last `horizon` periods are the test split
        parts = chronological_split(df, cfg.freq, cfg.input_len, cfg.horizon)  # type: ignore[attr-defined]
    else:
        parts = split(df, cfg, stratify=TASKS[task].split == "stratified")
    transform = fit_transform(parts["train"], manifest | {"features": cfg.model_dump(mode="json")}, task, cfg)
    with atomic_dir(out_dir) as tmp:
        hashes = {}
        for name, part in parts.items():
            write_parquet(tmp / f"{name}.parquet", part)
            hashes[name] = sha256_file(tmp / f"{name}.parquet")
        write_json(tmp / paths.TRANSFORM_FILE, transform.model_dump(mode="json"))
        write_json(tmp / paths.SPLIT_FILE, {
            "seed": cfg.seed, "dataset": manifest["dataset"], "raw_sha256": manifest["sha256"],
            "predefined": SPLIT in df.columns,
            "sizes": {k: len(v) for k, v in parts.items()}, "sha256": hashes})
    sizes = {k: len(v) for k, v in parts.items()}
    log.info("features: split %s; transform %s fitted on train", sizes, transform.kind)
    return FeaturesResult(out_dir=Path(out_dir), sizes=sizes, sha256=hashes)


def load_split(features_dir: Path, name: str) -> pd.DataFrame:
    """One raw split (train, val or test) as written by `run` (a partitioned split is read whole)."""
    folder = Path(features_dir) / name
    if folder.is_dir():
        return pd.read_parquet(folder)
    return read_parquet(Path(features_dir) / f"{name}.parquet")


def load_fitted(features_dir: Path) -> Transform:
    """The transform fitted by `run`."""
    return load_transform(read_json(Path(features_dir) / paths.TRANSFORM_FILE))


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.features --params params.yaml --raw data/raw --validation ... --out ..."""
    p = argparse.ArgumentParser(prog="python -m components.features", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--raw", type=Path, default=paths.RAW_DIR)
    p.add_argument("--validation", type=Path, default=paths.VALIDATION_DIR)
    p.add_argument("--out", type=Path, default=paths.FEATURES_DIR)
    args = p.parse_args(argv)

    def go() -> FeaturesResult:
        params = load_params(args.params)
        return run(params.features, args.raw, args.validation, args.out, params.task)

    return stage_main(go)


if __name__ == "__main__":
    raise SystemExit(main())
