"""The partitioned data stages and `keel predict` on a real 2-worker Dask cluster (worker processes on
127.0.0.1) give what the single-process path gives: same parts, same split of every row, statistics within
1e-9 relative, same predictions, the same metadata in every output part."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from components.core import paths
from components.core.errors import DataValidationError
from components.core.io import read_json, sha256_paths
from components.data import cluster, streaming
from components.inference.checkpoint import build_model, save_checkpoint
from components.inference.scorelog import store
from components.lifecycle import registry, tracking
from components.models.linear import LinearConfig
from components.serving import batch
from components.stages import features, ingest, validate
from tests.helpers import params_with, write_params

pytestmark = pytest.mark.slow
COLS = ["a", "b", "c"]


def _source(root, files=3, rows=700):
    rng = np.random.default_rng(0)
    for i in range(files):
        folder = root / f"zone={i % 2}"  # hive partition folders: `zone` becomes a column
        folder.mkdir(parents=True, exist_ok=True)
        x = rng.normal(size=(rows, 3)) * [1, 2, 3]
        df = pd.DataFrame(x, columns=COLS).assign(target=x @ [1.0, -2.0, 0.5])
        df.to_parquet(folder / f"shard-{i}.parquet", index=False, row_group_size=300)
    return root


def _stages(params, out):
    ingest.run(params.ingest, out / "raw", params.kind)
    validate.run(params.validation, out / "raw", out / "val")
    res = features.run(params.features, out / "raw", out / "val", out / "feat", params.task)
    return res, read_json(out / "feat" / paths.TRANSFORM_FILE)


def _register(transform_json, tmp_path):
    from components.data.transforms.tabular import TabularTransform

    transform = TabularTransform.model_validate(transform_json)
    torch.manual_seed(0)
    shape = (len(transform.columns),)
    model = build_model("linear", LinearConfig(), transform, shape)
    ckpt = save_checkpoint(tmp_path / "model.pt", model, "linear", LinearConfig(), transform, shape)
    with tracking.start_run("dask-test"):
        uri = registry.log_pyfunc(ckpt, pd.DataFrame(np.zeros((2, 3)), columns=COLS).assign(zone=np.int32(0)))
    registry.set_alias("dask-lin", "production", registry.register_version(uri, "dask-lin", {}).version)


def test_engine_from_the_environment(monkeypatch):
    monkeypatch.delenv(cluster.ADDRESS_ENV, raising=False)
    monkeypatch.delenv(cluster.ENGINE_ENV, raising=False)
    assert not cluster.use_dask()
    monkeypatch.setenv(cluster.ADDRESS_ENV, "tcp://10.0.0.1:8786")
    assert cluster.use_dask()
    monkeypatch.setenv(cluster.ENGINE_ENV, "pyarrow")  # an explicit engine wins over the address
    assert not cluster.use_dask()
    monkeypatch.setenv(cluster.ENGINE_ENV, "spark")
    with pytest.raises(ValueError, match="KEEL_DATA_ENGINE"):
        cluster.use_dask()


def test_data_stages_and_predict_on_two_workers_equal_the_single_process_path(tmp_path, monkeypatch, mlflow_store):
    from distributed import Client, LocalCluster

    monkeypatch.setattr(streaming, "PART_ROWS", 500)  # 2100 rows -> 5 parts cut across source files (planned here)
    monkeypatch.delenv(cluster.ENGINE_ENV, raising=False)
    monkeypatch.delenv(cluster.ADDRESS_ENV, raising=False)
    src = _source(tmp_path / "src")
    overrides = {"model": "linear", "ingest.linear.source": str(src), "ingest.label_column": "target",
                 "validate.linear.columns": [*COLS, "zone"], "validate.linear.ranges": {"a": [-10, 10]},
                 "validate.linear.label_range": [-100, 100],
                 "features.linear.val_size": 0.2, "features.linear.test_size": 0.2}
    params, params_file = params_with(overrides), write_params(tmp_path / "params.yaml", overrides)
    one, one_t = _stages(params, tmp_path / "one")
    _register(one_t, tmp_path)
    scored = tmp_path / "input"
    scored.mkdir()
    for i in range(3):
        x = np.random.default_rng(i).normal(size=(400, 3))
        pd.DataFrame(x, columns=COLS).assign(zone=np.int32(i % 2)).to_parquet(scored / f"in-{i}.parquet", index=False)
    log_dir = tmp_path / "log"
    p_one = batch.run("dask-lin", scored, tmp_path / "one" / "pred", params_file, log_dir=log_dir)
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.read_parquet(scored / "in-0.parquet").to_parquet(bad / "a.parquet")
    pd.read_parquet(scored / "in-1.parquet").drop(columns="zone").to_parquet(bad / "b.parquet")
    with pytest.raises(DataValidationError, match=r"b\.parquet rows 0\.\.399"):
        batch.run("dask-lin", bad, tmp_path / "bad-pred", params_file, log_dir=log_dir)
    assert not (tmp_path / "bad-pred").exists()  # nothing half-written

    # an existing cluster whose workers run this checkout (batch.run above put the model's code snapshot first
    # on sys.path, which spawned workers would inherit: keel_first, as the embedded cluster does)
    with cluster.keel_first(), LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                            dashboard_address=None) as lc, Client(lc) as c:
        monkeypatch.setenv(cluster.ADDRESS_ENV, lc.scheduler_address)
        two, two_t = _stages(params, tmp_path / "two")
        p_two = batch.run("dask-lin", scored, tmp_path / "two" / "pred", params_file, log_dir=log_dir)
        loaded = c.run(lambda: (os.getpid(), sorted(__import__("components.serving.batch").serving.batch._MODELS)))
    assert os.getpid() not in {pid for pid, _ in loaded.values()}
    assert any(models == [p_two.model_uri] for _, models in loaded.values())  # scored on a worker, model loaded there

    raw = [read_json(tmp_path / d / "raw" / paths.MANIFEST_FILE) for d in ("one", "two")]
    assert raw[0]["parts"] == raw[1]["parts"] and len(raw[0]["parts"]) == 5 and raw[0]["sha256"] == raw[1]["sha256"]
    assert "zone" in raw[0]["columns"]  # the hive partition key became a column
    assert one.sizes == two.sizes and one.sha256 == two.sha256  # every row drew the same split
    # the digests folded from the files' hashes taken by the tasks are sha256_paths of what was written
    assert raw[1]["sha256"] == sha256_paths([tmp_path / "two" / "raw" / streaming.PARTS_DIR])
    assert raw[0]["source_sha256"] == raw[1]["source_sha256"] == sha256_paths([src])
    assert two.sha256 == {n: sha256_paths([tmp_path / "two" / "feat" / n]) for n in paths.SPLITS}
    assert p_one.input_sha256 == p_two.input_sha256 == sha256_paths([scored])
    for key in ("mean", "std", "target_mean", "target_std"):
        assert np.allclose(one_t[key], two_t[key], rtol=1e-9, atol=0)
    a, b = (pd.concat([pd.read_parquet(f) for f in sorted((tmp_path / d / "pred").glob("*.parquet"))])
            for d in ("one", "two"))
    assert len(a) == p_one.rows == p_two.rows == 1200 and a.equals(b)
    metas = [batch.read_metadata(f) for f in sorted((tmp_path / "two" / "pred").glob("*.parquet"))]
    assert len(metas) == 3 and all(m == metas[0] for m in metas) and metas[0]["input_sha256"] == p_one.input_sha256
    assert metas[0]["version"] == p_two.version == "1"
    # the workers' held log rows joined the log once each output was written; the failed run's did not
    logged = store.read_window(log_dir, "dask-lin")[0].groupby("request_id")["row"]
    assert logged.nunique().to_dict() == logged.count().to_dict() == {p_one.request_id: 1200, p_two.request_id: 1200}


def test_embedded_local_cluster_runs_the_parts_in_worker_processes(monkeypatch, tmp_path):
    monkeypatch.delenv(cluster.ADDRESS_ENV, raising=False)
    monkeypatch.setenv(cluster.ENGINE_ENV, "dask")
    monkeypatch.setenv(cluster.WORKERS_ENV, "1")
    got = cluster.map_parts(divmod, [(7, 2), (9, 4), (1, 1)])
    assert got == [(3, 1), (2, 1), (1, 0)]
    # a model's code snapshot first on sys.path (as loading a registered model leaves it): a bare `components`
    # package without this module; the workers still import this checkout's Keel
    (tmp_path / "components" / "data").mkdir(parents=True)
    for init in ("components/__init__.py", "components/data/__init__.py"):
        (tmp_path / init).write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cluster.map_parts(cluster.use_dask, [()]) == [True]  # components.data.cluster imported on the worker
    pids = cluster.map_parts(os.getpid.__call__, [()])
    assert pids[0] != os.getpid()


def test_a_worker_keeps_one_validator_and_drops_the_last_frame_it_held(tmp_path):
    """GX contexts are reference cycles holding the last frame they validated: one per part would pile up
    until a full collection. A worker keeps one Validator for all its parts; a new suite replaces it."""
    import gc

    from great_expectations.data_context import AbstractDataContext

    from components.config.sections import TabularValidateConfig

    files = []
    for i in range(3):
        files.append(tmp_path / f"part-{i:05d}.parquet")
        pd.DataFrame(np.random.default_rng(i).normal(size=(234, 3)), columns=COLS).assign(
            label=np.float64(i)).to_parquet(files[-1], index=False)
    manifest = {"kind": "tabular", "columns": [*COLS, "label"], "dataset": "t"}
    cfg = TabularValidateConfig(columns=COLS, min_rows=1)

    def alive() -> tuple[int, int]:  # GX contexts, and frames of a part, reachable or not
        objects = gc.get_objects()
        return (sum(isinstance(o, AbstractDataContext) for o in objects),
                sum(isinstance(o, pd.DataFrame) and len(o) == 234 for o in objects))

    assert streaming.validate_part(cfg, manifest, files[0]).success  # this thread's Validator, holding a frame
    gc.collect()
    before = alive()
    gc.disable()  # as between Python's rare full collections
    try:
        assert all(streaming.validate_part(cfg, manifest, f).success for f in files)
        assert alive() == before  # the same context, holding only the last part's frame
        other = cfg.model_copy(update={"min_rows": 2})
        assert streaming.validate_part(other, manifest, files[1]).success
        assert alive() == before  # a new suite's context; the previous one collected with its frame
    finally:
        gc.enable()
