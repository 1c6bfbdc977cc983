"""Code dependencies by construction: the Keel source files a module imports, directly or not.

`closure("components.stages.train")` parses imports (module level and inside functions alike) with `ast`,
follows every `components...` import to its file, and returns the files, package `__init__.py`s included.
dvc.yaml's code deps and the flow's cache keys both come from it, so a stage re-runs when any module it
can execute changes. Standard library only; nothing is imported.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT_PACKAGE = "components"


def module_file(module: str, root: Path) -> Path | None:
    """The file of a dotted module under `root` (the folder holding the root package), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path, module: str, root: Path) -> set[str]:
    """The Keel modules one file imports (a `from pkg import name` counts as pkg.name when that is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == ROOT_PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != ROOT_PACKAGE:
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}", root)}
    return found


@functools.cache
def closure(module: str, root: Path | None = None) -> tuple[Path, ...]:
    """Every Keel source file `module` can run: itself, what it imports (transitively), their packages' __init__."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ first
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            path = module_file(prefix, root)
            if path is None:
                continue
            seen[prefix] = path
            todo.extend(imports_of(path, prefix, root) - set(seen))
    return tuple(sorted(seen.values()))


def compress(files: tuple[Path, ...], root: Path) -> list[str]:
    """Relative paths, with a package folder standing for its files when the closure holds all of them."""
    files_set = {f.relative_to(root) for f in files}
    folders = sorted({f.parent for f in files_set}, key=lambda p: len(p.parts))
    whole: list[Path] = []
    for folder in folders:
        if any(folder.is_relative_to(w) for w in whole):
            continue
        everything = {p.relative_to(root) for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts}
        if everything and everything <= files_set and folder != Path(ROOT_PACKAGE):
            whole.append(folder)
    rest = [f for f in files_set if not any(f.is_relative_to(w) for w in whole)]
    return sorted([str(w) for w in whole] + [str(f) for f in rest])


def code_sha256(root: Path, files: list[str], roots: dict[str, Path] | None = None) -> str:
    """sha256 over the relative paths and contents of `files` under `root` (a missing file counts as absent);
    `roots`: top-level folder (or module file) of a path -> the folder holding it, where not `root`."""
    import hashlib

    h = hashlib.sha256()
    for rel in sorted(files):
        path = Path((roots or {}).get(rel.split("/")[0], root)) / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<absent>") + b"\0")
    return h.hexdigest()
