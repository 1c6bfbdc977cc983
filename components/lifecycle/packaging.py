"""What a registered model carries so that it loads and predicts with MLflow alone, without a Keel checkout.

A Keel pyfunc runs Keel code when it loads and predicts (the checkpoint loader, the transform, the family's
model file, the task's output frame). The model therefore packages that code (MLflow `code_paths`): the
import closure of the pyfunc module (components/core/codedeps.py) and, for a plugin family, the plugin's
own package; it pins the distributions that code imports at module level, at the exact versions of the
environment that logged it; and `keel.json` records the code version (sha256 of the packaged files, the
git commit of the Keel that logged it), which the pyfunc checks at load. Loading a model runs its packaged
code: treat a registry like a code repository (docs/lifecycle.md, "Trust boundary").
"""

from __future__ import annotations

import ast
import shutil
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions, version
from pathlib import Path
from typing import Any

from components.core.codedeps import ROOT_PACKAGE, closure, code_sha256, imports_of
from components.families.registry import declaration, get, plugin_sources

ENTRY_MODULE = "components.lifecycle.pyfunc"  # what MLflow's models-from-code entry imports
ALWAYS = ("mlflow",)  # the loader itself
# distributions a data kind's transform imports inside functions (when it decodes what a caller sends), which
# the module-level scan cannot see
BY_KIND = {"image_file": ("pillow",), "detection": ("pillow",), "video": ("av",)}
FORMAT = 1  # of keel.json


@dataclass(frozen=True)
class Bundle:
    """The code a model packages, staged in a folder: MLflow's `code_paths`, their version and requirements."""

    code_paths: list[str]  # top-level package folders, copied by MLflow into the model's `code/`
    files: list[str]  # packaged files, relative to `code/`
    sha256: str
    requirements: list[str]


def keel_root() -> Path:
    """The folder holding the `components` package this process runs."""
    import components

    return Path(components.__file__).resolve().parents[1]


def runtime_files(family: str) -> dict[str, Path]:
    """Relative path (as packaged) -> source file: the pyfunc's import closure, plus a plugin family's package
    and the Keel modules that package imports."""
    root = keel_root()
    files = {str(p.relative_to(root)): p for p in closure(ENTRY_MODULE, root)}
    for rel, path in plugin_sources(family).items():
        files[rel] = path
        module = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for dep in imports_of(path, module, root):
            files |= {str(p.relative_to(root)): p for p in closure(dep, root)}
    return files


def module_level_imports(path: Path) -> set[str]:
    """Top-level names a file imports when it is imported (not inside functions, not under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def pins(distributions: list[str]) -> list[str]:
    """`name==version` for each installed distribution (local labels such as +cpu stripped)."""
    out = []
    for dist in distributions:
        try:
            out.append(f"{dist}=={version(dist).split('+')[0]}")
        except PackageNotFoundError:
            out.append(dist)
    return out


def import_owners(names: set[str]) -> dict[str, list[str]]:
    """The distributions that provide each top-level import name. Looks up the distribution of the same name
    first (numpy, torch, mlflow...: milliseconds); scans every installed distribution (`packages_distributions`,
    ~0.4-1.6 s) only when some name is not found that way (sklearn -> scikit-learn, PIL -> pillow)."""
    owners: dict[str, list[str]] = {}
    for name in names:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        tops = (dist.read_text("top_level.txt") or "").split() or {f.parts[0].removesuffix(".py")
                                                                    for f in dist.files or () if f.parts}
        if name in tops:
            owners[name] = [dist.metadata["Name"]]
    if names - owners.keys():
        found = packages_distributions()
        owners |= {n: found[n] for n in names - owners.keys() if n in found}
    return owners


def requirements(files: dict[str, Path], kind: str | None = None) -> list[str]:
    """Pinned distributions the packaged code imports at module level, plus MLflow and what the data `kind`'s
    decoding needs (BY_KIND)."""
    packaged = {rel.split("/")[0].removesuffix(".py") for rel in files}
    names = set().union(*(module_level_imports(p) for p in files.values())) - packaged - set(sys.stdlib_module_names)
    owners = import_owners(names)
    dists = {owners[n][0] for n in names if n in owners and not set(owners[n]) & set(ALWAYS)}
    dists |= set(ALWAYS) | set(BY_KIND.get(kind, ()))
    return pins(sorted(dists, key=str.lower))


def bundle(family: str, dst: Path) -> Bundle:
    """Copy the code a `family` model runs into `dst` (one folder per top-level package)."""
    files = runtime_files(family)
    for rel, src in files.items():
        (Path(dst) / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, Path(dst) / rel)
    tops = sorted({rel.split("/")[0] for rel in files})
    return Bundle(code_paths=[str(Path(dst) / t) for t in tops], files=sorted(files),
                  sha256=code_sha256(Path(dst), sorted(files)),
                  requirements=requirements(files, get(family).kind))


def describe(family: str, code: Bundle, checks: dict[str, Any] | None) -> dict[str, Any]:
    """keel.json: the family (and a plugin's declaration), the packaged code's version, the input checks."""
    from components.lifecycle.tracking import git_commit

    commit, dirty = git_commit(keel_root())
    return {"format": FORMAT, "family": family, "declaration": declaration(family),
            "code": {"sha256": code.sha256, "git_commit": commit, "git_dirty": dirty, "root": ROOT_PACKAGE,
                     "files": code.files, "requirements": code.requirements},
            "checks": checks}
