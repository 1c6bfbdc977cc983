"""The promotion ledger: every alias move (promotion, rollback, forced override), appended to a table in
the registry's own database, so it survives restarts and is backed up with the registry.

Storage: SQLAlchemy on the MLflow tracking URI's database (sqlite now, PostgreSQL/MySQL later; the
tables `keel_ledger`, `keel_alias_intents` and `keel_alias_locks` are created on first use). A tracking
*server* URI (http://...) does not expose its database: set `KEEL_LEDGER_DB_URL` to that database's URL.

Crash safety: a move first writes an intent (`begin`: state "pending", what it is about to do), then moves
the alias, then appends the ledger row and marks the intent "done" in one transaction (`complete`). A
process killed in between leaves a pending intent, which the next Keel command reconciles
(components/lifecycle/moves.py). The mutex that serialises movers is components/lifecycle/locks.py.
"""

from __future__ import annotations

import functools
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from components.core.errors import KeelError
from components.lifecycle.outages import redact

LEDGER_URL_ENV = "KEEL_LEDGER_DB_URL"

_meta = MetaData()
LEDGER = Table(
    "keel_ledger", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", String(32), nullable=False),  # UTC ISO-8601
    Column("user", String(256), nullable=False),
    Column("model", String(256), nullable=False, index=True),
    Column("alias", String(256), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_version", String(32)),
    Column("to_version", String(32), nullable=False),
    Column("reason", Text),
    Column("gate_report", Text),  # the gate decision as JSON
)
INTENTS = Table(
    "keel_alias_intents", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", String(32), nullable=False),
    Column("model", String(256), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("holder", String(256), nullable=False),  # the lock holder that wrote it (user@host:pid:nonce)
    Column("state", String(16), nullable=False, index=True),  # pending | done | abandoned
    Column("entry", Text, nullable=False),  # the ledger row it is about to append, as JSON
    Column("ledger_id", Integer),
    Column("note", Text),
)
LOCKS = Table(
    "keel_alias_locks", _meta,
    Column("model", String(256), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("expires_at", Float, nullable=False),
)


class LedgerError(KeelError):
    """The ledger cannot be reached, is locked too long, or disagrees with the registry."""


class IntentSettled(LedgerError):
    """The intent was already settled by another process (this one lost its lock)."""


class Entry(BaseModel):
    """One alias move."""

    id: int | None = None
    ts: str
    user: str
    model: str
    alias: str
    action: str
    from_version: str | None
    to_version: str
    reason: str | None = None
    gate_report: dict[str, Any] | None = None


class Intent(BaseModel):
    """A move under way: written before the alias moves, "done" once its ledger row is in."""

    id: int
    ts: str
    holder: str
    state: str
    entry: Entry
    ledger_id: int | None = None
    note: str | None = None


NOT_MOVES = {"abandon"}  # ledger rows that record a move that never happened (skipped by `holders`)


def database_url(tracking_uri: str) -> str:
    """The SQLAlchemy URL of the registry database behind `tracking_uri` (or KEEL_LEDGER_DB_URL)."""
    if os.environ.get(LEDGER_URL_ENV):
        return os.environ[LEDGER_URL_ENV]
    if tracking_uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql"):
        return tracking_uri
    raise LedgerError(f"MLFLOW_TRACKING_URI={redact(tracking_uri)} is not a database; set {LEDGER_URL_ENV} to the "
                      "registry's database URL (e.g. postgresql://user@host/mlflow)")


@functools.cache
def engine_for(url: str) -> Engine:
    """An engine on `url` with the ledger tables created (first use only)."""
    args = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    engine = create_engine(url, **args)
    for attempt in range(5):
        try:
            _meta.create_all(engine, checkfirst=True)
            break
        except (OperationalError, ProgrammingError):  # another process created them between check and create
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine


def now_iso() -> str:
    """UTC now, ISO-8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _row(entry: Entry) -> dict[str, Any]:
    values = entry.model_dump(exclude={"id"})
    values["gate_report"] = json.dumps(entry.gate_report) if entry.gate_report is not None else None
    return values


def append(engine: Engine, entry: Entry) -> int:
    """Append one move; returns its id."""
    with engine.begin() as conn:
        return int(conn.execute(insert(LEDGER).values(**_row(entry))).inserted_primary_key[0])


def begin(engine: Engine, entry: Entry, holder: str) -> int:
    """Record the intent to make `entry`'s move (before the alias moves); returns the intent's id."""
    with engine.begin() as conn:
        return int(conn.execute(insert(INTENTS).values(
            ts=now_iso(), model=entry.model, alias=entry.alias, holder=holder, state="pending",
            entry=entry.model_dump_json())).inserted_primary_key[0])


def complete(engine: Engine, intent_id: int, entry: Entry, state: str = "done", note: str | None = None) -> int:
    """Append `entry` and close the pending intent, in one transaction; returns the ledger id. Refuses (and
    appends nothing) when the intent is no longer pending: another process reconciled it."""
    with engine.begin() as conn:
        ledger_id = int(conn.execute(insert(LEDGER).values(**_row(entry))).inserted_primary_key[0])
        closed = conn.execute(update(INTENTS).where(INTENTS.c.id == intent_id, INTENTS.c.state == "pending")
                              .values(state=state, ledger_id=ledger_id, note=note)).rowcount
        if closed != 1:  # raising inside the block rolls the append back
            raise IntentSettled(f"{entry.model}@{entry.alias}: intent {intent_id} was already reconciled by another "
                                "process (this one lost its lock); nothing appended")
    return ledger_id


def drop(engine: Engine, intent_id: int, note: str) -> None:
    """Close a pending intent whose move never happened and left nothing to record (a refused alias move)."""
    with engine.begin() as conn:
        conn.execute(update(INTENTS).where(INTENTS.c.id == intent_id, INTENTS.c.state == "pending")
                     .values(state="abandoned", note=note))


def pending(engine: Engine, model: str, alias: str | None = None) -> list[Intent]:
    """The intents of `model` (optionally of one alias) still pending, oldest first."""
    query = select(INTENTS).where(INTENTS.c.state == "pending", INTENTS.c.model == model).order_by(INTENTS.c.id)
    if alias is not None:
        query = query.where(INTENTS.c.alias == alias)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [Intent(**{k: v for k, v in r.items() if k not in ("model", "alias", "entry")},
                   entry=Entry.model_validate_json(r["entry"])) for r in rows]


def history(engine: Engine, model: str, alias: str | None = None) -> list[Entry]:
    """Every move of `model` (optionally of one alias), oldest first."""
    query = select(LEDGER).where(LEDGER.c.model == model).order_by(LEDGER.c.id)
    if alias is not None:
        query = query.where(LEDGER.c.alias == alias)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [Entry(**{**r, "gate_report": json.loads(r["gate_report"]) if r["gate_report"] else None}) for r in rows]


def holders(entries: list[Entry]) -> list[str]:
    """The stack of versions that held the alias: promotions push, rollbacks pop. Last = current."""
    stack: list[str] = []
    for e in entries:
        if e.action in NOT_MOVES:
            continue
        if e.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != e.to_version:
                stack.append(e.to_version)
        else:
            stack.append(e.to_version)
    return stack


def rollback_target(entries: list[Entry], current: str | None, model: str, alias: str) -> str:
    """The version that held `alias` before the current one, according to the ledger."""
    stack = holders(entries)
    if not stack:
        raise LedgerError(f"{model}@{alias}: the ledger has no moves; nothing to roll back")
    if stack[-1] != current:
        raise LedgerError(f"{model}@{alias}: the ledger says v{stack[-1]} holds it but the registry has "
                          f"v{current}; the alias was moved outside keel. Promote explicitly instead")
    if len(stack) < 2:
        raise LedgerError(f"{model}@{alias}: v{current} is the first version it ever held; nothing to roll back to")
    return stack[-2]
