"""The alias mutex: one row per (model, alias) in `keel_alias_locks`, held by one process at a time.

Acquiring it is an INSERT that only one process can commit (primary key model+alias); the others get an
IntegrityError and wait, up to `timeout_s`. The row names its holder (`user@host:pid:nonce`) and carries a
lease (`expires_at`) that a background thread renews every `lease_s / 3` while the block runs, so a live
holder never loses it however long the move takes, and a dead holder's row stops counting after at most
`lease_s` (shorter than the wait). A holder on this host whose process is gone is taken over at once. A
takeover deletes exactly the dead holder's row and inserts its own in one transaction, so two waiters
cannot both take it. If renewing ever finds the row gone or re-owned, the holder learns it (`check()`
raises) before its next write: a process that stalled past its lease does not move the alias.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from components.lifecycle.ledger import LOCKS, LedgerError

log = logging.getLogger(__name__)
LEASE_S = 30.0  # a holder's lease, renewed while held
WAIT_S = 120.0  # how long a mover waits for the lock (longer than the lease, so a dead holder never wins)


class LockBusy(LedgerError):
    """Another (live) process holds the alias lock and did not release it in time."""


def current_user() -> str:
    """Who is moving the alias: KEEL_USER, else the OS user."""
    try:
        return os.environ.get("KEEL_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid())


def new_holder() -> str:
    """An identity for this holder: who, where, which process, and a nonce."""
    return f"{current_user()}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_here(holder: str) -> bool:
    """Whether `holder` is a process on this host that no longer exists."""
    try:
        host, pid = holder.rsplit("@", 1)[-1].split(":")[:2]
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OSError):
        return False
    return False


class Lock:
    """A held alias lock: its holder id, and whether it is still ours."""

    def __init__(self, engine: Engine, model: str, alias: str, holder: str, lease_s: float):
        self.engine, self.model, self.alias, self.holder, self.lease_s = engine, model, alias, holder, lease_s
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"keel-lease-{model}@{alias}", daemon=True)

    def _renew(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.engine.begin() as conn:
                    n = conn.execute(update(LOCKS).where(LOCKS.c.model == self.model, LOCKS.c.alias == self.alias,
                                                         LOCKS.c.holder == self.holder)
                                     .values(expires_at=time.time() + self.lease_s)).rowcount
                if n != 1:
                    self._lost.set()
                    return
                last_ok = time.monotonic()
            except OperationalError as e:  # a busy or briefly unreachable database: try again, until the lease ends
                if time.monotonic() - last_ok > self.lease_s:
                    log.warning("%s@%s: could not renew the lock's lease for %.0f s (%s)", self.model, self.alias,
                                self.lease_s, e)
                    self._lost.set()
                    return

    def check(self) -> None:
        """Raise if the lease was lost (taken over after a stall): the caller must not write."""
        if self._lost.is_set():
            raise LedgerError(f"{self.model}@{self.alias}: this process ({self.holder}) lost the alias lock (its lease "
                              f"of {self.lease_s:.0f} s ran out); nothing more is written, re-run the command")


def _take(engine: Engine, model: str, alias: str, holder: str, lease_s: float) -> str | None:
    """One attempt: insert our row, taking over an expired or dead holder's row. Returns the holder taken
    over (or None); raises IntegrityError when a live holder has it."""
    where = (LOCKS.c.model == model, LOCKS.c.alias == alias)
    with engine.begin() as conn:
        row = conn.execute(select(LOCKS).where(*where)).first()
        stale = row is not None and (row.expires_at < time.time() or dead_here(row.holder))
        if stale:
            conn.execute(delete(LOCKS).where(*where, LOCKS.c.holder == row.holder))
        conn.execute(insert(LOCKS).values(model=model, alias=alias, holder=holder, expires_at=time.time() + lease_s))
    return row.holder if stale else None


@contextmanager
def alias_lock(engine: Engine, model: str, alias: str, timeout_s: float = WAIT_S,
               lease_s: float = LEASE_S) -> Iterator[Lock]:
    """Hold the (model, alias) mutex for the block; waits up to `timeout_s` for a live holder."""
    holder = new_holder()
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            taken = _take(engine, model, alias, holder, lease_s)
            break
        except (IntegrityError, OperationalError) as e:  # held by someone else (or the database file is busy)
            if time.monotonic() > deadline:
                with engine.connect() as conn:
                    row = conn.execute(select(LOCKS).where(LOCKS.c.model == model, LOCKS.c.alias == alias)).first()
                raise LockBusy(f"{model}@{alias}: another move holds the lock ({row.holder if row else e}); "
                               f"gave up after {timeout_s:.0f} s") from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
    if taken:
        log.warning("%s@%s: took over the lock of %s (its process is gone or its lease ran out)", model, alias, taken)
    lock = Lock(engine, model, alias, holder, lease_s)
    lock._thread.start()
    try:
        yield lock
    finally:
        lock._stop.set()
        lock._thread.join()
        with engine.begin() as conn:
            conn.execute(delete(LOCKS).where(LOCKS.c.model == model, LOCKS.c.alias == alias,
                                             LOCKS.c.holder == holder))
