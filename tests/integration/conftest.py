"""The team stack for integration tests: real PostgreSQL, MLflow and Prefect servers on 127.0.0.1, started by
infra/up.sh in a fresh git copy of the project and torn down by infra/down.sh even when a test fails."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import make_repo_copy, venv_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    repo: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def mlflow_url(self) -> str:
        return self.env["MLFLOW_TRACKING_URI"]

    @property
    def prefect_url(self) -> str:
        return self.env["PREFECT_API_URL"]

    def sh(self, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a command in the copy with the stack's client environment; fail with its output."""
        done = subprocess.run(list(cmd), cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{cmd}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done

    def spawn(self, *cmd: str) -> subprocess.Popen:
        """Start a background process (own session) that teardown stops."""
        proc = subprocess.Popen(list(cmd), cwd=self.repo, env=self.env, start_new_session=True,
                                stdout=open(self.repo / f"{Path(cmd[0]).name}-{len(self.procs)}.log", "w"),
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):  # a Prefect worker needs two TERMs
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def client_env(home: Path) -> dict[str, str]:
    """Settings for a stack of our own: random ports and secrets, state under `home`."""
    return venv_env(
        KEEL_INFRA_HOME=str(home), KEEL_PG_PORT=str(free_port()), KEEL_MLFLOW_PORT=str(free_port()),
        KEEL_PREFECT_PORT=str(free_port()), KEEL_PG_PASSWORD=secrets.token_hex(8),
        KEEL_PG_MLFLOW_PASSWORD=secrets.token_hex(8), KEEL_PG_PREFECT_PASSWORD=secrets.token_hex(8),
        KEEL_PG_LEDGER_PASSWORD=secrets.token_hex(8),
        MLFLOW_TRACKING_PASSWORD=secrets.token_hex(8), MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
        KEEL_PREFECT_AUTH=f"admin:{secrets.token_hex(8)}", KEEL_START_TIMEOUT="240",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )


def exported(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment after `source infra/env.sh`, as a user's shell has it."""
    out = subprocess.run(["bash", "-c", "source infra/env.sh && env -0"], cwd=repo, env=env, capture_output=True,
                         check=True).stdout.decode()
    return dict(line.split("=", 1) for line in out.split("\0") if "=" in line)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
    repo = make_repo_copy(tmp_path_factory.mktemp("team"))
    # PostgreSQL runs as the `postgres` user when we are root: its state must be reachable outside pytest's 0700 tmp
    home = Path(tempfile.mkdtemp(prefix="keel-infra-"))
    home.chmod(0o755)
    env = exported(repo, client_env(home))
    s = Stack(repo=repo, env=env)
    t0 = time.monotonic()
    try:
        up = subprocess.run(["bash", "infra/up.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        s.env["KEEL_UP_SECONDS"] = f"{time.monotonic() - t0:.1f}"
        yield s
    finally:
        for proc in s.procs:
            _stop(proc)
        down = subprocess.run(["bash", "infra/down.sh"], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)
        pids = [p.read_text() for p in (home / "run").glob("*.pid")]
        shutil.rmtree(home, ignore_errors=True)
        assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
        assert not pids, f"pid files left after make down: {pids}"
