import numpy as np
import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.image import ClusterTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.clustering import ClusteringConfig
from components.training.loop import Tensors, set_seeds, train_loop

CFG = ClusteringConfig(hidden=[32], embedding=4, n_clusters=3, n_init=2)


def _transform():
    return ClusterTransform(columns=[f"px_{i}" for i in range(64)], height=8, width=8, mean=4.9, std=6.0,
                            classes=list(range(10)))


def test_shapes_and_loss_only_with_targets():
    model = build_model("clustering", CFG, _transform(), (64,))
    x = torch.randn(5, 64)
    out, loss = model(x, x)
    assert out.shape == (5, 1 + 4) and loss.ndim == 0
    assert model(x)[1] is None


def test_transform_target_is_the_input_not_the_label(small_digits):
    t = ClusterTransform.fit(small_digits, {"image_shape": [8, 8]}, "clustering")
    shuffled = small_digits.assign(label=np.random.default_rng(0).permutation(small_digits["label"].to_numpy()))
    assert t.features(small_digits).shape == (len(small_digits), 64)
    assert np.array_equal(t.targets(small_digits), t.features(small_digits))
    assert np.array_equal(t.targets(shuffled), t.targets(small_digits))  # labels never reach the model


def test_reconstruction_loss_falls_and_finalize_fits_centres(small_digits):
    set_seeds(0)
    t = ClusterTransform.fit(small_digits, {"image_shape": [8, 8]}, "clustering")
    x = torch.from_numpy(t.features(small_digits.head(32)))
    data = Tensors(x, x)
    model = build_model("clustering", CFG, t, (64,))
    cfg = TrainConfig(lr=3e-3, batch_size=8, epochs=30, patience=30, progress=False)
    hist = train_loop(model, data, data, cfg, torch.device("cpu"), classification=False)
    assert hist.epochs[-1].train_loss < 0.5 * hist.epochs[0].train_loss
    assert torch.count_nonzero(model.centres) == 0
    with torch.no_grad():
        fitted = model.finalize(data, data)
    assert fitted["kmeans_inertia"] > 0 and torch.count_nonzero(model.centres) > 0
    ids = model.eval()(x)[0][:, 0]
    assert set(ids.long().tolist()) == {0, 1, 2}  # every centre owns a sample it was fitted on


def test_round_trip_keeps_centres(tmp_path):
    set_seeds(0)
    model = build_model("clustering", CFG, _transform(), (64,)).eval()
    model.centres.copy_(torch.randn(3, 4))
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "clustering", CFG, _transform(), (64,)))
    x = torch.randn(6, 64)
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == _transform()
    assert ckpt.transform.kind == "image:clustering"


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_eval_output_is_deterministic(noise):
    model = build_model("clustering", CFG.model_copy(update={"noise": noise}), _transform(), (64,)).eval()
    x = torch.randn(4, 64)
    assert torch.equal(model(x, x)[1], model(x, x)[1])  # noise only while training
