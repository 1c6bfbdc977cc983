"""dvc.yaml and params.yaml agree: every params key a stage lists exists and loads, and every
setting that changes a result is listed by some stage (so DVC re-runs when it changes)."""

import yaml

from components.config import FAMILIES, Params, load_params
from tests.helpers import ROOT

NOT_AFFECTING_RESULTS = {"train.progress"}


def _dvc_params() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    model = yaml.safe_load((ROOT / "params.yaml").read_text())["model"]
    keys = []
    for stage in stages.values():
        for entry in stage.get("params", []):
            keys += [k.replace("${model}", model) for k in (entry if isinstance(entry, dict) else [entry])]
    return keys


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def test_every_listed_key_exists_in_params_yaml():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    missing = []
    for key in _dvc_params():
        try:
            _get(raw, key)
        except (KeyError, TypeError):
            missing.append(key)
    assert missing == []


def test_params_yaml_loads_and_states_every_setting_explicitly():
    params = load_params(ROOT / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert Params.model_validate(raw) == params
    assert set(raw) == set(Params().to_dict())  # no section left to code defaults


def _leaves(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        if isinstance(v, dict) and v and k not in ("min", "max"):
            out |= _leaves(v, f"{prefix}{k}.")
        else:
            out.add(f"{prefix}{k}")
    return out


def test_every_result_affecting_setting_is_a_dvc_dependency():
    listed = _dvc_params()
    params = load_params(ROOT / "params.yaml")
    others = {f"train.{f}" for f in FAMILIES if f != params.model}
    uncovered = [leaf for leaf in _leaves(params.to_dict())
                 if leaf not in NOT_AFFECTING_RESULTS
                 and not any(leaf.startswith(o + ".") for o in others)
                 and not any(leaf == k or leaf.startswith(k + ".") for k in listed)]
    assert uncovered == []
