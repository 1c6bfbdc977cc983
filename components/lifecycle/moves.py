"""Crash-safe alias moves: the alias in the registry and the ledger never disagree for longer than it takes
the next Keel command to notice.

`move` runs under the alias lock (components/lifecycle/locks.py):

    1. reconcile any intent a dead mover left (below)
    2. compare-and-set: the alias must still point at the version the gate compared against
    3. write an intent (ledger.begin: "pending", the row it is about to append)
    4. move the alias in the registry
    5. append the ledger row and mark the intent "done", in one transaction (ledger.complete)

A process killed between 3 and 5 leaves a pending intent. `reconcile` (run by promote, rollback, history,
register, `keel predict` and `keel serve` before they read the alias) takes the lock and compares the
intent with the registry: the alias on the intended version means the move happened, so its ledger row is
appended ("completed by ..."); the alias still on the old version means it never happened, so an
`abandon` row says so; anything else was moved outside Keel, and an `abandon` row records that too.
If the ledger append itself fails in step 5, the move is undone in the registry; if the undo fails as
well, the error says so and the intent stays pending for the next command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from components.core.errors import KeelError, TrackingUnavailableError
from components.lifecycle import ledger, locks, registry, tracking

log = logging.getLogger(__name__)


class ConcurrentMoveError(KeelError):
    """The alias moved between the gate and the commit; nothing was moved."""


def ledger_engine():
    """The ledger's engine on the registry database."""
    return ledger.engine_for(ledger.database_url(tracking.configure()))


def _holder(name: str, alias: str) -> str | None:
    ref = registry.version_by_alias(name, alias)
    return ref.version if ref else None


def reconcile_locked(engine, name: str, alias: str, holder: str) -> list[ledger.Entry]:
    """Settle every pending intent of `name@alias` against the registry (the caller holds the lock)."""
    done = []
    for intent in ledger.pending(engine, name, alias):
        want, now = intent.entry, _holder(name, alias)
        stamp = {"ts": ledger.now_iso(), "user": locks.current_user()}
        if now == want.to_version:
            note = f"completed by {holder}: {intent.holder} stopped after moving the alias, before its ledger row"
            entry = want.model_copy(update=stamp | {"reason": f"{want.reason or want.action} [{note}]"})
        else:
            note = (f"not moved: {intent.holder} stopped before moving the alias; @{alias} stays on v{now}"
                    if now == want.from_version else
                    f"@{alias} is on v{now}, neither v{want.from_version} nor v{want.to_version}: moved outside keel")
            entry = want.model_copy(update=stamp | {"action": "abandon", "reason": f"{want.action} v{want.from_version}"
                                                                                 f" -> v{want.to_version} [{note}]"})
        entry.id = ledger.complete(engine, intent.id, entry, "done" if entry.action != "abandon" else "abandoned", note)
        log.warning("%s@%s: reconciled intent %d: %s", name, alias, intent.id, note)
        done.append(entry)
    return done


def reconcile(name: str, alias: str | None = None, required: bool = True, wait_s: float = 5.0) -> list[ledger.Entry]:
    """Settle the pending intents of `name` (one alias, or all) that dead movers left; returns the rows
    appended. An intent whose mover still holds the lock is left to it. `required=False` (scoring,
    register): a ledger that is not configured or not reachable is a warning, not an error."""
    try:
        engine = ledger_engine()
        aliases = sorted({i.entry.alias for i in ledger.pending(engine, name, alias)})
    except (KeelError, OSError, ImportError, SQLAlchemyError) as e:
        if required:
            raise
        log.warning("%s: the promotion ledger was not checked for unfinished moves: %s", name, e)
        return []
    done: list[ledger.Entry] = []
    for a in aliases:
        try:
            with locks.alias_lock(engine, name, a, timeout_s=wait_s) as lock:
                done += reconcile_locked(engine, name, a, lock.holder)
        except locks.LockBusy:  # a live mover is at work: its intent is not stale
            log.info("%s@%s: a move is in progress; its intent is left to it", name, a)
    return done


@contextmanager
def locked(name: str, alias: str) -> Iterator[locks.Lock | None]:
    """Hold the lock `move` takes on `name@alias` for the block (register's @staging moves). Where no ledger is
    configured (its database holds the lock), the block runs unlocked: a warning, and None."""
    try:
        engine = ledger_engine()
    except (KeelError, OSError, ImportError, SQLAlchemyError) as e:
        log.warning("%s@%s: moved without the alias lock: %s", name, alias, e)
        engine = None
    if engine is None:
        yield None
        return
    with locks.alias_lock(engine, name, alias) as lock:
        yield lock


def move(name: str, alias: str, to_version: str, expected_from: str | None, action: str, reason: str | None,
         report: dict | None, user: str | None = None) -> ledger.Entry:
    """Move `alias` to `to_version` if it still points at `expected_from`, and append the ledger row; crash-safe
    and atomic for every Keel process sharing the registry database (see the module docstring)."""
    engine = ledger_engine()
    with locks.alias_lock(engine, name, alias) as lock:
        reconcile_locked(engine, name, alias, lock.holder)
        now = _holder(name, alias)
        if now != expected_from:
            raise ConcurrentMoveError(f"{name}@{alias} moved from v{expected_from} to v{now} while this move was "
                                      "being decided; nothing changed, re-run it")
        entry = ledger.Entry(ts=ledger.now_iso(), user=user or locks.current_user(), model=name, alias=alias,
                             action=action, from_version=expected_from, to_version=to_version, reason=reason,
                             gate_report=report)
        intent = ledger.begin(engine, entry, lock.holder)
        lock.check()
        try:
            registry.set_alias(name, alias, to_version)
        except TrackingUnavailableError as e:  # it may or may not have moved: the next command will see
            raise TrackingUnavailableError(f"{e}. The move of {name}@{alias} to v{to_version} is recorded as pending "
                                           f"(intent {intent}); the next keel command settles it") from e
        except Exception as e:
            ledger.drop(engine, intent, f"the registry refused the move: {e}")
            raise
        lock.check()
        try:
            entry.id = ledger.complete(engine, intent, entry)
        except ledger.IntentSettled:  # another process settled it after this one stalled: leave the alias be
            raise
        except Exception as e:
            undo(name, alias, expected_from, to_version, e)
            try:
                ledger.drop(engine, intent, f"undone: the ledger append failed ({e})")
            except Exception:  # noqa: BLE001 - the intent stays pending; the next command finds the alias undone
                pass
            raise ledger.LedgerError(f"{name}@{alias}: the ledger row for v{expected_from} -> v{to_version} could not "
                                     f"be written ({e}); the alias move was undone") from e
    return entry


def undo(name: str, alias: str, back_to: str | None, moved_to: str, cause: Exception) -> None:
    """Put the alias back after a failed ledger append; a failed undo is an error that says so."""
    try:
        if back_to is None:
            registry.delete_alias(name, alias)
        else:
            registry.set_alias(name, alias, back_to)
    except Exception as e:
        raise ledger.LedgerError(
            f"{name}@{alias}: the ledger row for v{back_to} -> v{moved_to} could not be written ({cause}) AND the "
            f"alias could not be put back ({e}): @{alias} is on v{moved_to} without a ledger row. The move is kept "
            "as a pending intent; the next keel command (e.g. `keel history`) records it once both are reachable"
        ) from e
