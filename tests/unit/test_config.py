
import pytest
from pydantic import ValidationError

from components.config import Params, load_params, parse_params
from components.errors import ParamsError
from tests.helpers import ROOT, write_params


def test_repo_params_load_and_match_defaults():
    params = load_params(ROOT / "params.yaml")
    assert params.model == "cnn"
    assert params.ingest.source == "sklearn:digits"
    assert params.registration.min == {"accuracy": 0.97}
    assert params.registered_name("digits") == "digits-cnn"


def test_unknown_key_is_named(tmp_path):
    path = write_params(tmp_path / "p.yaml", {"train": {"lrr": 0.1}})
    with pytest.raises(ParamsError) as e:
        load_params(path)
    assert "train.lrr: unknown key" in str(e.value)
    assert str(path) in str(e.value)


def test_every_bad_key_is_named_at_once():
    with pytest.raises(ParamsError) as e:
        parse_params({"train": {"lr": "fast", "optimizer": "adamw"}, "ingest": {"sorce": "x"}})
    msg = str(e.value)
    assert "train.lr" in msg and "'fast'" in msg
    assert "train.optimizer" in msg and "adamw" in msg
    assert "ingest.sorce: unknown key" in msg


def test_cross_field_rules():
    with pytest.raises(ParamsError, match="pixel_min"):
        parse_params({"validate": {"pixel_min": 5, "pixel_max": 1}})
    with pytest.raises(ParamsError, match="val_size"):
        parse_params({"features": {"val_size": 0.5, "test_size": 0.45}})


def test_overrides_are_typed_and_validated(tmp_path):
    path = write_params(tmp_path / "p.yaml", {})
    assert load_params(path, {"train.lr": 0.003}).train.lr == 0.003
    with pytest.raises(ParamsError, match="train.epochs"):
        load_params(path, {"train.epochs": -1})


def test_missing_or_malformed_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_sections_are_frozen_and_digest_tracks_values():
    p = Params()
    with pytest.raises(ValidationError, match="frozen"):
        p.train.lr = 1.0  # type: ignore[misc]
    assert p.digest() == Params().digest()
    assert p.digest() != parse_params({"train": {"lr": 0.01}}).digest()


def test_yaml_keys_round_trip():
    d = Params().to_dict()
    assert {"validate", "register"} <= d.keys()
    assert parse_params(d) == Params()
