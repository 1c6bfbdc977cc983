"""A clean virtual environment holding ONLY the distributions a model's requirements.txt names and what they
depend on (their transitive requirements, extras and markers evaluated), built in about a second.

`python -m venv --without-pip`, then each needed distribution's installed files are symlinked from this
environment's site-packages into the new one (a folder shared with a distribution outside the closure, a
namespace package, is linked entry by entry). Nothing else is importable there: no Keel source (the checkout
and its editable install are not in any model requirement), no plugin package, no test helper. A fresh
`pip install -r requirements.txt` would build the same set, but downloading torch takes minutes; the
files linked here are the same installed distributions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

KEEL = ("components", "flows", "keel_wine", "tests")  # none of these may be importable in the clean venv


def closure(requirements: list[str]) -> dict[str, object]:
    """canonical name -> Distribution for `requirements` and everything they require, here installed."""
    found: dict[str, object] = {}
    extras: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        wanted = set(req.extras)
        if name in found and wanted <= extras[name]:
            continue
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            raise AssertionError(f"requirement {req} is not installed here") from None
        found[name], extras[name] = dist, extras.get(name, set()) | wanted
        for line in dist.requires or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras[name] | {""}):
                todo.append(dep)
    return found


def _link(src: Path, dst: Path) -> None:
    if not dst.exists() and not dst.is_symlink():
        dst.symlink_to(src)


def build(dst: Path, requirements: list[str]) -> Path:
    """A venv in `dst` with only the closure of `requirements`; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dst)], check=True)
    site = dst / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    owners = packages_distributions()
    for dist in closure(requirements).values():
        base = Path(dist.locate_file(""))
        tops: dict[str, set[str]] = {}
        for f in dist.files or []:
            parts = Path(f).parts
            if parts and parts[0] != ".." and parts[0] != "__pycache__":
                tops.setdefault(parts[0], set()).add(parts[1] if len(parts) > 1 else "")
        for top, subs in tops.items():
            shared = len({canonicalize_name(d) for d in owners.get(top.removesuffix(".py"), [])}) > 1
            if shared and (base / top).is_dir():  # a namespace folder: link only this distribution's entries
                (site / top).mkdir(exist_ok=True)
                for sub in subs - {""}:
                    _link(base / top / sub, site / top / sub)
            else:
                _link(base / top, site / top)
    for script, module in (("mlflow", "mlflow.cli:cli"), ("uvicorn", "uvicorn.main:main")):
        mod, func = module.split(":")
        path = dst / "bin" / script
        path.write_text(f"#!{dst / 'bin' / 'python'}\nimport sys\nfrom {mod} import {func}\nsys.exit({func}())\n")
        path.chmod(0o755)
    return dst / "bin" / "python"


def environment(venv: Path, **extra: str) -> dict[str, str]:
    """The environment to run the clean venv with: its bin first on PATH, no PYTHONPATH, telemetry off."""
    keep = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return keep | {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "DO_NOT_TRACK": "true",
                   "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONNOUSERSITE": "1"} | extra
