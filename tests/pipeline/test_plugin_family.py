"""A family from another installed package (examples/keel-wine, entry point `keel.families`) runs through
`dvc exp run -S model=mlp` in a fresh git copy with no edit to Keel's files: it ingests the data set the
plugin brings, validates it, trains, evaluates, registers `wine-mlp` @staging, and the registered pyfunc
predicts raw rows."""

import warnings

import pytest

from components.lifecycle.pyfunc import KeelCodeWarning
from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-plugin"))
    return repo, exp_run_family(repo, "mlp")


def test_plugin_family_trains_evaluates_and_registers(run):
    repo, metrics = run
    assert metrics["accuracy"] >= 0.9 and metrics["n_test"] == 27  # wine: 178 rows, stratified 70/15/15
    mv = client(repo).get_model_version_by_alias("wine-mlp", "staging")
    assert mv.tags["family"] == "mlp" and mv.tags["data_source"] == "sklearn:wine"
    assert client(repo).get_run(mv.run_id).data.params["train.mlp.hidden"] == "[32]"
    promote(repo, "wine-mlp")  # the gate and the ledger need nothing family-specific


def test_registered_plugin_model_predicts_raw_rows(run):
    import mlflow.pyfunc
    from keel_wine.family import read_wine

    repo, _ = run
    use_store(repo)
    wine = read_wine()
    with warnings.catch_warnings():  # the same plugin code as packaged: no KeelCodeWarning
        warnings.simplefilter("error", KeelCodeWarning)
        out = mlflow.pyfunc.load_model("models:/wine-mlp@staging").predict(wine.drop(columns="label"))
    assert (out["prediction"].to_numpy() == wine["label"].to_numpy()).mean() > 0.9
