"""`dvc exp run -S model=rnn` in a fresh git copy: digits read row by row by a GRU meets the bar (0.97),
is registered as digits-rnn@staging and predicts from raw pixel rows."""

import numpy as np
import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-rnn"))
    return repo, exp_run_family(repo, "rnn")


def test_rnn_meets_the_bar_and_is_staged(run):
    repo, metrics = run
    assert metrics["accuracy"] >= 0.97 and metrics["macro_f1"] >= 0.97
    assert metrics["n_test"] == 270  # the same stratified 70/15/15 split as cnn
    mv = client(repo).get_model_version_by_alias("digits-rnn", "staging")
    assert mv.tags["family"] == "rnn" and mv.tags["gate.absolute"] == "pass"
    params = client(repo).get_run(mv.run_id).data.params
    assert params["train.rnn.cell"] == "gru" and params["train.lr"] == "0.003"


def test_registered_rnn_predicts_from_raw_pixels(run, digits_frame):
    import mlflow.pyfunc

    repo, _ = run
    use_store(repo)
    model = mlflow.pyfunc.load_model("models:/digits-rnn@staging")
    out = model.predict(digits_frame.drop(columns="label").head(100))  # raw 0-16 pixels, no scaling by the caller
    assert (out["prediction"].to_numpy() == digits_frame["label"].head(100).to_numpy()).mean() > 0.95
    assert np.allclose(out.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)


def test_first_production_version_through_the_gate(run):
    promote(run[0], "digits-rnn")
