import pytest
from pydantic import ValidationError

from components.config import FAMILIES, FAMILY_INFO, load_params, parse_params, read_params_file
from components.errors import ParamsError
from tests.helpers import ROOT, params_with, write_params


def test_repo_params_load_for_every_family():
    for family in FAMILIES:
        p = load_params(ROOT / "params.yaml", {"model": family})
        assert (p.model, p.kind, p.task) == (family, *FAMILY_INFO[family][:2])
        assert isinstance(p.arch, FAMILY_INFO[family].arch)
    default = load_params(ROOT / "params.yaml")
    assert default.model == "cnn" and default.ingest.source == "sklearn:digits"
    assert default.registration.min == {"accuracy": 0.97}
    assert default.registered_name("digits") == "digits-cnn"


def test_family_blocks_override_shared_keys():
    linear = params_with({"model": "linear"})
    assert linear.ingest.source == "sklearn:diabetes" and linear.ingest.label_column == "label"
    assert linear.train.lr == 0.01 and linear.train.seed == 42  # overridden / inherited
    assert linear.features.val_size == 0.0 and linear.validation.min_rows == 200
    assert params_with({"train.lr": 0.5}).train.lr == 0.5  # shared key
    assert params_with({"model": "linear", "train.lr": 0.5}).train.lr == 0.01  # the block still wins


def test_unknown_keys_are_named_with_their_block(tmp_path):
    path = write_params(tmp_path / "p.yaml",
                        {"train.lrr": 0.1, "train.cnn.chanels": [1], "validate.linear.pixel_max": 3})
    with pytest.raises(ParamsError) as e:
        load_params(path)
    msg = str(e.value)
    assert "train.lrr: unknown key" in msg and "train.cnn.chanels: unknown key" in msg
    assert "validate.linear.pixel_max: unknown key for a tabular family" in msg
    assert str(path) in msg


def test_a_shared_key_must_suit_every_family():
    raw = read_params_file(ROOT / "params.yaml", {"validate.pixel_max": 255})
    with pytest.raises(ParamsError, match=r"validate.pixel_max: unknown key \[for linear[,\]]"):
        parse_params(raw)


def test_every_bad_value_is_named_at_once():
    with pytest.raises(ParamsError) as e:
        params_with({"train.lr": "fast", "train.optimizer": "adamw", "ingest.sorce": "x", "model": "gbm"})
    msg = str(e.value)
    assert "train.lr" in msg and "'fast'" in msg
    assert "train.optimizer" in msg and "adamw" in msg
    assert "ingest.sorce: unknown key" in msg and "unknown family 'gbm'" in msg


def test_required_family_keys_are_named():
    raw = read_params_file(ROOT / "params.yaml")
    del raw["validate"]["linear"]["columns"]
    with pytest.raises(ParamsError, match="validate.linear.columns: Field required"):
        parse_params(raw)


def test_cross_field_rules():
    with pytest.raises(ParamsError, match="pixel_min"):
        params_with({"validate.cnn.pixel_min": 50})
    with pytest.raises(ParamsError, match="val_size"):
        params_with({"features.val_size": 0.5, "features.test_size": 0.45})


def test_missing_or_malformed_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_sections_are_frozen_and_digest_tracks_the_family_view():
    p = params_with()
    with pytest.raises(ValidationError, match="frozen"):
        p.train.lr = 1.0  # type: ignore[misc]
    assert p.digest() == params_with().digest()
    assert p.digest() != params_with({"train.lr": 0.01}).digest()
    assert p.digest() == params_with({"train.linear.lr": 0.5}).digest()  # another family's block


def test_to_dict_is_the_resolved_view():
    d = params_with({"model": "linear"}).to_dict()
    assert d["model"] == "linear" and d["train"]["lr"] == 0.01 and d["train"]["linear"] == {}
    assert {"validate", "register"} <= d.keys()
