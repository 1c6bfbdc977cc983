"""The issue's done-when checks on a fresh copy after `dvc repro` (what `make run` does), driving the
`keel` CLI as a user does: promote the first staging version, refuse a weaker one with a reasoned
report, override with a reason, roll back, read the history, score a file from @production."""

import json
import subprocess
from pathlib import Path

import mlflow.pyfunc
import pytest

from tests.helpers import make_repo_copy, venv_env
from tests.pipeline.dvc_helpers import client, dvc, use_store

pytestmark = pytest.mark.slow
WEAK = ("train.epochs=1", "train.lr=0.00001", "+register.cnn.min={accuracy: 0.05}")  # weak, still staged


def keel(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["keel", *args], cwd=repo, env=venv_env(KEEL_USER="ci"), capture_output=True, text=True,
                          timeout=600)


def production(repo: Path) -> str:
    return str(client(repo).get_model_version_by_alias("digits-cnn", "production").version)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-lifecycle"))
    done = dvc(repo, "repro")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return repo


def test_done_when_promote_refuse_force_rollback_history_predict(repo, digits_frame):
    first = keel(repo, "promote", "digits-cnn")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert production(repo) == "1"
    use_store(repo)
    model = mlflow.pyfunc.load_model("models:/digits-cnn@production")
    raw = digits_frame.drop(columns="label").head(50)  # raw 8x8 pixels, 0..16
    assert (model.predict(raw)["prediction"].to_numpy() == digits_frame["label"].head(50).to_numpy()).mean() > 0.95

    sets = [a for kv in WEAK for a in ("-S", kv)]
    done = dvc(repo, "exp", "run", *sets)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert str(client(repo).get_model_version_by_alias("digits-cnn", "staging").version) == "2"
    refused = keel(repo, "promote", "digits-cnn")
    assert refused.returncode == 1 and production(repo) == "1"
    report = json.loads((repo / "reports/promote/digits-cnn-v2.json").read_text())
    assert report["metric"] == "accuracy" and report["candidate_value"] < report["baseline_value"]
    for needle in ("| metric | accuracy", f"v1: {report['baseline_value']:.6g}", f"v2: {report['candidate_value']:.6g}",
                   "worse: accuracy candidate v2"):
        assert needle in refused.stdout, needle

    assert keel(repo, "promote", "digits-cnn", "--version", "2", "--force").returncode == 1  # no reason: refused
    forced = keel(repo, "promote", "digits-cnn", "--version", "2", "--force", "--reason", "drill")
    assert forced.returncode == 0 and production(repo) == "2"
    back = keel(repo, "rollback", "digits-cnn")
    assert back.returncode == 0 and production(repo) == "1"
    history = keel(repo, "history", "digits-cnn", "--json")
    moves = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(m["action"], m["from_version"], m["to_version"], m["alias"], m["source"]) for m in moves] == [
        ("stage", None, "1", "staging", "register"), ("promote", None, "1", "production", "ledger"),
        ("stage", "1", "2", "staging", "register"), ("force", "1", "2", "production", "ledger"),
        ("rollback", "2", "1", "production", "ledger")]  # register's @staging moves (by dvc) and the ledger's
    assert {m["user"] for m in moves if m["source"] == "ledger"} == {"ci"}

    digits_frame.drop(columns="label").to_csv(repo / "score.csv", index=False)
    scored = keel(repo, "predict", "digits-cnn", "score.csv", "predictions.parquet")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert json.loads(scored.stdout)["version"] == "1" and (repo / "predictions.parquet").is_file()
