"""A temporary project (cwd) with its own sqlite MLflow registry, shared by a module's tests."""

import os

import pytest


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("KEEL_USER", "tester")
        mp.delenv("KEEL_LEDGER_DB_URL", raising=False)
        yield root
    assert os.getcwd() != str(root)
