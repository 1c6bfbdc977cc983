"""The image families added with issue 4: rnn (digits row by row) and fashion_cnn (the cnn architecture on
Fashion-MNIST), and the predefined split that an IDX source carries."""

import numpy as np
import pandas as pd
import pytest

from components.config.sections import FeaturesConfig
from components.core.errors import ParamsError, StageInputError
from components.data import split as splitting
from components.data.transforms.image import ImageTransform
from components.families.registry import get
from components.inference.checkpoint import build_model
from components.models.cnn import CnnConfig, ConvNet
from components.models.rnn import RnnConfig, RowRnn
from tests.helpers import params_with


def test_families_resolve_to_their_architecture_and_registered_name():
    rnn, fashion = params_with({"model": "rnn"}), params_with({"model": "fashion_cnn"})
    assert isinstance(rnn.arch, RnnConfig) and rnn.arch.cell == "gru" and rnn.kind == "image"
    assert rnn.registered_name("digits") == "digits-rnn"
    assert isinstance(fashion.arch, CnnConfig) and get("fashion_cnn").architecture == "cnn"
    assert fashion.registered_name("fashion-mnist") == "fashion-mnist-cnn"
    assert fashion.ingest.source.startswith("idx:") and fashion.validation.pixel_max == 255
    assert params_with({"model": "fashion_cnn", "register.model_name": "mine"}).registered_name("x") == "mine"
    t = ImageTransform(columns=[f"px_{i}" for i in range(784)], height=28, width=28, mean=0, std=1,
                       classes=list(range(10)))
    assert isinstance(build_model("fashion_cnn", fashion.arch, t, (1, 28, 28)), ConvNet)
    assert isinstance(build_model("rnn", rnn.arch, t, (1, 28, 28)), RowRnn)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_rnn_cell_is_a_param(cell):
    assert params_with({"model": "rnn", "train.rnn.cell": cell}).arch.cell == cell


def test_unknown_rnn_cell_fails_naming_the_key():
    with pytest.raises(ParamsError, match=r"train\.rnn\.cell"):
        params_with({"train.rnn.cell": "transformer"})


def _with_split(n_train=200, n_test=50):
    rng = np.random.default_rng(0)
    n = n_train + n_test
    df = pd.DataFrame(rng.integers(0, 255, (n, 4)), columns=[f"px_{i}" for i in range(4)])
    df["label"] = np.arange(n) % 4
    df["split"] = ["train"] * n_train + ["test"] * n_test
    df["row"] = np.arange(n)  # to trace rows (an extra column does not matter to split)
    return df


def test_predefined_split_is_honoured():
    df = _with_split()
    parts = splitting.split(df, FeaturesConfig(val_size=0.1, test_size=0.3))
    assert {k: len(v) for k, v in parts.items()} == {"train": 180, "val": 20, "test": 50}
    assert parts["test"]["row"].tolist() == list(range(200, 250))  # exactly the source's test rows
    assert set(parts["train"]["row"]) | set(parts["val"]["row"]) == set(range(200))
    assert all("split" not in p.columns for p in parts.values())
    assert parts["val"]["label"].value_counts().tolist() == [5, 5, 5, 5]  # stratified
    again = splitting.split(df, FeaturesConfig(val_size=0.1))
    assert all(parts[k].equals(again[k]) for k in parts)
    no_val = splitting.split(df, FeaturesConfig(val_size=0.0))
    assert len(no_val["train"]) == 200 and len(no_val["val"]) == 0


@pytest.mark.parametrize("values,match", [(["train"] * 250, "0 test rows"), (["train"] * 249 + ["dev"], "dev")])
def test_predefined_split_errors(values, match):
    with pytest.raises(StageInputError, match=match):
        splitting.split(_with_split().assign(split=values), FeaturesConfig())
