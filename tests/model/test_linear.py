import numpy as np
import torch

from components.config.sections import TrainConfig
from components.data.transforms.tabular import TabularTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.linear import LinearConfig
from components.training.loop import Tensors, set_seeds, train_loop


def _transform(f=3):
    return TabularTransform(columns=[f"x{i}" for i in range(f)], mean=[0.0] * f, std=[1.0] * f, target_mean=0.0,
                            target_std=1.0)


def test_shapes_and_loss_only_with_targets():
    model = build_model("linear", LinearConfig(), _transform(), (3,))
    out, loss = model(torch.randn(5, 3), torch.randn(5))
    assert out.shape == (5,) and loss.ndim == 0
    assert model(torch.randn(5, 3))[1] is None


def test_recovers_coefficients_with_full_batch_adam():
    set_seeds(0)
    x = torch.randn(200, 3)
    w = torch.tensor([2.0, -1.0, 0.5])
    data = Tensors(x, x @ w + 0.3)
    model = build_model("linear", LinearConfig(), _transform(), (3,))
    cfg = TrainConfig(lr=0.05, batch_size=512, epochs=800, patience=50, progress=False)
    hist = train_loop(model, data, data, cfg, torch.device("cpu"), classification=False)
    assert hist.best_val_loss < 1e-6
    assert np.allclose(model.linear.weight.detach().numpy()[0], w.numpy(), atol=1e-3)


def test_round_trip(tmp_path):
    model = build_model("linear", LinearConfig(), _transform(), (3,)).eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "linear", LinearConfig(), _transform(), (3,)))
    x = torch.randn(4, 3)
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == _transform()
