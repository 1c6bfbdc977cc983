"""dvc.yaml and params.yaml agree for every family: each params key a stage lists exists, and every
setting that changes a result is listed by some stage (so DVC re-runs when it changes)."""

import pytest
import yaml

from components.config import FAMILIES, load_params
from tests.helpers import ROOT

NOT_AFFECTING_RESULTS = {"train.progress", "train.resume"}  # resume: same result, by design
# Sections read by registry operations after the pipeline (keel promote), not by any DVC stage.
NOT_PIPELINE_SECTIONS = ("promote.",)
RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def _dvc_params(family: str) -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [k.replace("${model}", family) for s in stages.values() for k in s.get("params", [])]


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _leaves(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        if isinstance(v, dict) and v and k not in ("min", "max", "ranges"):
            out |= _leaves(v, f"{prefix}{k}.")
        else:
            out.add(f"{prefix}{k}")
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_every_listed_key_exists(family):
    missing = []
    for key in _dvc_params(family):
        try:
            _get(RAW, key)
        except (KeyError, TypeError):
            missing.append(key)
    assert missing == []


@pytest.mark.parametrize("family", FAMILIES)
def test_every_result_affecting_setting_is_a_dvc_dependency(family):
    """Each key in params.yaml that this family reads (shared keys and its own blocks) is listed."""
    listed = _dvc_params(family)
    others = [f for f in FAMILIES if f != family]
    read = [leaf for leaf in _leaves(RAW) if not any(f".{o}." in f".{leaf}." for o in others)]
    uncovered = [leaf for leaf in read if leaf not in NOT_AFFECTING_RESULTS
                 and not leaf.startswith(NOT_PIPELINE_SECTIONS)
                 and not any(leaf == k or leaf.startswith(k + ".") for k in listed)]
    assert uncovered == []
    load_params(ROOT / "params.yaml", {"model": family})
