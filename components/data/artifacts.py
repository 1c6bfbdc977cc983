"""Readers of what one stage hands the next (the files are the contract between stages): the validation
verdict, the splits and the fitted transform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from components.core import paths
from components.core.errors import DataValidationError
from components.core.io import read_json, read_parquet
from components.data.transforms.registry import Transform, load_transform


def require_validated(validation_dir: Path, raw_dir: Path) -> dict[str, Any]:
    """Refuse to go on unless the validation summary passed for exactly the current raw data."""
    summary = read_json(Path(validation_dir) / paths.VALIDATION_FILE)
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    if not summary.get("success"):
        raise DataValidationError(f"{validation_dir}/{paths.VALIDATION_FILE}: the raw data failed validation; "
                                  "fix the data and re-run validate", [])
    if summary.get("data_sha256") != manifest.get("sha256"):
        raise DataValidationError(f"{validation_dir}/{paths.VALIDATION_FILE}: validated a different version of "
                                  f"{raw_dir}/{paths.RAW_FILE}; re-run validate", [])
    return summary


def load_split(features_dir: Path, name: str) -> pd.DataFrame:
    """One raw split (train, val or test) as the features stage wrote it (a partitioned split is read whole)."""
    folder = Path(features_dir) / name
    if folder.is_dir():
        return pd.read_parquet(folder)
    return read_parquet(Path(features_dir) / f"{name}.parquet")


def load_fitted(features_dir: Path) -> Transform:
    """The transform the features stage fitted on the train split."""
    return load_transform(read_json(Path(features_dir) / paths.TRANSFORM_FILE))
