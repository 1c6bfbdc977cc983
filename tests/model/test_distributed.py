"""DDP on CPU: 2 gloo processes through torchrun train the digits CNN into the same accuracy band as 1."""

import pytest
import torch
from mlflow import MlflowClient

from components.core import paths
from components.stages import features, ingest, train, validate
from components.training import distributed, launcher
from tests.helpers import params_with


def test_shards_cover_every_index_once_per_epoch():
    shards = [distributed.shard_order(10, distributed.Dist(rank=r, world_size=2), seed=0, epoch=3) for r in (0, 1)]
    assert [len(s) for s in shards] == [5, 5]
    assert sorted(torch.cat(shards).tolist()) == list(range(10))
    again = distributed.shard_order(10, distributed.Dist(rank=0, world_size=2), seed=0, epoch=4)
    assert again.tolist() != shards[0].tolist()  # reshuffled each epoch


def test_torchrun_command_is_standalone_unless_rendezvous_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("PET_NNODES", raising=False)
    monkeypatch.delenv("PET_RDZV_ENDPOINT", raising=False)
    cmd = launcher.torchrun_command(2, tmp_path / "job.pkl")
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--nproc-per-node=2"] and "--standalone" in cmd
    monkeypatch.setenv("PET_NNODES", "2")
    monkeypatch.setenv("PET_RDZV_ENDPOINT", "node0:29400")
    assert "--standalone" not in launcher.torchrun_command(2, tmp_path / "job.pkl")  # torchrun reads PET_*


@pytest.mark.slow
def test_two_processes_reach_the_band_of_one(tmp_path, mlflow_store):
    overrides = {"validate.min_rows": 50, "train.epochs": 10, "train.patience": 10, "train.batch_size": 64,
                 "train.progress": False, "train.cnn.channels": [8, 16], "train.cnn.hidden": 32,
                 "train.cnn.dropout": 0.0}
    params = params_with(overrides)
    ingest.run(params.ingest, tmp_path / "raw", params.kind)
    validate.run(params.validation, tmp_path / "raw", tmp_path / "validation")
    features.run(params.features, tmp_path / "raw", tmp_path / "validation", tmp_path / "features", params.task)
    one = train.run(params, tmp_path / "features", tmp_path / "m1")
    two = train.run(params_with(overrides | {"train.nproc": 2}), tmp_path / "features", tmp_path / "m2")
    assert one.metrics["best_val_accuracy"] >= 0.9
    assert abs(two.metrics["best_val_accuracy"] - one.metrics["best_val_accuracy"]) <= 0.03
    assert two.metrics["epochs_run"] == 10 and (tmp_path / "m2" / paths.CHECKPOINT_FILE).is_file()
    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("digits-cnn").experiment_id])
    assert sorted(r.data.tags["keel.nproc"] for r in runs) == ["1", "2"]  # rank 1 logged no run of its own
    ddp = next(r for r in runs if r.data.tags["keel.nproc"] == "2")
    assert ddp.info.run_id == two.run_id and ddp.info.status == "FINISHED"
    assert len(client.get_metric_history(two.run_id, "val_loss")) == 10  # one value per epoch, not per rank
