"""The ledger: its database, the move stack behind rollback, and the alias mutex."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from components.lifecycle import ledger, locks
from components.lifecycle.ledger import Entry, LedgerError


def entry(action: str, frm: str | None, to: str) -> Entry:
    return Entry(ts=ledger.now_iso(), user="u", model="m", alias="production", action=action, from_version=frm,
                 to_version=to)


@pytest.fixture
def engine(tmp_path):
    return ledger.engine_for(f"sqlite:///{tmp_path / 'registry.db'}")


def test_database_is_the_registry_database(monkeypatch):
    monkeypatch.delenv(ledger.LEDGER_URL_ENV, raising=False)
    assert ledger.database_url("sqlite:////x/mlflow.db") == "sqlite:////x/mlflow.db"
    assert ledger.database_url("postgresql+psycopg2://u@h/mlflow") == "postgresql+psycopg2://u@h/mlflow"
    with pytest.raises(LedgerError, match="KEEL_LEDGER_DB_URL"):
        ledger.database_url("http://127.0.0.1:5000")
    monkeypatch.setenv(ledger.LEDGER_URL_ENV, "postgresql://u@db/mlflow")
    assert ledger.database_url("http://127.0.0.1:5000") == "postgresql://u@db/mlflow"


def test_entries_survive_a_new_engine_in_order(engine, tmp_path):
    ids = [ledger.append(engine, entry("promote", None, "1")),
           ledger.append(engine, entry("promote", "1", "2").model_copy(update={"gate_report": {"delta": 0.1}}))]
    engine.dispose()
    again = ledger.create_engine(f"sqlite:///{tmp_path / 'registry.db'}")  # as after a restart
    rows = ledger.history(again, "m")
    assert [r.id for r in rows] == ids and [r.to_version for r in rows] == ["1", "2"]
    assert rows[1].gate_report == {"delta": 0.1} and ledger.history(again, "other") == []


def test_rollback_goes_to_the_version_before_and_undoes_in_order():
    moves = [entry("promote", None, "1"), entry("promote", "1", "2"), entry("force", "2", "3")]
    assert ledger.holders(moves) == ["1", "2", "3"]
    assert ledger.rollback_target(moves, "3", "m", "production") == "2"
    moves.append(entry("rollback", "3", "2"))
    assert ledger.rollback_target(moves, "2", "m", "production") == "1"
    moves.append(entry("rollback", "2", "1"))
    with pytest.raises(LedgerError, match="first version it ever held"):
        ledger.rollback_target(moves, "1", "m", "production")
    with pytest.raises(LedgerError, match="moved outside keel"):
        ledger.rollback_target(moves, "3", "m", "production")
    with pytest.raises(LedgerError, match="no moves"):
        ledger.rollback_target([], None, "m", "production")


def test_alias_lock_excludes_a_second_holder_and_names_it(engine):
    inside, order = threading.Event(), []

    def second():
        inside.wait()
        with locks.alias_lock(engine, "m", "production", timeout_s=10):
            order.append("second")

    t = threading.Thread(target=second)
    t.start()
    with locks.alias_lock(engine, "m", "production") as held:
        inside.set()
        time.sleep(0.5)
        order.append("first")
    t.join()
    assert order == ["first", "second"]
    user, where = held.holder.split("@")
    assert user == locks.current_user() and where.split(":")[1] == str(os.getpid())
    with locks.alias_lock(engine, "m", "production") as held, pytest.raises(locks.LockBusy, match=held.holder):
        with locks.alias_lock(engine, "m", "production", timeout_s=0.3):
            pass


def test_a_live_holder_keeps_its_lease_past_its_length(engine):
    with locks.alias_lock(engine, "m", "staging", lease_s=0.3):
        time.sleep(1.0)  # three lease lengths: renewed in the background
        with pytest.raises(locks.LockBusy):
            with locks.alias_lock(engine, "m", "staging", timeout_s=0.5):
                pass


def plant(engine, holder: str, expires_in: float) -> None:
    with engine.begin() as conn:
        conn.execute(ledger.LOCKS.insert().values(model="m", alias="production", holder=holder,
                                                  expires_at=time.time() + expires_in))


def test_a_dead_holders_lock_is_taken_over(engine):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    plant(engine, f"u@{socket.gethostname()}:{dead.stdout.strip()}:abc", expires_in=3600)  # its process is gone
    t0 = time.monotonic()
    with locks.alias_lock(engine, "m", "production", timeout_s=5):
        pass
    assert time.monotonic() - t0 < 2  # at once, not after its lease


def test_an_expired_lease_on_another_host_is_taken_over_a_fresh_one_is_not(engine):
    plant(engine, "u@elsewhere:1:abc", expires_in=3600)
    with pytest.raises(locks.LockBusy, match="u@elsewhere:1:abc"):
        with locks.alias_lock(engine, "m", "production", timeout_s=0.3):
            pass
    with engine.begin() as conn:
        conn.execute(ledger.LOCKS.update().values(expires_at=time.time() - 1))
    with locks.alias_lock(engine, "m", "production", timeout_s=1):
        pass


def test_intents_are_pending_until_completed_once(engine):
    move = entry("promote", None, "1")
    first = ledger.begin(engine, move, "u@h:1:a")
    assert [i.id for i in ledger.pending(engine, "m", "production")] == [first]
    assert ledger.pending(engine, "m", "staging") == [] and ledger.pending(engine, "other") == []
    ledger_id = ledger.complete(engine, first, move)
    assert ledger.pending(engine, "m") == [] and [e.id for e in ledger.history(engine, "m")] == [ledger_id]
    with pytest.raises(ledger.IntentSettled):  # a second completion (a mover that lost its lock) appends nothing
        ledger.complete(engine, first, move)
    assert len(ledger.history(engine, "m")) == 1


def test_abandoned_moves_are_not_holders():
    moves = [entry("promote", None, "1"), entry("abandon", "1", "2"), entry("promote", "1", "3")]
    assert ledger.holders(moves) == ["1", "3"]
