"""Every alias move of a model, in time order: the register stage's `@staging` moves and the promotion
ledger's `@production` moves (promotions, rollbacks, forced overrides) in one list, for `keel history`.

The register stage records its moves on the version it stages, as the version tag `keel.alias_moves` (a
JSON list of `[ts, user, alias, from_version]`, the last 50 kept). A tag lives in the registry itself, so the
staging history is there for anyone who can read the registry: it survives a fresh checkout and needs no
ledger database (register also runs where the ledger is not configured, e.g. against a tracking server
without KEEL_LEDGER_DB_URL). The ledger stays what `keel rollback` reads; nothing here writes to it.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel

from components.lifecycle import ledger, moves, registry, tracking

log = logging.getLogger(__name__)
MOVES_TAG = "keel.alias_moves"
KEEP = 50  # records per version (a tag value has a size limit; a version is rarely re-staged)


class Move(ledger.Entry):
    """One alias move, with where it is recorded: "ledger" (promote, rollback) or "register" (version tag)."""

    source: str


class History(BaseModel):
    """A model's alias moves, oldest first, and why some may be missing (`warning`)."""

    moves: list[Move]
    warning: str | None = None


def record_stage(name: str, version: registry.VersionRef, alias: str) -> bool:
    """Move `alias` to `version` and record it on the version (register, after its bars passed); True if it
    moved. Under the alias lock `moves.move` takes for @production (unlocked, with a warning, where no ledger is
    configured). Already held and recorded: nothing happens (a re-run). Held but not recorded (a run stopped
    between the two): recorded now, from the version the last recorded move of `alias` went to."""
    from components.lifecycle.locks import current_user

    with moves.locked(name, alias) as lock:
        version = registry.get_version(name, version.version)  # as it is now, under the lock
        records = _records(version.tags)
        held = alias in version.aliases
        if held and any(r[2] == alias for r in records):
            return False
        if held:
            before = [m for m in staging_moves(name) if m.alias == alias and m.to_version != version.version]
            previous = max(before, key=lambda m: m.ts).to_version if before else None
        else:
            holder = registry.version_by_alias(name, alias)
            previous = holder.version if holder else None
            if lock is not None:
                lock.check()
            registry.set_alias(name, alias, version.version)
        records.append([ledger.now_iso(), current_user(), alias, previous])
        registry.set_version_tags(name, version.version, {MOVES_TAG: json.dumps(records[-KEEP:])})
    return not held


def _records(tags: dict[str, str]) -> list[list]:
    try:
        found = json.loads(tags.get(MOVES_TAG) or "[]")
    except json.JSONDecodeError:
        log.warning("ignoring an unreadable %s tag: %.80s", MOVES_TAG, tags.get(MOVES_TAG))
        return []
    return [r for r in found if isinstance(r, list) and len(r) == 4]


def staging_moves(name: str) -> list[Move]:
    """The alias moves the register stage recorded on `name`'s versions (one registry search)."""
    with registry.guarded(f"reading the versions of {name!r}"):
        versions = registry.mlflow_client().search_model_versions(f"name = '{name}'")
    return [Move(ts=ts, user=user, model=name, alias=alias, action="stage", from_version=before,
                 to_version=str(mv.version), reason="register: passed its bars", source="register")
            for mv in versions for ts, user, alias, before in _records(dict(mv.tags or {}))]


def merged(engine, name: str) -> list[Move]:
    """The ledger's moves and the register stage's, oldest first."""
    found = [Move(**e.model_dump(), source="ledger") for e in ledger.history(engine, name)] + staging_moves(name)
    return sorted(found, key=lambda m: m.ts)


def history(name: str) -> History:
    """Every alias move of `name`, oldest first, after settling a move a killed process left half-done. Where no
    ledger is configured (a tracking server without KEEL_LEDGER_DB_URL): the @staging moves alone, with a
    warning naming the variable."""
    try:
        url = ledger.database_url(tracking.configure())
    except ledger.LedgerError as e:
        return History(moves=sorted(staging_moves(name), key=lambda m: m.ts),
                       warning=f"{e}; listing only the @staging moves the register stage recorded on the versions")
    moves.reconcile(name)
    return History(moves=merged(ledger.engine_for(url), name))
