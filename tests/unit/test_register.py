from pathlib import Path

import pytest

from components.config.sections import RegisterConfig
from components.core.errors import RegistryError
from components.stages.register import check_thresholds, dvc_lock_hashes

METRICS = {"accuracy": 0.98, "macro_f1": 0.97, "loss": 0.08, "per_class": {}}


def test_thresholds_pass_and_fail_with_reasons():
    assert check_thresholds(METRICS, RegisterConfig(min={"accuracy": 0.97})) == []
    reasons = check_thresholds(METRICS, RegisterConfig(min={"accuracy": 0.99}, max={"loss": 0.05}))
    assert reasons == ["accuracy 0.9800 < minimum 0.99", "loss 0.0800 > maximum 0.05"]
    assert check_thresholds(METRICS, RegisterConfig(min={"accuracy": 0.98})) == []  # bound is inclusive


def test_unknown_metric_is_an_error_naming_it():
    with pytest.raises(RegistryError, match="no metric acuracy.*have: accuracy, macro_f1, loss"):
        check_thresholds(METRICS, RegisterConfig(min={"acuracy": 0.9}), "reports/metrics.json")


def test_dvc_lock_hashes():
    lock = {"stages": {
        "ingest": {"params": {"params.yaml": {"ingest": {"source": "x"}}},
                   "outs": [{"path": "data/raw", "md5": "abc.dir"}]},
        "train": {"params": {"params.yaml": {"train.lr": 0.1}}, "outs": [{"path": "models/train", "md5": "d"}]},
    }}
    h = dvc_lock_hashes(lock, Path("data/raw"))
    assert h["dvc_data_md5"] == "abc.dir"
    changed = {"stages": lock["stages"] | {"train": {"params": {"params.yaml": {"train.lr": 0.2}}}}}
    assert dvc_lock_hashes(changed, Path("data/raw"))["dvc_params_sha256"] != \
        h["dvc_params_sha256"]
    assert dvc_lock_hashes({}, Path("data/raw")) == {}
