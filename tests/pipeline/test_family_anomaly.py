"""anomaly through the real pipeline: `dvc exp run -S model=anomaly` scores at least IsolationForest on the
same split (ROC-AUC and PR-AUC), registers shuttle-anomaly@staging, and the pyfunc takes raw rows."""

import mlflow.pyfunc
import pandas as pd
import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family, promote, use_store

pytestmark = pytest.mark.slow
NAME = "shuttle-anomaly"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo_copy(tmp_path_factory.mktemp("keel_anomaly"))


@pytest.fixture(scope="module")
def metrics(repo):
    return exp_run_family(repo, "anomaly")


def test_autoencoder_at_least_matches_isolation_forest(metrics):
    assert metrics["n_test"] == 14730
    assert metrics["roc_auc"] >= metrics["iforest_roc_auc"], metrics
    assert metrics["pr_auc"] >= metrics["iforest_pr_auc"], metrics
    assert metrics["f1"] > 0.9  # the threshold picked on validation holds on test


def test_staged_pyfunc_scores_raw_rows(repo, metrics):
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "anomaly"
    assert float(mv.tags["metric.pr_auc"]) == pytest.approx(metrics["pr_auc"], rel=1e-5)
    use_store(repo)
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@staging")
    test = pd.read_parquet(repo / "data/features/test.parquet")
    rows = pd.concat([test[test.label == 0].head(200), test[test.label == 1].head(50)])
    out = model.predict(rows.drop(columns="label"))
    assert list(out.columns) == ["prediction", "score"]
    assert (out["prediction"].to_numpy() == rows["label"].to_numpy()).mean() > 0.9
    assert out["score"][rows.label.to_numpy() == 1].median() > 10 * out["score"][rows.label.to_numpy() == 0].median()


def test_first_production_version_through_the_gate(repo, metrics):
    promote(repo, "shuttle-anomaly")
