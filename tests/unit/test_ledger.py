"""The ledger: its database, the move stack behind rollback, and the alias mutex."""

import threading
import time

import pytest

from components.lifecycle import ledger
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


def test_alias_lock_excludes_a_second_holder_and_expires(engine):
    inside, order = threading.Event(), []

    def second():
        inside.wait()
        with ledger.alias_lock(engine, "m", "production", timeout_s=10):
            order.append("second")

    t = threading.Thread(target=second)
    t.start()
    with ledger.alias_lock(engine, "m", "production"):
        inside.set()
        time.sleep(0.5)
        order.append("first")
    t.join()
    assert order == ["first", "second"]
    with ledger.alias_lock(engine, "m", "production"), pytest.raises(LedgerError, match="another move holds"):
        with ledger.alias_lock(engine, "m", "production", timeout_s=0.3):
            pass
    # a holder that died keeps the row only until its lease expires
    with ledger.alias_lock(engine, "m", "staging", ttl_s=0.2):
        time.sleep(0.3)
        with ledger.alias_lock(engine, "m", "staging", timeout_s=1):
            pass
