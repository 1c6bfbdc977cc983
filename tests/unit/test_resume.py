import random

import numpy as np
import torch

from components.training.resume import load_state, resume_key, rng_state, save_state, set_rng_state, state_path


def _draw(gen):
    return random.random(), float(np.random.rand()), float(torch.rand(1)), int(torch.randint(100, (1,), generator=gen))


def test_rng_state_round_trip_through_a_file(tmp_path):
    gen = torch.Generator().manual_seed(3)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = save_state(tmp_path / "k" / "state.pt", {"rng": rng_state(gen), "split_sha256": {"train": "a"}, "epoch": 2})
    expected = _draw(gen)
    _draw(gen)  # move every generator on
    state = load_state(path, {"train": "a"})
    set_rng_state(state["rng"], gen)
    assert _draw(gen) == expected and state["epoch"] == 2


def test_state_of_other_splits_or_missing_is_ignored(tmp_path):
    path = save_state(tmp_path / "state.pt", {"split_sha256": {"train": "a"}})
    assert load_state(path, {"train": "b"}) is None
    assert load_state(tmp_path / "nothing.pt") is None
    (tmp_path / "torn.pt").write_bytes(b"\x80not a checkpoint")
    assert load_state(tmp_path / "torn.pt") is None


def test_key_changes_with_params_and_splits(tmp_path):
    base = resume_key({"lr": 0.1}, {"train": "a"})
    assert base == resume_key({"lr": 0.1}, {"train": "a"})
    assert base != resume_key({"lr": 0.2}, {"train": "a"}) != resume_key({"lr": 0.1}, {"train": "b"})
    assert state_path(tmp_path, base) == tmp_path / base / "state.pt"
