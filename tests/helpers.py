"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_params(path: Path, overrides: dict | None = None, base: Path | None = None) -> Path:
    """Write the repo's params.yaml (or `base`) with dotted-key overrides applied."""
    import yaml

    from components.config.params import read_params_file

    raw = read_params_file(base or ROOT / "params.yaml", overrides)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def params_with(overrides: dict | None = None):
    """The repo's params with dotted-key overrides, parsed."""
    from components.config.params import load_params

    return load_params(ROOT / "params.yaml", overrides)


def make_repo_copy(dest: Path) -> Path:
    """Copy the project (tracked + untracked-but-not-ignored files) into a new git repo at `dest`."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if rel == "dvc.lock" or rel.startswith("reports/"):  # outputs of a local run, absent from a clone
            continue
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    env = {**os.environ, "GIT_AUTHOR_NAME": "keel-test", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "keel-test", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env)
    return dest


def venv_env(**extra: str) -> dict[str, str]:
    """Environment whose PATH starts with this interpreter's bin folder (as `make` sets it)."""
    env = {**os.environ, **extra}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env
