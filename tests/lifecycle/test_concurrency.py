"""Two real processes moving @production of the same model at once: the alias is held by exactly one
version and the ledger (read as a chain of moves) ends where the alias is."""

import json
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from components.lifecycle import ledger
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
MODEL = "race-model"


@pytest.fixture
def four_versions(mlflow_store, tmp_path):
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.create_registered_model(MODEL)
    for _ in range(4):  # registry entries are all the moves need; no model files are loaded
        client.create_model_version(MODEL, source=(tmp_path / "none").as_uri())
    return client


def run_two(n: int, *flags: str) -> list[dict]:
    start = time.time() + 8  # both processes import and connect first, then start together
    procs = [subprocess.Popen([sys.executable, "-m", "tests.lifecycle.mover", MODEL, str(n), str(start), tag, *flags],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("proc-a", "proc-b")]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def test_two_processes_never_leave_the_ledger_disagreeing_with_the_alias(four_versions, mlflow_store):
    outs = run_two(25)
    entries = ledger.history(ledger.engine_for(mlflow_store), MODEL, "production")
    assert sorted(i for o in outs for i in o["moved"]) == [e.id for e in entries]  # every move is in the ledger
    assert {e.user for e in entries} == {"proc-a", "proc-b"}  # both really moved it
    previous = None
    for e in entries:  # a chain: each move starts where the one before it ended
        assert e.from_version == previous, f"ledger entry {e.id} moved from v{e.from_version}, alias was v{previous}"
        previous = e.to_version
    holders = [str(v.version) for v in four_versions.search_model_versions(f"name='{MODEL}'")
               if "production" in four_versions.get_model_version(MODEL, v.version).aliases]
    assert holders == [previous] == [str(four_versions.get_model_version_by_alias(MODEL, "production").version)]
