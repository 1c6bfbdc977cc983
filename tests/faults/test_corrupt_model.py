"""A corrupt `model.pt` (truncated, garbage, or a PyTorch file that is not a Keel checkpoint) is a named error
naming the file, for a local checkpoint and for a registered version's artifact; never a raw unpickling or
zip-archive traceback."""

import pandas as pd
import pytest
import torch

from components.core.errors import CheckpointError, RegistryError
from components.data.transforms.tabular import TabularTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.lifecycle import registry, tracking
from components.models.linear import LinearConfig

TRANSFORM = TabularTransform(columns=["x0", "x1", "x2"], mean=[0.0] * 3, std=[1.0] * 3, target_mean=0.0,
                             target_std=1.0)


def checkpoint(path):
    model = build_model("linear", LinearConfig(), TRANSFORM, (3,))
    return save_checkpoint(path, model, "linear", LinearConfig(), TRANSFORM, (3,))


def damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x80\x04garbage" * 64)
    elif how == "empty":
        path.write_bytes(b"")
    else:  # a readable PyTorch file, but not a Keel checkpoint
        torch.save({"weights": torch.zeros(3)}, path)


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "foreign"])
def test_a_corrupt_local_checkpoint_is_named(tmp_path, how):
    path = checkpoint(tmp_path / "model.pt")
    load_checkpoint(path)  # sound before the damage
    damage(path, how)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert str(e.value).startswith(f"{path}: not a ")
    assert ("not a Keel checkpoint" if how == "foreign" else "truncated or corrupt") in str(e.value)


def test_a_registered_version_with_a_corrupt_artifact_is_named(mlflow_store, tmp_path):
    example = pd.DataFrame({"x0": [0.1], "x1": [0.2], "x2": [0.3]})
    with tracking.start_run("corrupt-model"):
        uri = registry.log_pyfunc(checkpoint(tmp_path / "model.pt"), example)
    ref = registry.register_version(uri, "corrupt-model", {})
    assert registry.load_keel_checkpoint("corrupt-model", ref.version).family == "linear"
    stored = [p for p in (tmp_path / "mlruns").rglob("model.pt")]
    assert len(stored) == 1
    damage(stored[0], "truncated")
    for load in (lambda: registry.load_pyfunc(ref.model_uri),
                 lambda: registry.load_keel_checkpoint("corrupt-model", ref.version)):
        with pytest.raises(RegistryError) as e:
            load()
        text = str(e.value)
        assert text.startswith(f"{ref.model_uri}: its checkpoint artifact is corrupt (") and "model.pt" in text
        assert "register the model again" in text and "PytorchStreamReader" in text
