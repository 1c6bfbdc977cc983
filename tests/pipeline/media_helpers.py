"""Scoring a registered media model from a clean process: a fresh interpreter in a clean virtual environment
holding only the model's requirements (tests/cleanenv.py: no Keel checkout, no editable install) that loads
`models:/<name>@<alias>` from the copy's registry alone and scores raw files (encoded bytes as a client sends)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests import cleanenv

SCORE = """
import json, sys
import mlflow, pandas as pd
for top in {keel!r}:
    try:
        __import__(top)
    except ImportError:
        continue
    raise SystemExit(f"{{top}} is importable in the clean venv")
uri = "sqlite:///mlflow.db"
mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
name, column, files = sys.argv[1], sys.argv[2], sys.argv[3:]
model = mlflow.pyfunc.load_model(f"models:/{{name}}@staging")
out = model.predict(pd.DataFrame({{column: [open(f, "rb").read() for f in files]}}))
print(out.to_json(orient="records"))
"""


def clean_venv(repo: Path, name: str, dst: Path) -> Path:
    """A clean venv in `dst` with only what `models:/<name>@staging` (in `repo`'s registry) requires."""
    import mlflow.pyfunc

    from tests.pipeline.dvc_helpers import use_store

    use_store(repo)
    lines = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{name}@staging")).read_text().splitlines()
    wanted = [r for r in lines if r.strip() and not r.startswith("#")]
    assert not any(r.split("==")[0].lower() in ("keel", "components") for r in wanted), wanted
    cleanenv.build(dst, wanted)
    return dst


def score_in_clean_process(repo: Path, name: str, column: str, files: list[Path], venv: Path) -> list[dict]:
    """The registered model's predictions for raw files, computed by `venv`'s Python (isolated mode)."""
    done = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", SCORE.format(keel=cleanenv.KEEL), name, column,
                           *map(str, files)], cwd=repo, env=cleanenv.environment(venv), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def serving_upload(repo: Path, name: str, log_dir: Path) -> Iterator[Callable[[str, Any], tuple[int, dict]]]:
    """`keel serve`'s app for `name@staging` from `repo`'s registry on 127.0.0.1; yields call(path, body)."""
    import pytest

    from components.serving.serve import ServeConfig, create_app
    from tests.lifecycle.serving import call, running

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")
        app = create_app(ServeConfig(model=name, alias="staging", params=repo / "params.yaml", log_dir=log_dir))
    with running(app) as url:
        yield lambda path, body=None: call(url + path, body)


def same_boxes(a: dict, b: dict) -> bool:
    """Two detection predictions agree: the same labels, boxes within 0.05 px, scores within 1e-3."""
    return a["n_boxes"] == b["n_boxes"] and a["labels"] == b["labels"] and all(
        abs(x - y) <= 0.05 for p, q in zip(a["boxes"], b["boxes"], strict=True) for x, y in zip(p, q, strict=True)) \
        and all(abs(x - y) <= 1e-3 for x, y in zip(a["scores"], b["scores"], strict=True))
