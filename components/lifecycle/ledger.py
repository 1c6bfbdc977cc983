"""The promotion ledger: every alias move (promotion, rollback, forced override), appended to a table in
the registry's own database, so it survives restarts and is backed up with the registry.

Storage: SQLAlchemy on the MLflow tracking URI's database (sqlite now, PostgreSQL/MySQL later; the
tables `keel_ledger` and `keel_alias_locks` are created on first use). A tracking *server* URI
(http://...) does not expose its database: set `KEEL_LEDGER_DB_URL` to that database's URL.

Concurrency: an alias move happens inside `alias_lock(model, alias)`, a mutex held as a row in
`keel_alias_locks` (primary key model+alias): acquiring it is an INSERT that only one process can commit;
the others get an IntegrityError and wait. Inside it the mover re-reads the alias, checks it still points
at the version the gate compared against (compare-and-set), moves it, and appends the ledger row, then
deletes the lock row. Each of those is a short transaction of its own, so MLflow's own writes to the
same sqlite file are never blocked by a transaction we hold. A lock row left by a killed process
expires after `ttl_s`.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from components.core.errors import KeelError

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
LOCKS = Table(
    "keel_alias_locks", _meta,
    Column("model", String(256), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("expires_at", Float, nullable=False),
)


class LedgerError(KeelError):
    """The ledger cannot be reached, is locked too long, or disagrees with the registry."""


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


def database_url(tracking_uri: str) -> str:
    """The SQLAlchemy URL of the registry database behind `tracking_uri` (or KEEL_LEDGER_DB_URL)."""
    if os.environ.get(LEDGER_URL_ENV):
        return os.environ[LEDGER_URL_ENV]
    if tracking_uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql"):
        return tracking_uri
    raise LedgerError(f"MLFLOW_TRACKING_URI={tracking_uri} is not a database; set {LEDGER_URL_ENV} to the "
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


@contextmanager
def alias_lock(engine: Engine, model: str, alias: str, timeout_s: float = 120.0,
               ttl_s: float = 300.0) -> Iterator[str]:
    """Hold the (model, alias) mutex row; yields the holder id. Waits up to `timeout_s` for another holder."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            with engine.begin() as conn:
                conn.execute(delete(LOCKS).where(LOCKS.c.model == model, LOCKS.c.alias == alias,
                                                 LOCKS.c.expires_at < time.time()))  # a crashed holder's row
                conn.execute(insert(LOCKS).values(model=model, alias=alias, holder=holder,
                                                  expires_at=time.time() + ttl_s))
            break
        except (IntegrityError, OperationalError) as e:  # held by someone else (or the database file is busy)
            if time.monotonic() > deadline:
                with engine.connect() as conn:
                    row = conn.execute(select(LOCKS).where(LOCKS.c.model == model, LOCKS.c.alias == alias)).first()
                raise LedgerError(f"{model}@{alias}: another move holds the lock ({row.holder if row else e}); "
                                  f"gave up after {timeout_s:.0f} s") from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
    try:
        yield holder
    finally:
        with engine.begin() as conn:
            conn.execute(delete(LOCKS).where(LOCKS.c.model == model, LOCKS.c.alias == alias,
                                             LOCKS.c.holder == holder))


def append(engine: Engine, entry: Entry) -> int:
    """Append one move; returns its id."""
    values = entry.model_dump(exclude={"id"})
    values["gate_report"] = json.dumps(entry.gate_report) if entry.gate_report is not None else None
    with engine.begin() as conn:
        return int(conn.execute(insert(LEDGER).values(**values)).inserted_primary_key[0])


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
