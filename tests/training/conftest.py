"""A tiny digits workspace shared by the training tests: a params file (a small CNN, 2 epochs) and its data,
prepared once by the data stages (ingest, GX validation, features) the way `keel tune` prepares it."""

from __future__ import annotations

import pytest

from tests.helpers import write_params

TINY = {"train.epochs": 2, "train.patience": 2, "train.progress": False, "train.cnn.channels": [4, 8],
        "train.cnn.hidden": 16}


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """(root, params file, features folder): root holds the params and `.keel/tune/data-<key>/`."""
    from components.config.params import load_params
    from components.core import paths
    from components.tuning.data import prepare

    root = tmp_path_factory.mktemp("tiny-digits")
    params_file = write_params(root / "params.yaml", TINY)
    return root, params_file, prepare(load_params(params_file), root / paths.TUNE_STATE_DIR)
