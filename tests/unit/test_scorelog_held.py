"""A batch run's inference log is held until its output is written: `keel predict` failing on a later chunk (or
on one part of a partitioned input) leaves none of its rows in the log, a rerun after the fix logs each row
once, and the held segments of a run killed before it wrote its output are deleted by `recover`, not
converted. A real model in a real MLflow registry (sqlite), real files; no mocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from components.config.monitor import InferenceLogConfig
from components.core.errors import DataValidationError
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.inference.scorelog import store
from components.inference.scorelog.held import HeldRun
from components.inference.scorelog.rows import RowSummarizer
from components.inference.scorelog.writer import InferenceLog, recover
from components.lifecycle import registry, tracking
from components.models.linear import LinearConfig
from components.serving import batch
from tests.helpers import write_params

COLS = ["a", "b", "c"]
NAME = "held-lin"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A registered linear model (production) and a params file whose suite bounds `a` to [-10, 10]."""
    from components.data.transforms.tabular import TabularTransform

    root = tmp_path_factory.mktemp("held")
    (root / "mlruns").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
        x = np.random.default_rng(0).normal(size=(200, 3))
        train = pd.DataFrame(x, columns=COLS).assign(label=x @ [1.0, -2.0, 0.5])
        transform = TabularTransform.fit(train, {"columns": COLS}, task="regression")
        torch.manual_seed(0)
        model = build_model("linear", LinearConfig(), transform, (3,))
        ckpt = save_checkpoint(root / "model.pt", model, "linear", LinearConfig(), transform, (3,))
        with tracking.start_run("held-test"):
            uri = registry.log_pyfunc(ckpt, pd.DataFrame(np.zeros((2, 3)), columns=COLS))
        registry.set_alias(NAME, "production", registry.register_version(uri, NAME, {}).version)
        params = write_params(root / "params.yaml", {
            "model": "linear", "validate.linear.columns": COLS, "validate.linear.ranges": {"a": [-10, 10]},
            "monitor.log.flush_s": 0.05})  # a converter that would run during the batch, were it not held
        yield root, params, ckpt, mp


def rows(n: int, bad_row: int | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(np.random.default_rng(1).uniform(-1, 1, (n, 3)), columns=COLS)
    if bad_row is not None:
        frame.loc[bad_row, "a"] = 99.0  # outside the suite's range
    return frame


def logged(log_dir) -> pd.DataFrame:
    return store.read_window(log_dir, NAME)[0] if store.part_files(log_dir, NAME) else pd.DataFrame()


def test_a_failed_batch_logs_nothing_and_its_rerun_logs_each_row_once(project, tmp_path):
    root, params, _, _ = project
    rows(60, bad_row=45).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataValidationError, match=r"rows 40\.\.59"):
        batch.run(NAME, tmp_path / "in.csv", tmp_path / "out.parquet", params, chunk_rows=20, log_dir=tmp_path / "log")
    assert not (tmp_path / "out.parquet").exists()
    assert logged(tmp_path / "log").empty  # chunks 0..39 were scored, none of them is in the log
    assert not list(store.wal_dir(tmp_path / "log", NAME).glob("*.arrows"))
    assert not list(store.held_dir(tmp_path / "log", NAME).iterdir())  # the held rows went with the run
    assert store.read_stats(tmp_path / "log", NAME).get("logged", 0) == 0

    rows(60).to_csv(tmp_path / "in.csv", index=False)  # fixed
    done = batch.run(NAME, tmp_path / "in.csv", tmp_path / "out.parquet", params, chunk_rows=20,
                     log_dir=tmp_path / "log")
    frame = logged(tmp_path / "log")
    assert done.rows == 60 and frame["request_id"].unique().tolist() == [done.request_id]
    assert sorted(frame["row"]) == list(range(60))  # each row once
    assert store.read_stats(tmp_path / "log", NAME)["flushed"] == 60


def test_a_partitioned_run_with_one_bad_part_logs_nothing(project, tmp_path):
    root, params, _, _ = project
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        rows(30, bad_row=10 if i == 2 else None).to_parquet(parts / f"p{i}.parquet", index=False)
    with pytest.raises(DataValidationError, match=r"p2\.parquet"):
        batch.run(NAME, parts, tmp_path / "out", params, log_dir=tmp_path / "log")
    assert not (tmp_path / "out").exists() and logged(tmp_path / "log").empty  # parts 0 and 1 were scored

    rows(30).to_parquet(parts / "p2.parquet", index=False)
    done = batch.run(NAME, parts, tmp_path / "out", params, log_dir=tmp_path / "log")
    frame = logged(tmp_path / "log")
    assert frame["request_id"].unique().tolist() == [done.request_id] and sorted(frame["row"]) == list(range(90))


def test_a_killed_runs_held_segments_are_deleted_not_converted(project, tmp_path):
    _, _, ckpt_path, _ = project
    ckpt = load_checkpoint(ckpt_path)
    cfg = InferenceLogConfig()
    summarizer = RowSummarizer(ckpt, cfg)
    run = HeldRun(tmp_path, NAME, "req-killed")  # the driver's lock, as `keel predict` takes it
    log = InferenceLog(tmp_path, NAME, "1", summarizer, cfg, "batch", hold="req-killed")
    log.record(rows(25), pd.DataFrame({"prediction": np.zeros(25)}), "req-killed")
    log.close()
    assert recover(tmp_path, NAME, lambda v: summarizer) == 0  # the run is alive: its rows are left alone
    assert (store.held_dir(tmp_path, NAME) / "req-killed").is_dir()
    run._lock.close()  # the process dies: its flock goes, the folder stays (no commit, no discard)
    assert recover(tmp_path, NAME, lambda v: summarizer) == 0
    assert logged(tmp_path).empty and not list(store.held_dir(tmp_path, NAME).iterdir())


def test_a_batch_run_reads_the_params_file_once(project, tmp_path, monkeypatch):
    """`keel predict` resolves the model's family params once (validation, monitor.log) and passes them down,
    to the held log, the log writer and each part's scorer."""
    from components.config import params as config

    _, params, _, _ = project
    reads, real = [], config.read_params_file
    monkeypatch.setattr(config, "read_params_file", lambda path, ov=None: reads.append(path) or real(path, ov))
    rows(30).to_csv(tmp_path / "in.csv", index=False)
    done = batch.run(NAME, tmp_path / "in.csv", tmp_path / "out.parquet", params, log_dir=tmp_path / "log")
    assert done.rows == 30 and reads == [params]
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        rows(10).to_parquet(parts / f"p{i}.parquet", index=False)
    reads.clear()
    assert batch.run(NAME, parts, tmp_path / "out", params, log_dir=tmp_path / "log").rows == 20
    assert reads == [params]


def test_a_gone_lock_is_told_from_a_held_one_and_an_empty_leftover_is_deleted_quietly(tmp_path, caplog):
    from components.inference.scorelog.held import discard_dead
    from components.inference.scorelog.locks import try_lock

    run = HeldRun(tmp_path, NAME, "req-live")
    assert try_lock(run.lock_path) is None  # held by the live run
    with pytest.raises(FileNotFoundError):
        try_lock(run.lock_path.with_name("req-gone.lock"))  # gone: another answer
    (store.held_dir(tmp_path, NAME) / "req-done").mkdir()  # a folder left without its lock, no rows in it
    with caplog.at_level("WARNING", logger="components.inference.scorelog.held"):
        assert discard_dead(tmp_path, NAME) == 0
    assert not caplog.records  # nothing was deleted: no "deleted 0 rows held by batch run" about it
    assert sorted(p.name for p in store.held_dir(tmp_path, NAME).iterdir()) == ["req-live", "req-live.lock"]
    run.release()


def test_a_new_batch_run_waits_out_a_probe_of_its_lock(tmp_path):
    """`discard_dead` probes a lock file for an instant: a run starting then waits, it does not fail."""
    import threading

    from components.inference.scorelog.locks import try_lock

    root = store.held_dir(tmp_path, NAME)
    root.mkdir(parents=True)
    (root / "req-new.lock").touch()
    probe = try_lock(root / "req-new.lock")
    threading.Timer(0.2, probe.close).start()
    run = HeldRun(tmp_path, NAME, "req-new")  # blocks until the probe lets go
    assert probe.closed and run.folder.is_dir()
    run.release()


def test_a_version_that_records_its_checks_loads_beside_a_params_file_that_does_not(project, tmp_path):
    """`keel explain` and `keel predict` check a version by the checks it recorded: a params file that does not
    load (another project's, a typo) fails only where a value of it is needed (the inference log's settings)."""
    from components.config.sections import section_schema
    from components.core.errors import ParamsError
    from components.serving.loaded import load

    _, _, ckpt, _ = project
    validation = section_schema("validate", "tabular").model_validate({"columns": COLS, "min_rows": 1})
    with tracking.start_run("held-checks"):
        uri = registry.log_pyfunc(ckpt, pd.DataFrame(np.zeros((2, 3)), columns=COLS),
                                  {"kind": "tabular", "validation": validation.model_dump(mode="json")})
    registry.set_alias("held-checks", "production", registry.register_version(uri, "held-checks", {}).version)
    other = tmp_path / "params.yaml"
    other.write_text("train:\n  lrr: 0.1\n")
    loaded = load("held-checks", "production", other)
    assert loaded.validation == validation  # the recorded checks, not the file's
    with pytest.raises(ParamsError, match="train.lrr: unknown key"):
        loaded.log  # noqa: B018 - the inference log's settings come from the file
    with pytest.raises(ParamsError, match="train.lrr: unknown key"):
        load(NAME, "production", other)  # a version without recorded checks needs the file's
