"""A registered model takes the inputs it was trained on: `validate.suite: inferred` records the model's own
columns as its scoring checks (not the family default's), and a text model trained with `ingest.text_column`
takes that column name at `keel predict` as well as `text`. Tiny real models in a real MLflow registry (sqlite),
scored by the real batch path; no mocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from components.config.sections import section_schema
from components.core.errors import DataValidationError
from components.data.transforms.tabular import TabularTransform
from components.data.transforms.text import TextTransform
from components.families.registry import get
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.lifecycle import registry, tracking
from components.models.linear import LinearConfig
from components.models.text_cnn import TextCnnConfig
from components.serving import batch
from components.stages.register import recorded_checks

COLS = ["body mass index", "blood pressure"]  # a user's columns, not diabetes' `bmi`, `bp`


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("as-trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        yield root


def _register(root, name, family, cfg, transform, shape, example, suite="params"):
    """Log and alias a version whose recorded checks are what register records for the family's defaults."""
    torch.manual_seed(0)
    ckpt_file = save_checkpoint(root / f"{name}.pt", build_model(family, cfg, transform, shape), family, cfg,
                                transform, shape)
    kind = get(family).kind
    validation = section_schema("validate", kind).model_validate(get(family).defaults["validate"] | {"suite": suite})
    with tracking.start_run(name):
        uri = registry.log_pyfunc(ckpt_file, example, recorded_checks(validation, load_checkpoint(ckpt_file)))
    registry.set_alias(name, "staging", registry.register_version(uri, name, {}).version)


def test_an_inferred_suite_model_is_checked_on_its_own_columns(store, tmp_path):
    x = np.random.default_rng(0).normal(size=(200, 2))
    train = pd.DataFrame(x, columns=COLS).assign(label=x @ [1.0, -2.0])
    transform = TabularTransform.fit(train, {}, task="regression")
    _register(store, "diab-linear", "linear", LinearConfig(), transform, (2,), train[COLS].head(5), "inferred")
    train.head(50).to_csv(tmp_path / "new.csv", index=False)
    done = batch.run("diab-linear", tmp_path / "new.csv", tmp_path / "out.parquet", tmp_path / "none.yaml",
                     alias="staging", log_dir=tmp_path / "log")
    assert done.rows == 50 and done.checks_passed > 0
    train.head(50).rename(columns={COLS[0]: "bmi"}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError, match="body mass index"):  # its own columns still checked
        batch.run("diab-linear", tmp_path / "bad.csv", tmp_path / "out2.parquet", tmp_path / "none.yaml",
                  alias="staging", log_dir=tmp_path / "log")


def test_a_text_model_takes_its_training_column_name(store, tmp_path):
    words = ["good", "bad", "fine", "awful", "great", "poor"]
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, 6)) for _ in range(40)]
    train = pd.DataFrame({"text": texts, "label": ["pos", "neg"] * 20})
    transform = TextTransform.fit(train, {"text_column": "review"})  # ingest.text_column=review, renamed on ingest
    assert transform.renames == {"review": "text"}
    cfg = TextCnnConfig(embedding_dim=8, filters=4, widths=[2], ngram_buckets=0)
    _register(store, "rv-text", "text_cnn", cfg, transform, (transform.max_len,), train[["text"]].head(3))
    for column in ("review", "text"):
        train.rename(columns={"text": column}).to_csv(tmp_path / f"{column}.csv", index=False)
        done = batch.run("rv-text", tmp_path / f"{column}.csv", tmp_path / f"{column}.parquet",
                         tmp_path / "none.yaml", alias="staging", log_dir=tmp_path / "log")
        assert done.rows == 40
    assert pd.read_parquet(tmp_path / "review.parquet").equals(pd.read_parquet(tmp_path / "text.parquet"))
