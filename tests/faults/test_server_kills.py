"""A real `mlflow server` (sqlite store, artifacts in a temp dir) SIGKILLed while Keel trains, registers and
promotes, then restarted on the same store: each command fails with the outage named (which server, what to
do), nothing is left half-done that the re-run does not finish, and re-running each command completes it:
the training run resumes, register reuses its version and finishes it (no second version), promote settles
its pending intent and moves the alias once, with the ledger agreeing.

The kill point is deterministic: the commands run in one forked stopper process (tests/faults/server_stopper.py)
that pauses each at its point until the test has killed the server."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.config.params import load_params
from components.core import paths
from components.lifecycle import ledger, registry, tracking
from components.stages import evaluate, train
from components.stages.__main__ import main as stages
from flows.cli import app
from tests.conftest import TINY
from tests.helpers import ROOT, write_params
from tests.lifecycle.pipeline import register_version

pytestmark = pytest.mark.slow
MLFLOW = str(Path(sys.executable).parent / "mlflow")


class Server:
    """`mlflow server` on 127.0.0.1, a free port, one worker, its own session (so SIGKILL reaches its children)."""

    def __init__(self, root: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.root, self.uri, self.proc = root, f"http://127.0.0.1:{self.port}", None

    def start(self) -> None:
        env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(
            [MLFLOW, "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}", "--artifacts-destination",
             str(self.root / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                assert self.proc.poll() is None, (self.root / "server.log").read_text()[-2000:]
                time.sleep(0.2)
        pytest.fail("mlflow server did not come up in 120 s")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("server-kills")
    server = Server(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", server.uri)
        mp.setenv("KEEL_LEDGER_DB_URL", f"sqlite:///{root / 'ledger.db'}")
        mp.setenv("KEEL_USER", "tester")
        server.start()
        try:
            yield server
        finally:
            if server.proc.poll() is None:
                server.kill()


def prepare(root: Path, mp) -> tuple[Path, Path]:
    """Project P: v1 of digits-cnn registered (@staging) and a second model trained, not registered.
    Project T: P's features, to train from."""
    project, trainer = root / "p", root / "t"
    project.mkdir()
    mp.chdir(project)
    register_version(project)
    p = load_params(write_params(project / "params.yaml", {**TINY, "train.seed": 7}))
    train.run(p, paths.FEATURES_DIR, paths.MODEL_DIR)
    evaluate.run(p.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR, train=p.train)
    trainer.mkdir()
    shutil.copytree(project / "data", trainer / "data")
    write_params(trainer / "params.yaml", {**TINY, "train.epochs": 3, "train.patience": 3})
    return project, trainer


def stop_kill_release(server: Server, projects: dict[str, Path]) -> dict[str, str]:
    """Run each point's command until it stops, kill the server, let them go on; {point: exit status}."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults.server_stopper",
                             *(f"{k}={v}" for k, v in projects.items())], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stopped: set[str] = set()
    while stopped != set(projects):
        line = proc.stdout.readline().split()
        if not line or line[0] != "AT":
            proc.kill()
            logs = {k: (v / f"keel-{k}.log").read_text()[-1500:] for k, v in projects.items()
                    if (v / f"keel-{k}.log").exists()}
            pytest.fail(f"a command did not stop: {line}: {proc.stderr.read()[-1500:]} {logs}")
        stopped.add(line[1])
    server.kill()
    for project in projects.values():
        (project / "go").touch()
    out, err = proc.communicate(timeout=300)
    exits = dict(line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("EXIT"))
    assert set(exits) == set(projects), (out, err)
    return exits


def test_server_killed_mid_train_register_and_promote_then_restarted(stack, tmp_path, monkeypatch):
    server = stack
    project, trainer = prepare(tmp_path, monkeypatch)
    projects = {"train": trainer, "register": project, "promote": project}
    exits = stop_kill_release(server, projects)
    named = f"cannot reach the MLflow tracking server at {server.uri}"
    for point, where in projects.items():
        log = (where / f"keel-{point}.log").read_text()
        assert exits[point] == "1", f"{point}: {exits[point]}\n{log[-3000:]}"
        assert named in log and "Is it running?" in log and "Traceback" not in log, f"{point}:\n{log[-3000:]}"
    killed_run = tracking.read_run_ref(trainer / paths.MODEL_DIR).run_id

    server.start()  # the same store: what reached it before the kill is there, nothing more
    versions = sorted(int(v.version) for v in _versions())
    assert versions == [1, 2]  # register created v2, then lost the server
    assert registry.get_version("digits-cnn", "2").tags.get(registry.COMPLETE_TAG) is None  # half-done: not complete
    engine = ledger.engine_for(os.environ["KEEL_LEDGER_DB_URL"])
    assert len(ledger.pending(engine, "digits-cnn")) == 1  # promote's intent: not moved, not settled
    assert registry.version_by_alias("digits-cnn", "production") is None

    out = CliRunner().invoke(app, ["promote", "digits-cnn"])  # the re-run settles the intent, then moves
    assert out.exit_code == 0, out.output
    moved = [(e.action, e.from_version, e.to_version) for e in ledger.history(engine, "digits-cnn")]
    assert moved == [("abandon", None, "1"), ("promote", None, "1")] and not ledger.pending(engine, "digits-cnn")
    assert registry.version_by_alias("digits-cnn", "production").version == "1"

    assert stages(["register"]) == 0  # reuses v2 and finishes it
    assert sorted(int(v.version) for v in _versions()) == [1, 2]
    v2 = registry.get_version("digits-cnn", "2")
    assert v2.tags[registry.COMPLETE_TAG] == "true" and "explain.report" in v2.tags and "staging" in v2.aliases
    assert registry.version_artifact("digits-cnn", "2", paths.REFERENCE_ARTIFACT) is not None
    assert json.loads((project / paths.REGISTER_DIR / "registration.json").read_text())["version"] == "2"

    monkeypatch.chdir(trainer)
    assert stages(["train", "--resume-dir", ".resume"]) == 0  # the killed run, resumed and finished
    assert tracking.read_run_ref(trainer / paths.MODEL_DIR).run_id == killed_run


def _versions():
    from mlflow import MlflowClient

    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).search_model_versions("name = 'digits-cnn'")
