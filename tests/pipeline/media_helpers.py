"""Scoring a registered media model from a clean process: a fresh interpreter in the project copy that loads
`models:/<name>@<alias>` from the copy's registry alone and scores raw files (encoded bytes as a client sends)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import venv_env

SCORE = """
import json, sys
import mlflow, pandas as pd
uri = "sqlite:///mlflow.db"
mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
name, column, files = sys.argv[1], sys.argv[2], sys.argv[3:]
model = mlflow.pyfunc.load_model(f"models:/{name}@staging")
out = model.predict(pd.DataFrame({column: [open(f, "rb").read() for f in files]}))
print(out.to_json(orient="records"))
"""


def score_in_clean_process(repo: Path, name: str, column: str, files: list[Path]) -> list[dict]:
    """The registered model's predictions for raw files, computed in a new Python process."""
    done = subprocess.run([sys.executable, "-c", SCORE, name, column, *map(str, files)], cwd=repo,
                          env=venv_env(PYTHONPATH=str(repo)), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
