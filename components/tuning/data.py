"""The data a study tunes on: the pipeline's own data stages (ingest -> validate -> features), run through their
declarations into a folder of the study's state, once per distinct data params (every trial of a study, and
every later invocation that resumes it, trains on the same split).
"""

from __future__ import annotations

import logging
from pathlib import Path

from components.config import views
from components.config.params import Params
from components.core import paths
from components.core.io import sha256_json
from components.stages.pipeline import BY_NAME

log = logging.getLogger(__name__)
DATA_STAGES = ("ingest", "validate", "features")


def data_key(params: Params) -> str:
    """Digest of what the data stages read (their params views): equal keys, equal splits."""
    return sha256_json({s: views.view(s, params) for s in DATA_STAGES})[:12]


def prepare(params: Params, state_dir: Path) -> Path:
    """The features folder for `params` under `state_dir` (`data-<key>/data/features`), made by the data stages
    when absent; returns it. Stage outputs are relocated under that folder, their other inputs (suites/) are not."""
    root = Path(state_dir) / f"data-{data_key(params)}"
    outs = {i.default for s in DATA_STAGES for i in BY_NAME[s].paths("out")}
    features = root / paths.FEATURES_DIR
    if (features / paths.SPLIT_FILE).is_file():
        return features
    log.info("tune: preparing %s's data in %s", params.model, root)
    for name in DATA_STAGES:
        stage = BY_NAME[name]
        where = {i.arg: (root / i.default if i.default in outs else i.default) if i.in_flow else None for i in stage.io}
        stage.run(**stage.arguments(params), **where)
    return features
