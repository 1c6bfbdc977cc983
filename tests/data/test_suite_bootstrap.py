"""`validate.suite: inferred` with no suites/<dataset>.json (components/data/suite_bootstrap.py): the validate
stage infers it from the train split the features stage makes (same rows), validates with it and shows it in its
Data Docs; the next data version is checked against that file, not re-inferred; `infer_missing: false` refuses.
The file under DVC: `dvc add`, then `dvc status` sees an edit of it."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from components.config import views
from components.config.monitor import SuiteInferConfig
from components.config.params import load_params
from components.config.sections import FeaturesConfig, IngestConfig, TabularValidateConfig
from components.core import paths
from components.core.errors import DataValidationError, StageInputError
from components.core.io import read_json, write_json
from components.data.split import split
from components.data.suite_file import dumps
from components.data.suite_infer import infer_suite
from components.stages import features, ingest, validate
from tests.helpers import ROOT, venv_env

CFG = TabularValidateConfig(columns=["age", "bmi"], labels=[0, 1], min_rows=50, suite="inferred")
SPLIT = FeaturesConfig(seed=7)


def _version(tmp_path, name: str, seed: int, bmi_scale: float = 1.0):
    """One data version: a CSV source ingested into `<tmp>/<name>` (raw dir)."""
    rng = np.random.default_rng(seed)
    n = 600
    df = pd.DataFrame({"age": rng.normal(50, 10, n).round(), "bmi": rng.gamma(9, 3, n) * bmi_scale,
                       "label": rng.integers(0, 2, n)})
    src = tmp_path / "source.csv"
    df.to_csv(src, index=False)
    ingest.run(IngestConfig(source=str(src)), tmp_path / name, kind="tabular")
    return tmp_path / name


def _run(raw, out, suites, cfg=CFG):
    return validate.run(cfg, raw, out, task="classification", val_size=SPLIT.val_size, test_size=SPLIT.test_size,
                        suites_dir=suites, features=SPLIT, infer=SuiteInferConfig())


def test_missing_suite_is_inferred_from_the_train_split_then_kept(tmp_path):
    suites = tmp_path / "suites"
    raw = _version(tmp_path, "raw1", seed=0)
    report = _run(raw, tmp_path / "val1", suites)
    dataset = read_json(raw / paths.MANIFEST_FILE)["dataset"]
    written = suites / f"{dataset}.json"
    train = split(pd.read_parquet(raw / paths.RAW_FILE), SPLIT)["train"]  # what features will train on
    assert written.read_text() == dumps(infer_suite(train, "tabular", SuiteInferConfig(), dataset).suite)
    assert report.success and report.evaluated >= 10
    assert "checked against itself" in read_json(tmp_path / "val1" / paths.VALIDATION_FILE)["warnings"][0]
    pages = "".join(p.read_text() for p in (tmp_path / "val1/data_docs").rglob("expectations/**/*.html"))
    assert "inferred by keel suite infer" in pages  # validate's Data Docs show the inferred expectations

    before = written.read_text()
    shifted = _version(tmp_path, "raw2", seed=1, bmi_scale=3.0)  # a later data version, bmi three times larger
    with pytest.raises(DataValidationError) as e:
        _run(shifted, tmp_path / "val2", suites)
    assert "bmi" in str(e.value) and "age" not in str(e.value)
    assert written.read_text() == before  # checked against the first version's suite, not re-inferred
    assert read_json(tmp_path / "val2" / paths.VALIDATION_FILE)["warnings"] == []  # a suite it did not make

    with pytest.raises(StageInputError, match="no inferred suite"):
        _run(raw, tmp_path / "val3", tmp_path / "empty", CFG.model_copy(update={"infer_missing": False}))


def test_a_messy_csv_fails_naming_its_non_numeric_columns(tmp_path):
    """An ID column and a numeric column with units: no suite is inferred from them (it would pass them), and
    features, reached with such data, names the file, the split and the column instead of a float() traceback."""
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"id": [f"P{i:04d}" for i in range(n)], "age": rng.normal(50, 10, n).round(),
                       "size": [f"{v:.1f}" + "mm" * (i % 7 == 0) for i, v in enumerate(rng.gamma(9, 3, n))],
                       "label": rng.integers(0, 2, n)})
    df.loc[3, "age"] = np.nan
    df.to_csv(tmp_path / "messy.csv", index=False)
    raw = tmp_path / "raw"
    ingest.run(IngestConfig(source=str(tmp_path / "messy.csv")), raw, kind="tabular")
    with pytest.raises(StageInputError, match=r"not numeric.*'id' \(.*'P0000'.*'size' \(.*\d+\.\dmm'"):
        _run(raw, tmp_path / "val", tmp_path / "suites")
    assert not list((tmp_path / "suites").glob("*.json"))
    (tmp_path / "val").mkdir()  # as if validate had passed this data (a hand-written suite that allowed strings)
    write_json(tmp_path / "val" / paths.VALIDATION_FILE,
               {"success": True, "data_sha256": read_json(raw / paths.MANIFEST_FILE)["sha256"]})
    with pytest.raises(StageInputError, match=r"data\.parquet \(.*messy\.csv\), train split: .*'id'.*'size'"):
        features.run(SPLIT, raw, tmp_path / "val", tmp_path / "feat", "classification")


def test_validate_reads_the_split_settings_only_when_it_may_infer():
    default = views.view("validate", load_params(ROOT / "params.yaml"))
    assert "features" not in default and "infer" not in default  # suite: params: no re-run for a split change
    inferred = views.view("validate", load_params(ROOT / "params.yaml", {"validate.suite": "inferred"}))
    assert inferred["features"]["val_size"] == default["val_size"]
    assert set(inferred["infer"]) >= {"range_margin", "min_batch_rows"}


def test_dvc_add_tracks_the_suite(tmp_path):
    """The documented flow: `dvc add suites/<dataset>.json suites/<dataset>.derived.json` keeps the suite in DVC
    (its .dvc file in git, the JSON in the cache); an edit shows in `dvc status`."""
    def sh(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=tmp_path, env=venv_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        sh(*cmd)
    suite = infer_suite(pd.DataFrame({"x": np.arange(200.0), "label": [0, 1] * 100}), "tabular",
                        SuiteInferConfig(), "tab")
    path, side = suite.write(tmp_path / "suites/tab.json")
    sh("dvc", "add", "suites/tab.json", "suites/tab.derived.json")
    assert {"/tab.json", "/tab.derived.json"} <= set((tmp_path / "suites/.gitignore").read_text().split())
    assert "md5" in (tmp_path / "suites/tab.json.dvc").read_text()
    edited = json.loads(path.read_text())
    edited["expectations"] = edited["expectations"][1:]  # a reviewer drops an expectation
    path.write_text(dumps(edited))
    assert "modified" in sh("dvc", "status", "suites/tab.json.dvc")
