"""Train and register digits-cnn versions in a temporary project by calling the stage functions
directly (the same functions `dvc repro` runs), so lifecycle tests get real registry versions fast."""

from __future__ import annotations

import os
from pathlib import Path

from components.config.params import load_params
from components.core import paths
from components.stages import evaluate, features, ingest, register, train, validate
from tests.conftest import TINY
from tests.helpers import write_params


def register_version(project: Path, overrides: dict | None = None):
    """ingest -> ... -> register in `project` (cwd) with TINY + `overrides`; returns the RegisterResult."""
    assert Path.cwd() == project and os.environ.get("MLFLOW_TRACKING_URI")
    params_file = write_params(project / "params.yaml", {**TINY, **(overrides or {})})
    p = load_params(params_file)
    if not (project / paths.FEATURES_DIR / paths.SPLIT_FILE).is_file():
        ingest.run(p.ingest, paths.RAW_DIR, p.kind)
        validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
        features.run(p.features, paths.RAW_DIR, paths.VALIDATION_DIR, paths.FEATURES_DIR, p.task)
    train.run(p, paths.FEATURES_DIR, paths.MODEL_DIR)
    evaluate.run(p.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR, train=p.train)
    return register.run(p.registration, paths.MODEL_DIR, paths.FEATURES_DIR, paths.RAW_DIR, paths.VALIDATION_DIR,
                        paths.REPORTS_DIR, paths.REGISTER_DIR)
