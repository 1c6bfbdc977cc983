"""Shared helpers for pipeline tests: DVC in a fresh git copy, the copy's MLflow store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers import venv_env


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """Run DVC in `repo` with the test interpreter's venv first on PATH."""
    return subprocess.run(["dvc", *args], cwd=repo, env=venv_env(), capture_output=True, text=True, timeout=1800)


def client(repo: Path) -> MlflowClient:
    """A client on the copy's embedded registry (sqlite:///<repo>/mlflow.db)."""
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def use_store(repo: Path) -> MlflowClient:
    """Point mlflow's global tracking and registry URIs at the copy's store (so `models:/...` URIs resolve
    there; earlier tests may have moved them) and return a client on it."""
    import mlflow

    uri = f"sqlite:///{repo / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return client(repo)


def set_arg(repo: Path, kv: str) -> str:
    """`key=value` for `dvc exp run -S`, as `+key=value` when params.yaml lacks the key (DVC's way to add one)."""
    import yaml

    node = yaml.safe_load((repo / "params.yaml").read_text())
    for part in kv.split("=", 1)[0].lstrip("+").split("."):
        if not isinstance(node, dict) or part not in node:
            return "+" + kv.lstrip("+")
        node = node[part]
    return kv


def exp_run_family(repo: Path, family: str, *overrides: str) -> dict:
    """`dvc exp run -S model=<family> [-S k=v ...]` in `repo`; returns reports/metrics.json (fails loudly)."""
    sets = [a for kv in (f"model={family}", *overrides) for a in ("-S", set_arg(repo, kv))]
    done = dvc(repo, "exp", "run", *sets)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((repo / "reports/metrics.json").read_text())


def promote(repo: Path, name: str) -> subprocess.CompletedProcess:
    """`keel promote <name>` in `repo` (its registry, its frozen test split); @production must follow @staging."""
    import sys

    done = subprocess.run([sys.executable, "-m", "flows.cli", "promote", name], cwd=repo, env=venv_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    c = client(repo)
    production, staging = (c.get_model_version_by_alias(name, a).version for a in ("production", "staging"))
    assert production == staging
    return done
