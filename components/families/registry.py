"""Every family Keel can run: the built-in ones and those installed packages declare in the entry-point
group `keel.families` (an entry point names a `Family` object: `mlp = "keel_wine.family:FAMILY"`)."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path

from components.core.errors import ParamsError
from components.families.builtin import BUILTIN
from components.families.family import Family

GROUP = "keel.families"


@functools.cache
def families() -> dict[str, Family]:
    """name -> Family: the built-in families, then the plugins (a plugin may not reuse a name)."""
    found = {f.name: f for f in BUILTIN}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            family = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin is named, whatever it raised
            raise ParamsError(f"entry point {GROUP}:{ep.name} ({ep.value}) cannot be loaded: "
                              f"{type(e).__name__}: {e}") from e
        if not isinstance(family, Family):
            raise ParamsError(f"entry point {GROUP}:{ep.name} ({ep.value}) is a {type(family).__name__}, "
                              "not a components.families.family.Family")
        if family.name in found:
            raise ParamsError(f"entry point {GROUP}:{ep.name} ({ep.value}) declares family {family.name!r}, "
                              "which already exists")
        found[family.name] = family
    return found


def get(name: str) -> Family:
    """One family by name; an unknown name lists the known ones."""
    known = families()
    if name not in known:
        raise ParamsError(f"model: unknown family {name!r} (known: {', '.join(known)})")
    return known[name]


def names() -> tuple[str, ...]:
    """Every family's name, built-in first."""
    return tuple(families())


def declaration(name: str) -> str | None:
    """Where a plugin family is declared (`module:attribute`, its entry point's value); None for a built-in."""
    if name in {f.name for f in BUILTIN}:
        return None
    found = [ep.value for ep in entry_points(group=GROUP) if ep.name == name]
    return found[0] if found else None


def adopt(name: str, where: str) -> Family:
    """Make family `name` known from its declaration `module:attribute` when no entry point declares it (a
    model that packages its plugin family's code is loaded where the plugin is not installed)."""
    known = families()
    if name in known:
        return known[name]
    import importlib

    module, _, attribute = where.partition(":")
    try:
        family = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as e:
        raise ParamsError(f"family {name!r}: its declaration {where} cannot be loaded: {type(e).__name__}: {e}") from e
    if not isinstance(family, Family) or family.name != name:
        raise ParamsError(f"family {name!r}: {where} is not the Family {name!r}")
    known[name] = family  # the cached mapping: every later get(name) finds it
    return family


def plugin_sources(name: str) -> dict[str, Path]:
    """A plugin family's own source files: packaged path (`keel_wine/model.py`, or `wine.py` for a module) -> the
    installed file; empty for a built-in (Keel's code is tracked as Keel's)."""
    import importlib.util

    where = declaration(name)
    if where is None:
        return {}
    top = where.split(":")[0].split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise ImportError(f"family {name!r}: its package {top!r} ({where}) is not importable")
    if not spec.submodule_search_locations:
        return {Path(spec.origin).name: Path(spec.origin)}
    base = Path(spec.origin).parent
    return {f"{top}/{p.relative_to(base)}": p for p in sorted(base.rglob("*.py")) if "__pycache__" not in p.parts}


def plugin_digest(name: str) -> str | None:
    """sha256 of a plugin family's source files (paths and contents); None for a built-in."""
    import hashlib

    files = plugin_sources(name)
    if not files:
        return None
    h = hashlib.sha256()
    for rel, path in sorted(files.items()):
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
