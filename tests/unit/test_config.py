import pytest
from pydantic import ValidationError

from components.config.params import load_params, parse_params, read_params_file
from components.core.errors import ParamsError
from components.families.registry import families
from tests.helpers import ROOT, params_with, write_params


def test_repo_params_load_for_every_family():
    for name, family in families().items():
        p = load_params(ROOT / "params.yaml", {"model": name})
        assert (p.model, p.kind, p.task) == (name, family.kind, family.task)
        assert isinstance(p.arch, family.config)
    default = load_params(ROOT / "params.yaml")
    assert default.model == "cnn" and default.ingest.source == "sklearn:digits"
    assert default.registration.min == {"accuracy": 0.97}
    assert default.registered_name("digits") == "digits-cnn"


def test_family_defaults_and_blocks_override_shared_keys():
    linear = params_with({"model": "linear"})
    assert linear.ingest.source == "sklearn:diabetes" and linear.ingest.label_column == "label"
    assert linear.train.lr == 0.01 and linear.train.seed == 42  # overridden / inherited
    assert linear.features.val_size == 0.0 and linear.validation.min_rows == 200
    assert params_with({"train.lr": 0.5}).train.lr == 0.5  # shared key
    assert params_with({"model": "linear", "train.lr": 0.5}).train.lr == 0.01  # the family's default still wins
    assert params_with({"model": "linear", "train.linear.lr": 0.5}).train.lr == 0.5  # a block beats the default
    tuned = params_with({"model": "text_gru", "register.text_gru.min": {"accuracy": 0.7}})
    assert tuned.registration.min == {"accuracy": 0.7}  # a block key replaces the default's value whole


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
    with pytest.raises(ParamsError, match=r"validate.pixel_max: unknown key \[for [^]]*\blinear\b"):
        parse_params(raw)


def test_every_bad_value_is_named_at_once():
    with pytest.raises(ParamsError) as e:
        params_with({"train.lr": "fast", "train.optimizer": "lbfgs", "ingest.sorce": "x", "model": "gbm"})
    msg = str(e.value)
    assert "train.lr" in msg and "'fast'" in msg
    assert "train.optimizer" in msg and "lbfgs" in msg
    assert "ingest.sorce: unknown key" in msg and "unknown family 'gbm'" in msg


def test_required_family_keys_are_named(monkeypatch):
    from dataclasses import replace

    from components.families import registry

    linear = registry.families()["linear"]
    bare = replace(linear, name="bare", defaults={k: v for k, v in linear.defaults.items() if k != "validate"})
    monkeypatch.setattr(registry, "BUILTIN", (*registry.BUILTIN, bare))
    registry.families.cache_clear()
    try:
        with pytest.raises(ParamsError, match="validate.bare.columns: Field required"):
            parse_params(read_params_file(ROOT / "params.yaml"))
        with pytest.raises(ParamsError, match=r"validate.bare.ranges.a.1: Field required \(family default\)"):
            monkeypatch.setattr(registry, "BUILTIN", (*registry.BUILTIN[:-1], replace(
                bare, defaults=linear.defaults | {"validate": {"columns": ["a"], "ranges": {"a": [1]}}})))
            registry.families.cache_clear()
            parse_params(read_params_file(ROOT / "params.yaml"))
    finally:
        registry.families.cache_clear()


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


def test_a_shared_key_a_family_default_replaces_is_named(tmp_path):
    rnn = load_params(write_params(tmp_path / "params.yaml", {"model": "rnn", "train.lr": 0.5}))
    assert rnn.train.lr == 0.003  # the precedence stays
    assert rnn.shadowed == ("train.lr: params.yaml sets 0.5, but family rnn's default 0.003 wins; "
                            "set train.rnn.lr to change it",)
    assert params_with({"model": "rnn", "train.lr": 0.5}).shadowed == (  # an override is named as one
        "train.lr: -S train.lr=0.5 asks for 0.5, but family rnn's default 0.003 wins; give -S train.rnn.lr=0.5 "
        "instead",)
    # asked for explicitly, the class default (the stock params.yaml's 0.001) is reported too: text_gru's 0.002 wins
    assert [s.split(" asks")[0] for s in params_with({"model": "text_gru", "train.lr": 0.001}).shadowed] == \
        ["train.lr: -S train.lr=0.001"]
    assert params_with({"model": "rnn", "train.lr": 0.5, "train.rnn.lr": 0.01}).shadowed == ()  # the block wins
    assert params_with({"model": "rnn", "train.lr": 0.003}).shadowed == ()  # same value: nothing lost
    assert params_with({"model": "cnn", "train.lr": 0.5}).shadowed == ()  # cnn declares no lr
    gru = params_with({"model": "text_gru", "features.test_size": 0.25, "validate.min_rows": 1000})
    assert [s.split(":")[0] for s in gru.shadowed] == ["features.test_size"]
    for name in families():  # the stock values equal the class defaults: no family warns
        assert params_with({"model": name}).shadowed == (), name


def test_a_check_across_keys_names_its_values_once_not_the_block():
    with pytest.raises(ParamsError) as e:
        params_with({"features.test_size": 0.9})
    msg = str(e.value)
    assert "{" not in msg  # not the features dict of each family
    assert msg.count("features: val_size (0.15) + test_size (0.9) must leave 10% to train") == 1
    assert "features: val_size (0.1) + test_size (0.9) must leave 10% to train [for fashion_cnn]" in msg
    assert len(msg.splitlines()) == 3  # the header and one line per distinct pair of values
    with pytest.raises(ParamsError) as e:  # a per-key error keeps its value, even a mapping
        params_with({"ingest.source": {"a": 1}})
    assert "ingest.source: Input should be a valid string (got {'a': 1})" in str(e.value)


@pytest.mark.parametrize("alias", ["exp-lr-0.01", "latest", "v3", "", "new alias"])
def test_an_alias_mlflow_would_refuse_fails_with_the_params(alias):
    """Refused at load, naming the key: not after register has created a version it cannot alias."""
    with pytest.raises(ParamsError, match=r"register\b.*alias.*not an MLflow alias"):
        params_with({"register.alias": alias})
    assert params_with({"register.alias": "exp-lr-001"}).registration.alias == "exp-lr-001"
