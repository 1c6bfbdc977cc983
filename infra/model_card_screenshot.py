"""Save a PNG of a registered version's page in the MLflow UI, showing its model card, as a user sees it.

Needs no team stack: registers a small digits-cnn version with Keel's own stages (ingest ... register, then
`keel promote`) in a temporary project with a sqlite store, starts a real `mlflow server` on 127.0.0.1 over that
store, and captures the version page with headless Chromium (infra/screenshots.py). Prints JSON with the page's
visible text. Usage: python infra/model_card_screenshot.py --out docs/screens  (`make screenshot-card`)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a smaller CNN than the default that still clears the register bound (accuracy 0.97), trust figures on
SMALL = {"train.epochs": 15, "train.patience": 5, "train.progress": False, "train.cnn.channels": [16, 32],
         "train.cnn.hidden": 64, "evaluate.robustness.seeds": 1}


def register_version(project: Path) -> str:
    """ingest -> validate -> features -> train -> evaluate -> register in `project` (cwd); returns the version."""
    import yaml

    from components.config.params import load_params, read_params_file
    from components.core import paths
    from components.stages import evaluate, features, ingest, register, train, validate

    params_file = project / "params.yaml"
    params_file.write_text(yaml.safe_dump(read_params_file(ROOT / "params.yaml", SMALL), sort_keys=False))
    p = load_params(params_file)
    ingest.run(p.ingest, paths.RAW_DIR, p.kind)
    validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
    features.run(p.features, paths.RAW_DIR, paths.VALIDATION_DIR, paths.FEATURES_DIR, p.task)
    train.run(p, paths.FEATURES_DIR, paths.MODEL_DIR)
    evaluate.run(p.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR, train=p.train)
    done = register.run(p.registration, paths.MODEL_DIR, paths.FEATURES_DIR, paths.RAW_DIR, paths.VALIDATION_DIR,
                        paths.REPORTS_DIR, paths.REGISTER_DIR)
    return str(done.version)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mlflow(db: Path, port: int, log: Path) -> subprocess.Popen:
    """A real `mlflow server` over the sqlite store (one worker, no job runner); waits for /health."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
                               f"sqlite:///{db}", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=db.parent, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read() == b"OK":
                return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise RuntimeError(f"mlflow server did not answer on port {port} within 180 s; see {log}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/screens"))
    ap.add_argument("--keep", type=Path, default=None, help="project folder to keep (reused when it has a version)")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "infra"))
    from screenshots import shoot_model_version

    with tempfile.TemporaryDirectory(prefix="keel-card-") as tmp:
        project = Path(args.keep or tmp).resolve()
        project.mkdir(parents=True, exist_ok=True)
        os.chdir(project)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
        version = (project / "version.txt").read_text() if (project / "version.txt").is_file() else None
        if version is None:
            version = register_version(project)
            promoted = subprocess.run([sys.executable, "-m", "flows.cli", "promote", "digits-cnn"], cwd=project,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
            assert promoted.returncode == 0, promoted.stdout[-2000:] + promoted.stderr[-2000:]
            (project / "version.txt").write_text(version)
        port = free_port()
        server = start_mlflow(project / "mlflow.db", port, project / "mlflow-server.log")
        try:
            seen = shoot_model_version(f"http://127.0.0.1:{port}", "digits-cnn", version, out / "model-card.png")
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps({"model-card": seen}))


if __name__ == "__main__":
    main()
