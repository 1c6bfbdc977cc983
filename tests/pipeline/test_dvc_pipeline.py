"""`dvc repro` end to end in a fresh git copy of the project, as a new user runs it (default params)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, dvc, exp_run_family, use_store

pytestmark = pytest.mark.slow


def versions(repo: Path) -> list[str]:
    return sorted(str(v.version) for v in client(repo).search_model_versions("name='digits-cnn'"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel"))
    done = dvc(repo, "repro")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return repo


def test_default_run_meets_the_bar_and_stages_the_model(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["accuracy"] >= 0.985
    mv = client(repo).get_model_version_by_alias("digits-cnn", "staging")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    raw_md5 = next(o["md5"] for o in lock["stages"]["ingest"]["outs"] if o["path"] == "data/raw")
    assert mv.tags["git_commit"] == head and mv.tags["git_dirty"] == "false"
    assert mv.tags["dvc_data_md5"] == raw_md5 and len(mv.tags["dvc_params_sha256"]) == 64
    assert mv.tags["gx_success"] == "true" and mv.tags["run_id"] == mv.run_id
    run = client(repo).get_run(mv.run_id)
    assert run.data.metrics["test_accuracy"] == metrics["accuracy"]
    assert "val_loss" in run.data.metrics and run.data.params["train.seed"] == "42"
    # issue 14: the version carries its explanation (both sanity checks pass) and a model card
    assert mv.tags["explain.randomisation_passes"] == "true" and mv.tags["explain.deletion_passes"] == "true"
    assert float(mv.tags["explain.completeness_error"]) <= 0.01 and mv.tags["explain.report"]
    assert mv.description.startswith("# Model card: digits-cnn v1")


def test_registered_model_predicts_from_raw_pixels(repo, digits_frame):
    import mlflow.pyfunc

    use_store(repo)
    model = mlflow.pyfunc.load_model("models:/digits-cnn@staging")
    out = model.predict(digits_frame.drop(columns="label").head(50))
    assert (out["prediction"].to_numpy() == digits_frame["label"].head(50).to_numpy()).mean() > 0.95
    assert np.allclose(out.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)


def test_editing_a_module_deep_in_train_marks_train_changed(repo):
    """The training loop is nowhere named by the train stage, yet it is in its code deps (its import closure)."""
    loop = repo / "components/training/loop.py"
    loop.write_text(loop.read_text() + "\n# a comment\n")
    try:
        changed = set(json.loads(dvc(repo, "status", "--json").stdout))
        assert "train" in changed and not changed & {"params", "ingest", "validate", "features"}
        dry = dvc(repo, "repro", "--dry").stdout
        assert "Running stage 'train'" in dry
        assert not any(f"Running stage '{s}'" in dry for s in ("params", "ingest", "validate", "features"))
    finally:  # the module-scoped repo is shared: leave it as it was
        subprocess.run(["git", "checkout", "--", "components/training/loop.py"], cwd=repo, check=True)
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}


def test_second_repro_does_nothing(repo):
    again = dvc(repo, "repro")
    assert again.returncode == 0
    assert "Data and pipelines are up to date" in again.stdout
    assert "Running stage" not in again.stdout
    assert versions(repo) == ["1"]


def test_push_pull_round_trip(repo):
    assert dvc(repo, "push").returncode == 0
    subprocess.run(["rm", "-rf", "data/raw", ".dvc/cache"], cwd=repo, check=True)
    pulled = dvc(repo, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert (repo / "data/raw/data.parquet").is_file()
    assert dvc(repo, "status").stdout.strip().endswith("Data and pipelines are up to date.")


def _bad_files(digits: pd.DataFrame, root: Path) -> dict[str, tuple[Path, str]]:
    d = digits.copy()
    src = root / "data/sources"
    out: dict[str, tuple[Path, str]] = {}

    def csv(name, frame, check):
        frame.to_csv(src / name, index=False)
        out[name] = (src / name, check)

    csv("no_label.csv", d.drop(columns="label"), "expect_column_to_exist(label)")
    csv("nan.csv", d.assign(px_9=d["px_9"].where(d.index != 3)), "expect_column_values_to_not_be_null(px_9)")
    csv("range.csv", d.assign(px_4=d["px_4"].where(d.index != 7, 40.0)), "expect_column_values_to_be_between(px_4)")
    csv("label.csv", d.assign(label=d["label"].where(d.index != 2, 12)), "expect_column_values_to_be_in_set(label)")
    text = d.assign(px_1=d["px_1"].astype(str).where(d.index != 5, "seven"))  # "n/a" would read as NaN
    csv("text.csv", text, "expect_column_values_to_be_in_type_list(px_1)")
    (src / "empty.csv").write_bytes(b"")
    out["empty.csv"] = (src / "empty.csv", "file is empty")
    d.to_parquet(src / "full.parquet", index=False)
    blob = (src / "full.parquet").read_bytes()
    (src / "cut.parquet").write_bytes(blob[: len(blob) // 2])
    (src / "full.parquet").unlink()
    out["cut.parquet"] = (src / "cut.parquet", "not a readable Parquet file")
    return out


BAD = ["no_label.csv", "nan.csv", "range.csv", "label.csv", "text.csv", "empty.csv", "cut.parquet"]


@pytest.mark.parametrize("name", BAD)
def test_bad_data_stops_the_pipeline_naming_the_check(repo, digits_frame, name):
    path, check = _bad_files(digits_frame, repo)[name]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    original = (repo / "params.yaml").read_text()
    params["ingest"]["source"] = str(path.relative_to(repo))
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        done = dvc(repo, "repro")
    finally:
        (repo / "params.yaml").write_text(original)
    assert done.returncode != 0
    assert check in done.stderr, done.stderr[-2000:]
    assert versions(repo) == ["1"]  # nothing registered, no alias moved
    assert client(repo).get_model_version_by_alias("digits-cnn", "staging").version in ("1", 1)


def test_exp_run_with_a_param_override(repo):
    """`dvc exp run -S train.privacy.enabled=true` (issue 14) registers a version tagged with the epsilon it spent."""
    original = (repo / "params.yaml").read_text()
    try:  # the exp's params stay in the workspace: later tests must not train privately
        done = dvc(repo, "exp", "run", "-S", "train.lr=0.003", "-S", "train.epochs=3", "-S",
                   "train.privacy.enabled=true")
    finally:
        (repo / "params.yaml").write_text(original)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = dvc(repo, "exp", "show", "--no-pager", "--csv")
    assert "0.003" in shown.stdout
    assert versions(repo) == ["1", "2"]
    tags = client(repo).get_model_version("digits-cnn", "2").tags
    assert 0 < float(tags["privacy.epsilon"]) <= 8.0 and float(tags["privacy.delta"]) == 1e-5
    assert tags["privacy.accountant"] == "rdp" and int(tags["privacy.steps"]) > 0
    # the version names its experiment (git_commit is the baseline: DVC commits the experiment after its stages)
    assert tags["dvc_exp_name"] in shown.stdout and tags["dvc_exp_baseline"] == tags["git_commit"]
    run = client(repo).get_run(tags["run_id"]).data.tags
    assert run["keel.dvc_exp_name"] == tags["dvc_exp_name"] and "prefect_flow_run_id" not in tags


def test_exp_run_switches_family_to_linear_regression(repo):
    metrics = exp_run_family(repo, "linear")
    assert abs(metrics["r2"] - metrics["ols_r2"]) <= 0.01 and metrics["ols_r2"] > 0.45
    mv = client(repo).get_model_version_by_alias("diabetes-linear", "staging")
    assert mv.tags["family"] == "linear" and mv.tags["dataset"] == "diabetes"
    assert (repo / "reports/plots/residuals.png").is_file()
