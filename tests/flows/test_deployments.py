"""prefect.yaml's steps, run as `prefect deploy` and a worker run them: every flow run clones the deployed
commit into a folder of its own (and pulls DVC data from the shared remote), so concurrent runs never share
files; deployments that do share a folder run one at a time."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect.deployments.steps.core import run_steps
from prefect.utilities.templating import apply_values

from tests.helpers import ROOT

pytestmark = pytest.mark.slow
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text())
VENV_BIN = str(Path(sys.executable).parent)  # dvc, as the workers have it


def sh(cwd: Path, *cmd: str) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_each_run_gets_the_deployed_commit_and_data_in_a_folder_of_its_own(tmp_path, monkeypatch):
    repo, remote = tmp_path / "repo", tmp_path / "dvc-remote"
    repo.mkdir()
    monkeypatch.setenv("PATH", f"{VENV_BIN}:{os.environ['PATH']}")
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "dvc", "init", "-q")
    (repo / "data.csv").write_text("x\n1\n")
    sh(repo, "dvc", "add", "-q", "data.csv")
    sh(repo, "dvc", "remote", "add", "--local", "mine", str(remote))  # not committed: clones know no remote
    sh(repo, "dvc", "push", "-q", "-r", "mine")
    (repo / "code.py").write_text("deployed = True\n")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "deployed")
    deployed = sh(repo, "git", "rev-parse", "HEAD")

    monkeypatch.chdir(repo)  # `prefect deploy` in the checkout: the build steps record commit and repository
    recorded = asyncio.run(run_steps(SPEC["build"], print_function=lambda *_: None))
    pull = apply_values(SPEC["pull"], recorded, remove_notset=False)  # as `prefect deploy` stores them
    (repo / "code.py").write_text("deployed = False\n")  # committed after deploying: runs must not see it
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "later")

    folders = []
    for run, shared_remote in (("run-1", str(remote)), ("run-2", None)):  # each run starts in a fresh folder
        if shared_remote:  # set on the worker
            monkeypatch.setenv("KEEL_DVC_REMOTE", shared_remote)
        else:
            monkeypatch.delenv("KEEL_DVC_REMOTE", raising=False)
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        out = asyncio.run(run_steps(pull, print_function=lambda *_: None))
        folder = (tmp_path / run / out["clone"]["directory"]).resolve()
        assert sh(folder, "git", "rev-parse", "HEAD") == deployed
        assert (folder / "code.py").read_text() == "deployed = True\n"
        # the data comes from the shared DVC remote (not from the checkout), when the worker names one
        assert (folder / "data.csv").read_text() == "x\n1\n" if shared_remote else not (folder / "data.csv").exists()
        folders.append(folder)
    assert folders[0] != folders[1] and not folders[0].is_relative_to(repo)


def test_only_deployments_that_share_a_folder_are_limited_to_one_run():
    by_name = {d["name"]: d for d in SPEC["deployments"]}
    shared = {n for n, d in by_name.items() if "pull" in d}  # their own pull: a shared working directory
    assert shared == {"nightly-batch-scoring", "hourly-monitoring"}  # the inference log lives in the checkout
    for name in (*shared, "promotion"):  # promotion: one gate at a time moves @production
        assert by_name[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert "set_working_directory" not in str(SPEC["pull"])
