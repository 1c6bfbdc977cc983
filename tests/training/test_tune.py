"""`keel tune`: a tiny real study (digits CNN, 2 epochs) in a git + DVC copy of this repo: child runs under one
parent, a pruned trial, the proposal (params.yaml untouched, its `dvc exp run -S` line applies through DVC's own
parser), resumption, and each trial a DVC experiment that `dvc exp show` lists with the params it trained with
and its dvclive metrics, the user's HEAD, branch, index and files left as they were."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess

import optuna
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from components.config.params import load_params
from components.core import paths
from components.core.errors import ParamsError
from components.tuning import experiments
from components.tuning.tune import storage_url, tune
from flows.cli import app
from tests.helpers import ROOT, make_repo_copy
from tests.pipeline.dvc_helpers import dvc

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com"}


class OddTrialsPruned(optuna.pruners.BasePruner):
    """Prunes odd-numbered trials at their first report, so a pruned trial is certain and the others complete."""

    def prune(self, study, trial) -> bool:
        return trial.number % 2 == 1


def children(client, parent):
    exp = client.get_run(parent).info.experiment_id
    return client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **IDENTITY}, capture_output=True, text=True,
                          check=True).stdout


def user_state(repo):
    """What the user sees: branch, HEAD, staged and unstaged changes, status, refs other than experiments."""
    refs = [r for r in git(repo, "for-each-ref", "--format=%(refname)").split() if not r.startswith("refs/exps/")]
    return (git(repo, "symbolic-ref", "HEAD"), git(repo, "rev-parse", "HEAD").strip(), git(repo, "diff", "--cached"),
            git(repo, "diff"), git(repo, "status", "--porcelain", "--untracked-files=all"), refs)


@pytest.fixture
def project(workspace, tmp_path):
    """A git + DVC copy of this repo whose committed params.yaml is the tiny one, its split already prepared,
    and a user's work in progress: a staged edit, an unstaged edit, an untracked file."""
    _, params_file, features = workspace
    repo = make_repo_copy(tmp_path / "repo")
    shutil.copy(params_file, repo / "params.yaml")
    git(repo, "commit", "-qam", "tiny params")
    data = features.parents[1]  # .keel/tune/data-<key>
    shutil.copytree(data, repo / paths.TUNE_STATE_DIR / data.name)
    (repo / "README.md").write_text("staged edit\n")
    git(repo, "add", "README.md")
    (repo / "Makefile").write_text("unstaged edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    return repo


def test_tune_nests_prunes_proposes_resumes_and_saves_experiments(project, mlflow_store, tmp_path):
    params_file, before = project / "params.yaml", user_state(project)
    fixed = {"train.epochs": 2, "train.patience": 3, "train.cnn.lr": 0.5}  # lr: tuned, so no fixed value
    first = tune(params_file, "cnn", 2, fixed, root=project, pruner=OddTrialsPruned())
    assert first.trials == {"complete": 1, "pruned": 1} and first.best_trial == 0
    assert first.experiments == ["tune-cnn-t0", "tune-cnn-t1"] and user_state(project) == before
    check_trial_tree(project)
    client = MlflowClient(mlflow_store)
    runs = {int(r.data.tags["keel.tune.trial"]): r for r in children(client, first.parent_run_id)}
    assert sorted(runs) == [0, 1]
    epochs = {n: len(client.get_metric_history(r.info.run_id, "val_loss")) for n, r in runs.items()}
    assert epochs == {0: 2, 1: 1} and runs[1].data.tags["keel.tune.pruned_at_epoch"] == "1"  # stopped there
    assert float(runs[0].data.params["train.lr"]) == first.best["lr"]  # the child trained with its trial's values
    assert runs[0].data.metrics["best_val_loss"] == first.best_val_loss

    doc = yaml.safe_load(first.proposal.read_text())
    assert doc["params"] == {f"train.cnn.{k}": v for k, v in first.best.items()} and doc["apply"] == first.command
    assert doc["dvc_best_exp"] == "tune-cnn-t0" and doc["fixed"] == {"train.epochs": 2, "train.patience": 3}
    from dvc.utils.hydra import apply_overrides  # the printed line, through DVC's own `-S` parser

    applied = shutil.copy(params_file, tmp_path / "params.yaml")
    apply_overrides(applied, shlex.split(first.command)[4::2])
    p = load_params(applied)
    assert p.model == "cnn" and p.train.lr == first.best["lr"] and p.train.batch_size == first.best["batch_size"]
    assert p.train.patience == 3  # the fixed -S values the study trained with travel with the proposal
    assert p.arch.dropout == first.best["dropout"] and p.arch.hidden == first.best["hidden"]

    refs = git(project, "for-each-ref", "refs/exps/")
    again = tune(params_file, "cnn", 1, fixed, root=project, pruner=OddTrialsPruned())
    assert again.trials == {"complete": 2, "pruned": 1} and again.parent_run_id == first.parent_run_id
    assert sorted(int(r.data.tags["keel.tune.trial"]) for r in children(client, first.parent_run_id)) == [0, 1, 2]
    assert again.experiments == ["tune-cnn-t2"] and user_state(project) == before
    assert refs in git(project, "for-each-ref", "refs/exps/")  # the first two experiments: the same commits
    check_exp_show(project, before[1], yaml.safe_load(params_file.read_text())["train"]["cnn"])


def check_trial_tree(repo):
    """A trial's commit holds the code it ran, as `dvc exp run` records it: tracked files with their working-tree
    content (the staged and the unstaged edit), untracked files left out."""
    ref = next(r for r in git(repo, "for-each-ref", "--format=%(refname)", "refs/exps/").split()
               if r.endswith("/tune-cnn-t0"))
    assert git(repo, "show", f"{ref}:README.md") == "staged edit\n"
    assert git(repo, "show", f"{ref}:Makefile") == "unstaged edit\n"
    assert "notes.txt" not in git(repo, "ls-tree", "--name-only", ref).split()


def check_exp_show(repo, baseline, block):
    """`dvc exp show --json` lists one row per trial, with its params and its dvclive metrics."""
    shown = dvc(repo, "exp", "show", "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    row = next(r for r in json.loads(shown.stdout) if r["rev"] == baseline)
    rows = {r["name"]: r["data"] for e in row["experiments"] for r in e["revs"]}
    assert sorted(rows) == ["tune-cnn-t0", "tune-cnn-t1", "tune-cnn-t2"]
    study = optuna.load_study(study_name="cnn", storage=storage_url(repo))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    for t in study.trials:
        data = rows[f"tune-cnn-t{t.number}"]
        params = data["params"]["params.yaml"]["data"]
        assert params["model"] == "cnn" and params["train"]["epochs"] == 2
        assert params["train"]["cnn"] == block | {"fp32_reference": False} | t.user_attrs["values"]  # trained with
        live = data["metrics"][f"{paths.LIVE_DIR}/{paths.METRICS_FILE}"]["data"]
        pruned = t.state == optuna.trial.TrialState.PRUNED
        assert live["tune"]["trial"] == t.number and live["tune"]["pruned"] == int(pruned)
        assert live["step"] == (1 if pruned else 2) and live["val_loss"] > 0  # the per-epoch figures, via dvclive
        assert pruned or live["tune"]["best_val_loss"] == t.value


def test_no_experiments_outside_git_dvc_or_before_the_first_commit(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="components.tuning.experiments")
    project = tmp_path / "proj"  # a DVC project in a sub-folder of the git repository
    project.mkdir()
    assert experiments.open_target(project) is None  # no .dvc/
    (project / ".dvc").mkdir()
    assert experiments.open_target(project) is None  # not in git
    git(tmp_path, "init", "-q")
    assert experiments.open_target(project) is None  # no commit
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3 and "not a DVC project" in said[0] and "not in a git repository" in said[1]
    assert "has no commit yet" in said[2] and all("MLflow runs only" in s for s in said)
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    target = experiments.open_target(project)
    assert target is not None and target.prefix == "proj/"
    with pytest.raises(ParamsError, match="not a valid git ref name"):
        experiments.exp_ref(target, experiments.trial_name("cnn", "my study", 0))


def test_a_trial_commit_without_a_git_identity_in_a_sub_folder_project(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    (tmp_path / "proj" / ".dvc").mkdir(parents=True)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))  # no user.name / user.email anywhere
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k in IDENTITY:
        monkeypatch.delenv(k, raising=False)
    target = experiments.open_target(tmp_path / "proj")
    live = tmp_path / "live"
    (live / paths.LIVE_METRICS).mkdir(parents=True)
    (live / paths.METRICS_FILE).write_text('{"step": 1, "val_loss": 0.5}')
    (live / paths.LIVE_METRICS / "val_loss.tsv").write_text("step\tval_loss\n1\t0.5\n")
    (tmp_path / "p.yaml").write_text("model: cnn\n")
    sha = experiments.save_trial(target, "tune-cnn-t0", "trial 0", tmp_path / "p.yaml", ["++train.cnn.lr=0.01"],
                                 live, {"trial": 0, "pruned": 0})
    ref = f"refs/exps/{target.baseline[:2]}/{target.baseline[2:]}/tune-cnn-t0"
    assert git(tmp_path, "rev-parse", ref).strip() == sha and "keel tune" in git(tmp_path, "log", "-1", sha)
    assert json.loads(git(tmp_path, "show", f"{sha}:proj/{paths.LIVE_DIR}/{paths.METRICS_FILE}"))["tune"]["trial"] == 0
    assert yaml.safe_load(git(tmp_path, "show", f"{sha}:proj/params.yaml")) == {"model": "cnn",
                                                                                 "train": {"cnn": {"lr": 0.01}}}
    assert git(tmp_path, "show", "--name-only", "--format=", sha).split() == [
        "proj/params.yaml", f"proj/{paths.LIVE_DIR}/{paths.METRICS_FILE}",
        f"proj/{paths.LIVE_DIR}/{paths.LIVE_METRICS}/val_loss.tsv"]
    assert git(tmp_path, "status", "--porcelain") == "?? live/\n?? p.yaml\n"  # nothing staged, HEAD as it was


def test_tune_refuses_a_family_without_a_space_and_a_missing_val_split():
    runner = CliRunner()
    out = runner.invoke(app, ["tune", "forecasting", "--trials", "1", "-p", str(ROOT / "params.yaml")])
    assert out.exit_code == 1 and "declares no search space" in out.output
    out = runner.invoke(app, ["tune", "cnn", "-p", str(ROOT / "params.yaml"), "-S", "features.cnn.val_size=0"])
    assert out.exit_code == 1 and "tuning needs a validation split" in out.output
