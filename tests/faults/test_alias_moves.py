"""SIGKILL at each point of an alias move, then the next Keel command: the registry and the ledger agree,
no intent stays pending and no lock is left behind. Also: a ledger append that fails is undone, and an
undo that fails is reported and settled by the next command."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient
from sqlalchemy import select
from typer.testing import CliRunner

from components.core.errors import RegistryError, TrackingUnavailableError
from components.lifecycle import ledger, moves, registry
from flows.cli import app
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
POINTS = ("before-alias", "after-alias", "before-ledger", "after-ledger")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One model per kill point (and one more), three versions each, @production on v1 through a recorded move."""
    root = tmp_path_factory.mktemp("moves")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("KEEL_USER", "tester")
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        for model in (*POINTS, "undo"):
            client.create_registered_model(model)
            for _ in range(3):  # registry entries are all a move needs
                client.create_model_version(model, source=(root / "none").as_uri())
            moves.move(model, "production", "1", None, "promote", "first", None)
        yield uri


def kill_at(points) -> None:
    """Real mover processes, one per point, all at once; each is SIGKILLed where it stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults.stopper", "2", "1", *points], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = {}
    while len(stopped) < len(points):
        line = proc.stdout.readline().split()
        if not line or line[0] != "AT":
            proc.kill()
            pytest.fail(f"a mover did not stop: {line}: {proc.stderr.read()[-2000:]}")
        stopped[line[1]] = int(line[2])
        os.kill(int(line[2]), signal.SIGKILL)
    assert proc.wait(timeout=60) == 0 and set(stopped) == set(points)


def state(model: str, uri: str) -> tuple[str | None, list[tuple[str, str | None, str]], int, int]:
    """(@production in the registry, ledger moves, pending intents, lock rows) of `model`."""
    engine = ledger.engine_for(uri)
    with engine.connect() as conn:
        held = conn.execute(select(ledger.LOCKS).where(ledger.LOCKS.c.model == model)).all()
    ref = registry.version_by_alias(model, "production")
    moved = [(e.action, e.from_version, e.to_version) for e in ledger.history(engine, model)]
    return ref.version if ref else None, moved, len(ledger.pending(engine, model)), len(held)


def test_sigkill_at_each_point_then_the_next_command(store):
    mlflow_store = store
    kill_at(POINTS)
    assert state("before-alias", mlflow_store)[0] == "1" and state("before-alias", mlflow_store)[2] == 1
    assert state("after-alias", mlflow_store)[0] == "2" and state("after-alias", mlflow_store)[1] == [
        ("promote", None, "1")]  # the inconsistency the intent exists for: moved, no ledger row
    runner = CliRunner()

    out = runner.invoke(app, ["history", "before-alias", "--json"])  # never moved: recorded as abandoned
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert "stopped before moving the alias" in rows[-1]["reason"] and rows[-1]["user"] == "tester"
    assert state("before-alias", mlflow_store) == ("1", [("promote", None, "1"), ("abandon", "1", "2")], 0, 0)

    for point in ("after-alias", "before-ledger"):  # moved, no row: completed, then rolled back normally
        out = runner.invoke(app, ["rollback", point])
        assert out.exit_code == 0, out.output
        version, moved, pending, held = state(point, mlflow_store)
        assert (version, moved, pending, held) == ("1", [("promote", None, "1"), ("promote", "1", "2"),
                                                        ("rollback", "2", "1")], 0, 0)
        completed = ledger.history(ledger.engine_for(mlflow_store), point)[1]
        assert "stopped after moving the alias" in completed.reason and completed.user == "tester"

    # the row is in, but the dead mover's lock row is left: the next move takes it over at once
    assert state("after-ledger", mlflow_store) == ("2", [("promote", None, "1"), ("promote", "1", "2")], 0, 1)
    t0 = time.monotonic()
    out = runner.invoke(app, ["rollback", "after-ledger"])
    assert out.exit_code == 0, out.output
    assert time.monotonic() - t0 < 30  # not the lock's 120 s wait
    assert state("after-ledger", mlflow_store) == ("1", [("promote", None, "1"), ("promote", "1", "2"),
                                                         ("rollback", "2", "1")], 0, 0)


def test_a_failed_ledger_append_is_undone_and_a_failed_undo_is_reported(store, monkeypatch):
    mlflow_store = store
    real_complete, real_set = ledger.complete, registry.set_alias

    def broken_ledger(*a, **k):
        raise ledger.LedgerError("ledger database went away")

    monkeypatch.setattr(ledger, "complete", broken_ledger)
    with pytest.raises(ledger.LedgerError, match="the alias move was undone"):
        moves.move("undo", "production", "2", "1", "promote", None, None)
    monkeypatch.setattr(ledger, "complete", real_complete)
    assert state("undo", mlflow_store) == ("1", [("promote", None, "1")], 0, 0)

    calls = []

    def set_once(name, alias, version):  # the move works, the undo does not
        calls.append(version)
        if len(calls) > 1:
            raise RuntimeError("registry went away")
        real_set(name, alias, version)

    monkeypatch.setattr(ledger, "complete", broken_ledger)
    monkeypatch.setattr(registry, "set_alias", set_once)
    with pytest.raises(ledger.LedgerError, match="could not be put back.*on v2 without a ledger row"):
        moves.move("undo", "production", "2", "1", "promote", None, None)
    monkeypatch.setattr(ledger, "complete", real_complete)
    monkeypatch.setattr(registry, "set_alias", real_set)
    assert state("undo", mlflow_store)[0::2] == ("2", 1)  # moved, one pending intent, no row yet
    assert [e.to_version for e in moves.reconcile("undo")] == ["2"]
    assert state("undo", mlflow_store) == ("2", [("promote", None, "1"), ("promote", "1", "2")], 0, 0)


def test_a_missing_alias_or_version_is_not_found_not_an_outage(store):
    assert registry.version_by_alias("undo", "staging") is None  # the store answered: no version holds it
    with pytest.raises(RegistryError, match="version 7: not found in the registry") as e:
        registry.get_version("undo", "7")
    assert not isinstance(e.value, TrackingUnavailableError)
