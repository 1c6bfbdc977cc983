"""Partitioned Parquet sources streamed through ingest, validate (per part, merged), features (out-of-core
statistics) and training (an IterableDataset), on a small dataset built in code."""

import numpy as np
import pandas as pd
import pytest
import torch

from components.core import paths
from components.core.errors import DataValidationError
from components.core.io import read_json
from components.data import artifacts, streaming
from components.data.transforms.tabular import TabularTransform
from components.stages import features, ingest, train, validate
from tests.helpers import params_with

COLS = ["a", "b", "c", "d"]


def _write_source(root, parts=3, rows=1500, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir()
    for i in range(parts):
        x = rng.normal(size=(rows, 4)) * [1, 2, 3, 4] + [0, 1, 2, 3]
        df = pd.DataFrame(x, columns=COLS)
        df["target"] = x @ [1.0, -2.0, 0.5, 0.25] + rng.normal(scale=0.1, size=rows)
        df.to_parquet(root / f"shard-{i}.parquet", index=False)
    return root


def _params(src, **extra):
    return params_with({"model": "linear", "ingest.linear.source": str(src), "ingest.label_column": "target",
                        "validate.linear.columns": COLS, "validate.linear.ranges": {"a": [-10, 10]},
                        "validate.linear.label_range": [-100, 100], "features.linear.val_size": 0.15,
                        "features.linear.test_size": 0.15, "train.linear.epochs": 40, "train.linear.patience": 40,
                        "train.progress": False} | extra)


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "PART_ROWS", 1000)  # several parts from a small source
    return _write_source(tmp_path / "src")


def test_partitioned_source_streams_through_every_stage(tmp_path, source, mlflow_store):
    params = _params(source)
    got = ingest.run(params.ingest, tmp_path / "raw", params.kind)
    manifest = read_json(tmp_path / "raw" / paths.MANIFEST_FILE)
    assert got.rows == 4500 and manifest["layout"] == "partitioned" and len(manifest["parts"]) == 5
    report = validate.run(params.validation, tmp_path / "raw", tmp_path / "val")
    assert report.success and report.rows == 4500
    assert all(read_json(tmp_path / "val" / "partitions.json").values())
    res = features.run(params.features, tmp_path / "raw", tmp_path / "val", tmp_path / "feat", params.task)
    assert sum(res.sizes.values()) == 4500 and 0.6 < res.sizes["train"] / 4500 < 0.8
    fitted = TabularTransform.model_validate(read_json(tmp_path / "feat" / paths.TRANSFORM_FILE))
    in_memory = TabularTransform.fit(artifacts.load_split(tmp_path / "feat", "train"), {}, "regression")
    assert np.allclose(fitted.mean, in_memory.mean) and np.allclose(fitted.std, in_memory.std)
    assert fitted.target_mean == pytest.approx(in_memory.target_mean)

    stream = streaming.ParquetStream(tmp_path / "feat" / "train", fitted)
    g = torch.Generator().manual_seed(0)
    epochs = [torch.cat([y for _, y in stream.iter_batches(64, g)]) for _ in range(2)]
    assert len(stream) == res.sizes["train"] == len(epochs[0])
    assert torch.equal(epochs[0].sort().values, epochs[1].sort().values) and not torch.equal(*epochs)

    result = train.run(params, tmp_path / "feat", tmp_path / "model")
    history = read_json(tmp_path / "model" / paths.HISTORY_FILE)
    assert history["epochs"][-1]["val_loss"] < 0.2 * history["epochs"][0]["val_loss"]
    assert result.metrics["train_samples_per_s"] > 0


def test_a_bad_partition_is_named_in_the_merged_report(tmp_path, source):
    bad = pd.read_parquet(source / "shard-1.parquet")
    bad.loc[[3, 7], "a"] = 50.0  # out of validate.linear.ranges.a
    bad.to_parquet(source / "shard-1.parquet", index=False)
    params = _params(source)
    ingest.run(params.ingest, tmp_path / "raw", params.kind)
    with pytest.raises(DataValidationError) as e:
        validate.run(params.validation, tmp_path / "raw", tmp_path / "val")
    assert "part-00001.parquet: expect_column_values_to_be_between(a): 2 unexpected" in str(e.value)
    assert not read_json(tmp_path / "val" / paths.VALIDATION_FILE)["success"]
