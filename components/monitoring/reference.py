"""A registered version's reference for drift checks: its frozen test split (attached to the version at
registration), described the way the inference log describes scored rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config.monitor import InferenceLogConfig
from components.core import paths
from components.core.columns import LABEL
from components.core.errors import StageInputError
from components.core.io import read_json, sha256_file
from components.inference.checkpoint import Checkpoint
from components.inference.predict import predict, to_frame
from components.inference.scorelog.rows import RowSummarizer, prediction_of
from components.lifecycle import registry


@dataclass
class Reference:
    """What a window is compared with: features, embeddings and predictions of the reference rows."""

    features: pd.DataFrame
    embeddings: np.ndarray | None
    predictions: np.ndarray | None
    source: str  # where the rows came from (the registry, or the workspace's test split)


def reference_rows(name: str, version: str, features_dir: Path) -> tuple[pd.DataFrame, str]:
    """The version's test split: attached to the version in the registry, else the workspace's own test split
    when its hash is the one the version was registered with (versions registered before references were)."""
    attached = registry.version_artifact(name, version, paths.REFERENCE_ARTIFACT)
    if attached is not None:
        return pd.read_parquet(attached), f"models:/{name}/{version} {paths.REFERENCE_ARTIFACT}"
    local = Path(features_dir) / "test.parquet"
    wanted = registry.get_version(name, version).tags.get("split_sha256")
    if local.is_file() and wanted and sha256_file(local) == wanted:
        return pd.read_parquet(local), str(local)
    have = read_json(Path(features_dir) / paths.SPLIT_FILE)["sha256"].get("test") \
        if (Path(features_dir) / paths.SPLIT_FILE).is_file() else None
    raise StageInputError(
        f"{name} v{version}: no reference attached in the registry, and {local} is not the test split it was "
        f"registered with (sha256 {str(have)[:12]} vs {str(wanted)[:12]}); check out the commit in its "
        f"`git_commit` tag and `dvc checkout`, or re-register")


def describe(ckpt: Checkpoint, rows: pd.DataFrame, cfg: InferenceLogConfig, raw: bool, max_rows: int,
             source: str, seed: int = 0) -> Reference:
    """Features (raw columns when the log holds raw columns, else the log's summary), embeddings and
    predictions of at most `max_rows` reference rows (a seeded sample)."""
    if len(rows) > max_rows:
        rows = rows.sample(n=max_rows, random_state=seed)
    inputs = rows.drop(columns=[LABEL], errors="ignore").reset_index(drop=True)
    summarizer = RowSummarizer(ckpt, cfg, raw=raw)
    outputs = to_frame(ckpt, predict(ckpt, inputs))
    prediction = prediction_of(inputs, outputs)
    return Reference(features=summarizer.features(inputs), embeddings=summarizer.embeddings(inputs),
                     predictions=None if prediction is None else prediction.to_numpy(), source=source)
