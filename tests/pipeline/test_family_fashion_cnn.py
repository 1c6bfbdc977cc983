"""`dvc exp run -S model=fashion_cnn` in a fresh git copy: the cnn architecture on Fashion-MNIST's official
60k/10k split (IDX files from the Debian package dataset-fashion-mnist) meets issue 15's bar (test accuracy 0.935:
the VGG-style net with a one-cycle schedule, 10 epochs),
is registered as fashion-mnist-cnn@staging and predicts from raw 0-255 pixel rows.

Long: one full training run on 54k images (see README, "fashion_cnn", for its time)."""

from pathlib import Path

import numpy as np
import pytest

from components.core.io import read_json
from components.data import idx
from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store

FASHION = Path("/usr/share/datasets/fashion-mnist")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.quality,  # all 54k images (~10 min on 2 cores, estimated): `make test-quality`, not `make test`
    pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(),
                       reason=f"Fashion-MNIST not installed ({FASHION}); `make install` as root installs the Debian "
                              "package dataset-fashion-mnist, or: apt-get install dataset-fashion-mnist"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-fashion"))
    return repo, exp_run_family(repo, "fashion_cnn")


def test_fashion_cnn_meets_the_bar_on_the_official_test_set(run):
    repo, metrics = run
    assert metrics["accuracy"] >= 0.935, metrics
    assert metrics["n_test"] == 10000
    split = read_json(repo / "data/features/split.json")
    assert split["predefined"] and split["sizes"] == {"train": 54000, "val": 6000, "test": 10000}
    assert split["dataset"] == "fashion-mnist"
    mv = client(repo).get_model_version_by_alias("fashion-mnist-cnn", "staging")
    assert mv.tags["family"] == "fashion_cnn" and mv.tags["gx_success"] == "true"


def test_registered_model_predicts_from_raw_idx_rows(run):
    import mlflow.pyfunc

    repo, metrics = run
    use_store(repo)
    model = mlflow.pyfunc.load_model("models:/fashion-mnist-cnn@staging")
    test = idx.read(f"{FASHION}/t10k-images-idx3-ubyte.gz,{FASHION}/t10k-labels-idx1-ubyte.gz").head(500)
    out = model.predict(test.drop(columns="label").astype("float64"))  # raw 0-255 pixels
    assert (out["prediction"].to_numpy() == test["label"].to_numpy()).mean() > 0.85
    assert np.allclose(out.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)


def test_first_production_version_through_the_gate(run):
    promote(run[0], "fashion-mnist-cnn")
