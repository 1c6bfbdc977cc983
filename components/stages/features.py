"""Features: seeded stratified train/val/test split of the validated raw data, and a transform fitted on
train only. A source with a predefined split (a `split` column, e.g. IDX train / t10k) keeps it: its
`test` rows are the test split and `val_size` of its `train` rows become the validation split.
Splits are stored RAW (as ingested) so that the registered model's own transform is what turns rows
into tensors, in training and in serving alike. `split.json` holds each split's content hash;
the test split's hash identifies the frozen evaluation set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from components.config.sections import FeaturesConfig
from components.core import paths
from components.core.columns import SPLIT
from components.core.errors import StageInputError
from components.core.io import atomic_dir, read_json, read_parquet, sha256_file, write_json, write_parquet
from components.data import pii
from components.data.artifacts import require_validated
from components.data.series import chronological_split
from components.data.split import split
from components.data.streaming import features as stream_features
from components.data.transforms.registry import TRANSFORMS, Transform
from components.problems.registry import TASKS
from components.stages.spec import Io, Stage

log = logging.getLogger(__name__)


class FeaturesResult(BaseModel):
    """What features wrote: split sizes and content hashes."""

    out_dir: Path
    sizes: dict[str, int]
    sha256: dict[str, str]


def fit_transform(train: pd.DataFrame, manifest: dict, task: str, cfg: FeaturesConfig | None = None) -> Transform:
    """Fit the data kind's transform (a task-specific one where registered) on the train split only
    (`cfg`: the kind's features settings)."""
    kind = manifest.get("kind", "image")
    return TRANSFORMS.get(f"{kind}:{task}", TRANSFORMS[kind]).fit(train, manifest, task, cfg=cfg)


def run(cfg: FeaturesConfig, raw_dir: Path = paths.RAW_DIR, validation_dir: Path = paths.VALIDATION_DIR,
        out_dir: Path = paths.FEATURES_DIR, task: str = "classification") -> FeaturesResult:
    """Split the validated raw data, fit the transform on train, write splits + transform + split.json."""
    redact = require_validated(validation_dir, raw_dir).get("pii", {}).get("redact", {})  # validate.pii: redact
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    if manifest.get("layout") == "partitioned":  # out of core: components/data/streaming.py
        if redact:
            raise StageInputError(f"validate.pii.action redact: not supported for partitioned data ({raw_dir})")
        sizes, hashes = stream_features(cfg, raw_dir, out_dir, manifest, task)
        log.info("features: split %s (streamed); transform fitted on train", sizes)
        return FeaturesResult(out_dir=Path(out_dir), sizes=sizes, sha256=hashes)
    df = pii.redact_frame(read_parquet(Path(raw_dir) / paths.RAW_FILE), redact)  # PII never reaches a split
    if TASKS[task].split == "chronological":  # series: the last `horizon` periods are the test split
        parts = chronological_split(df, cfg.freq, cfg.input_len, cfg.horizon)  # type: ignore[attr-defined]
    else:
        parts = split(df, cfg, stratify=TASKS[task].split == "stratified")
    try:
        transform = fit_transform(parts["train"], manifest | {"features": cfg.model_dump(mode="json"),
                                                              "pii_redact": redact}, task, cfg)
    except StageInputError as e:  # which file, which split
        raise StageInputError(f"{Path(raw_dir) / paths.RAW_FILE} ({manifest['source']}), train split: {e}") from e
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


STAGE = Stage("features", run, (Io("raw_dir", paths.RAW_DIR, "in"),
                                Io("validation_dir", paths.VALIDATION_DIR, "in", files=(paths.VALIDATION_FILE,)),
                                Io("out_dir", paths.FEATURES_DIR, "out", marker=paths.SPLIT_FILE)), data=True)
