"""The layering of components/ holds (`lint-imports`), and the check fails when an import goes back up."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from components.core.codedeps import closure
from tests.helpers import ROOT

LINT = str(Path(sys.executable).parent / "lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_contracts_are_kept():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def _lint_with_extra_import(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of components/ and flows/ where `module` (a path) gains one import line."""
    for folder in ("components", "flows"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa: E402,F401\n")
    return _lint(tmp_path)


def test_a_reversed_import_breaks_the_layers(tmp_path):
    done = _lint_with_extra_import(tmp_path, "components/core/io.py", "from components.stages import train")
    assert done.returncode != 0
    assert "One-way layers" in done.stdout and "BROKEN" in done.stdout
    assert "components.core.io -> components.stages.train" in done.stdout


def test_a_stage_importing_a_stage_breaks_independence(tmp_path):
    done = _lint_with_extra_import(tmp_path, "components/stages/evaluate.py", "from components.stages import features")
    assert done.returncode != 0 and "No stage imports another stage" in done.stdout


def test_code_closure_follows_imports_inside_functions_and_packages():
    files = {p.relative_to(ROOT).as_posix() for p in closure("components.stages.train", ROOT)}
    assert "components/training/loop.py" in files and "components/models/cnn.py" in files
    assert "components/training/__init__.py" in files and "components/__init__.py" in files
    assert "components/stages/ingest.py" not in files and "components/serving/serve.py" not in files
    ingest = {p.relative_to(ROOT).as_posix() for p in closure("components.stages.ingest", ROOT)}
    assert "components/training/loop.py" not in ingest
