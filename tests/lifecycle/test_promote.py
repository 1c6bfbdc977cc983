"""`keel promote / history / rollback` on real registry versions of digits-cnn, as a user runs them:
first promotion, a weaker candidate refused with a reasoned report, a better one promoted, an audited
override, rollback, and the ledger in order."""

import json
import shutil
import subprocess
import sys

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from components.config.params import load_params
from components.core import paths
from components.core.errors import TrackingUnavailableError
from components.core.io import sha256_file
from components.lifecycle import registry
from components.stages import register
from flows.cli import app
from tests.helpers import make_repo_copy
from tests.lifecycle.pipeline import register_version
from tests.pipeline.dvc_helpers import use_store

pytestmark = pytest.mark.slow
runner = CliRunner()
WEAK = {"train.epochs": 1, "train.lr": 1.0e-5, "register.cnn.min": {"accuracy": 0.05}}  # still reaches staging


def keel(*args: str):
    return runner.invoke(app, list(args))


def production(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias("digits-cnn", "production").version)


def store(project) -> MlflowClient:
    """A client on the project's store; also points mlflow's globals there (earlier tests may have moved them)."""
    return use_store(project)

def promote_from_another_checkout(project) -> str:
    """`keel promote digits-cnn` in a fresh copy of the code (as a clone on another machine has it: no data/,
    no reports/) that reaches the same registry: the gate fetches v1's registered split and checks its hash."""
    other = make_repo_copy(project.parent / f"{project.name}-other")
    shutil.rmtree(other / "data")
    shutil.copy(project / "params.yaml", other / "params.yaml")  # the commit that trained: the same params
    done = subprocess.run([sys.executable, "-m", "flows.cli", "promote", "digits-cnn"], cwd=other, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tags = MlflowClient().get_model_version("digits-cnn", "1").tags
    report = json.loads((other / "reports/promote/digits-cnn-v1.json").read_text())
    assert report["split_sha256"] == tags["split_sha256"] == sha256_file(project / "data/features/test.parquet")
    assert report["n_rows"] == len(pd.read_parquet(project / "data/features/test.parquet"))
    assert not (other / "data").exists() and not (project / "reports/promote").exists()
    run = MlflowClient().get_run(MlflowClient().get_model_version("digits-cnn", "1").run_id)
    logged = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}  # the split as a dataset input
    assert tags["split_sha256"].startswith(logged["digits-cnn-test"])
    return done.stdout + done.stderr



def test_promote_refuse_override_rollback_history(project, digits_frame):
    client = store(project)
    assert register_version(project).staged  # v1, tiny CNN, 4 epochs
    first = promote_from_another_checkout(project)
    assert "no production version yet" in first and production(client) == "1"
    model = mlflow.pyfunc.load_model("models:/digits-cnn@production")
    raw = digits_frame.drop(columns="label").head(100).astype(float)  # raw 8x8 pixels, 0..16
    assert (model.predict(raw)["prediction"].to_numpy() == digits_frame["label"].head(100).to_numpy()).mean() > 0.8

    weak = register_version(project, WEAK)  # v2 reaches @staging but is far worse
    assert weak.staged and weak.version == "2"
    refused = keel("promote", "digits-cnn")
    assert refused.exit_code == 1
    report = json.loads((project / "reports/promote/digits-cnn-v2.json").read_text())
    assert report["verdict"] == "refuse" and report["metric"] == "accuracy" and report["champion_version"] == "1"
    assert report["candidate_value"] < report["baseline_value"] and report["delta"] < 0
    assert any(r.startswith("worse: accuracy candidate v2") for r in report["reasons"])
    assert "stays off @production" in refused.output and production(client) == "1"
    tags = client.get_model_version("digits-cnn", "2").tags
    assert tags["gate.verdict"] == "refuse" and tags["gate.baseline"] == f"{report['baseline_value']:.6g}"
    stored = tags["gate.report"]
    assert json.loads(mlflow.artifacts.load_text(f"{stored}/digits-cnn-v2.json"))["verdict"] == "refuse"

    no_reason = keel("promote", "digits-cnn", "--version", "2", "--force")
    assert no_reason.exit_code == 1 and "--force needs --reason" in no_reason.output and production(client) == "1"

    assert register_version(project, {"train.epochs": 12}).version == "3"  # clearly better
    strict = load_params(project / "params.yaml", {"register.cnn.min": {"accuracy": 1.01}})  # out of reach
    missed = register.run(strict.registration, paths.MODEL_DIR, paths.FEATURES_DIR, paths.RAW_DIR,
                          paths.VALIDATION_DIR, paths.REPORTS_DIR, paths.REGISTER_DIR)
    assert missed.version == "4" and not missed.staged  # v3's model, registered again under bars it misses
    unstaged = keel("promote", "digits-cnn", "--version", "4")  # it beats v1, but missed its registration bars
    assert unstaged.exit_code == 1 and "v4 missed its registration bars" in unstaged.output, unstaged.output
    assert "< minimum 1.01" in unstaged.output and production(client) == "1"
    better = keel("promote", "digits-cnn", "--version", "3")
    assert better.exit_code == 0, better.output
    assert "better: accuracy candidate v3" in better.output and production(client) == "3"

    forced = keel("promote", "digits-cnn", "--version", "2", "--force", "--reason", "incident 42: pin v2")
    assert forced.exit_code == 0, forced.output
    assert production(client) == "2"
    assert client.get_model_version("digits-cnn", "2").tags["gate.verdict"] == "forced"

    back = keel("rollback", "digits-cnn")
    assert back.exit_code == 0, back.output
    assert production(client) == "3"
    history = keel("history", "digits-cnn", "--json")
    everything = [json.loads(line) for line in history.output.splitlines()]
    assert [(m["from_version"], m["to_version"]) for m in everything if m["source"] == "register"] == [
        (None, "1"), ("1", "2"), ("2", "3")]  # register's @staging moves (v4 missed its bars: none)
    moves = [m for m in everything if m["source"] == "ledger"]
    assert [(m["action"], m["from_version"], m["to_version"]) for m in moves] == [
        ("promote", None, "1"), ("promote", "1", "3"), ("force", "3", "2"), ("rollback", "2", "3")]
    assert moves[2]["reason"] == "incident 42: pin v2" and {m["user"] for m in moves} == {"tester"}
    assert moves[1]["gate_report"]["p_value"] < 0.05 and np.isfinite(moves[1]["gate_report"]["ci_low"])
    table = keel("history", "digits-cnn").output
    prod = "\n".join(line for line in table.splitlines() if " production " in line)
    assert prod.index("v1 -> v3") < prod.index("v3 -> v2") < prod.index("v2 -> v3")
    assert " staging " in table.split(" production ")[0]  # register's first @staging move precedes them


def test_register_again_reuses_the_version_it_created(project, monkeypatch):
    client = store(project)
    count = len(client.search_model_versions("name='digits-cnn'"))
    client.delete_registered_model_alias("digits-cnn", "staging")
    p = load_params(project / "params.yaml")
    again = (p.registration, paths.MODEL_DIR, paths.FEATURES_DIR, paths.RAW_DIR, paths.VALIDATION_DIR,
             paths.REPORTS_DIR, paths.REGISTER_DIR)

    def unreachable(*args, **kwargs):  # the version exists; the alias step meets an outage
        raise TrackingUnavailableError("cannot reach the MLflow tracking server")

    monkeypatch.setattr(registry, "set_alias", unreachable)
    with pytest.raises(TrackingUnavailableError):
        register.run(*again)
    monkeypatch.undo()
    result = register.run(*again)  # the retry: same run, params and checkpoint
    assert result.version == "3" and result.staged and len(client.search_model_versions("name='digits-cnn'")) == count
    assert str(client.get_model_version_by_alias("digits-cnn", "staging").version) == "3"
    assert json.loads((project / paths.REGISTER_DIR / "registration.json").read_text())["version"] == "3"


def test_gate_scores_the_split_registered_with_the_version(project, tmp_path):
    client = store(project)
    tags = client.get_model_version("digits-cnn", "1").tags
    assert tags["split_uri"].startswith("runs:/") and tags["keel.registration_key"]
    elsewhere = tmp_path / "elsewhere"  # another machine: its features folder holds some other split
    elsewhere.mkdir()
    full = pd.read_parquet(project / "data/features/test.parquet")
    full.head(50).to_parquet(elsewhere / "test.parquet")
    keel("promote", "digits-cnn", "--version", "1", "--features", str(elsewhere))  # v1 vs v3: its verdict is moot
    report = json.loads((project / "reports/promote/digits-cnn-v1.json").read_text())
    assert report["split_sha256"] == tags["split_sha256"] and report["n_rows"] == len(full)

    client.delete_model_version_tag("digits-cnn", "1", "split_uri")  # as a version registered before splits travelled
    out = keel("promote", "digits-cnn", "--version", "1", "--features", str(elsewhere))
    assert out.exit_code == 1 and "is not the test split of digits-cnn v1" in out.output
    client.set_model_version_tag("digits-cnn", "1", "split_uri", tags["split_uri"])


def test_predict_scores_a_file_with_production_and_refuses_bad_input(project, digits_frame, tmp_path):
    rows = digits_frame.drop(columns="label").astype(int)  # integer pixels, as a CSV export has them
    rows.to_csv(tmp_path / "in.csv", index=False)
    out = keel("predict", "digits-cnn", str(tmp_path / "in.csv"), str(tmp_path / "pred.parquet"),
               "--chunk-rows", "700")
    assert out.exit_code == 0, out.output
    from components.serving.batch import read_metadata

    meta = read_metadata(tmp_path / "pred.parquet")
    assert meta["model"] == "digits-cnn" and meta["version"] == "3"  # the version holding @production
    assert meta["input_sha256"] == sha256_file(tmp_path / "in.csv")
    pred = pd.read_parquet(tmp_path / "pred.parquet")
    assert len(pred) == len(rows) and json.loads(out.output)["chunks"] == 3
    assert (pred["prediction"].to_numpy() == digits_frame["label"].to_numpy()).mean() > 0.9

    bad = rows.copy()
    bad.loc[1500, "px_20"] = 99  # in the last chunk: nothing may be written
    bad.to_csv(tmp_path / "bad.csv", index=False)
    refused = keel("predict", "digits-cnn", str(tmp_path / "bad.csv"), str(tmp_path / "bad.parquet"),
                   "--chunk-rows", "700")
    assert refused.exit_code == 1
    # batch checks pixels on a column profile: the failing check names the column and what is wrong with it
    said = "expect_column_values_to_be_between(pixel_max): 1 unexpected value(s), e.g. ['px_20: highest value 99.0']"
    assert said in refused.output
    assert "rows 1400..1796" in refused.output and not (tmp_path / "bad.parquet").exists()

    whole = keel("predict", "digits-cnn", str(tmp_path / "in.csv"), str(tmp_path / "whole.parquet"))
    assert whole.exit_code == 0 and json.loads(whole.output)["chunks"] == 1  # default: ~64 MiB of values
    missing = keel("predict", "digits-cnn", str(tmp_path / "none.csv"), str(tmp_path / "none.parquet"))
    assert missing.exit_code == 1 and "none.csv: input file not found" in missing.output
    rows.head(50).to_csv(tmp_path / "few.csv", index=False)
    v1 = keel("predict", "digits-cnn", str(tmp_path / "few.csv"), str(tmp_path / "v1.parquet"), "--version", "1")
    assert v1.exit_code == 0, v1.output  # a version scored by its number, whatever aliases it holds
    assert {k: read_metadata(tmp_path / "v1.parquet")[k] for k in ("version", "alias")} == {"version": "1",
                                                                                         "alias": "v1"}


def test_lineage_names_sources_gate_and_moves(project):
    out = keel("lineage", "digits-cnn", "3", "--json")
    assert out.exit_code == 0, out.output
    lin = json.loads(out.output)
    assert lin["aliases"] and "production" in lin["aliases"]
    assert lin["source"]["gx_success"] == "true" and len(lin["source"]["split_sha256"]) == 64
    assert lin["source"]["run_id"] and len(lin["source"]["data_sha256"]) == 64 and lin["source"]["git_commit"]
    assert lin["gate"]["gate.verdict"] == "promote" and lin["gate_report"]["champion_version"] == "1"
    assert [(m["action"], m["to_version"]) for m in lin["ledger"]] == [("promote", "3"), ("force", "2"),
                                                                      ("rollback", "3")]
    text = keel("lineage", "digits-cnn", "3").output
    assert "git_commit" in text and "gate.p_value" in text and "rollback @production v2 -> v3" in text
