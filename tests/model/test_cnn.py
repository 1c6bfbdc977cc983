import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.image import ImageTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.cnn import CnnConfig, ConvNet
from components.training.loop import Tensors, make_optimizer, set_seeds, train_step


@pytest.mark.parametrize("shape,cfg", [((1, 8, 8), CnnConfig()), ((1, 28, 28), CnnConfig(channels=[8, 16, 32])),
                                       ((3, 5, 7), CnnConfig(hidden=0, batch_norm=False, pool_every=2))])
def test_output_shapes(shape, cfg):
    model = ConvNet(cfg, shape, 10)
    x, y = torch.randn(4, *shape), torch.randint(0, 10, (4,))
    logits, loss = model(x, y)
    assert logits.shape == (4, 10) and loss.ndim == 0
    assert model(x)[1] is None  # no targets, no loss


def _transform(k=10):
    return ImageTransform(columns=[f"px_{i}" for i in range(64)], height=8, width=8, mean=4.9, std=6.0,
                          classes=list(range(k)))


def test_checkpoint_round_trip_rebuilds_identical_model(tmp_path):
    set_seeds(0)
    cfg = CnnConfig(channels=[4, 8], hidden=16)
    model = build_model("cnn", cfg, _transform(), (1, 8, 8)).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, "cnn", cfg, _transform(), (1, 8, 8), {"note": "x"})
    ckpt = load_checkpoint(path)
    x = torch.randn(5, 1, 8, 8)
    assert torch.equal(model(x)[0], ckpt.model(x)[0])
    assert ckpt.config == cfg and ckpt.transform == _transform() and ckpt.meta == {"note": "x"}


def test_loss_falls_on_32_samples(small_digits):
    set_seeds(0)
    t = ImageTransform.fit(small_digits, {"image_shape": [8, 8]})
    batch = Tensors(torch.from_numpy(t.features(small_digits.head(32))),
                    torch.from_numpy(t.targets(small_digits.head(32))))
    model = ConvNet(CnnConfig(dropout=0.0), (1, 8, 8), 10)
    opt = make_optimizer(model.parameters(), TrainConfig())
    first = float(train_step(model, opt, batch))
    for _ in range(30):
        last = float(train_step(model, opt, batch))
    assert last < first * 0.2


@pytest.mark.gpu
def test_forward_backward_on_cuda():
    model = ConvNet(CnnConfig(), (1, 8, 8), 10).cuda()
    logits, loss = model(torch.randn(16, 1, 8, 8, device="cuda"), torch.randint(0, 10, (16,), device="cuda"))
    loss.backward()
    assert logits.is_cuda and all(p.grad is not None for p in model.parameters())


def test_inference_runs_channels_last_with_the_values_of_the_default_layout(small_digits, tmp_path):
    """predict() scores images in channels-last (faster on CPU); probabilities match the plain NCHW forward."""
    from components.inference.predict import predict

    set_seeds(0)
    t = ImageTransform.fit(small_digits, {"image_shape": [8, 8]})
    model = build_model("cnn", CnnConfig(), t, (1, 8, 8)).eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "cnn", CnnConfig(), t, (1, 8, 8)))
    with torch.inference_mode():
        plain = torch.softmax(model(torch.from_numpy(t.features(small_digits)))[0], 1).numpy()
    proba = predict(ckpt, small_digits, batch_size=64)
    assert proba.shape == plain.shape
    assert abs(proba - plain).max() < 1e-5
    assert ckpt.model.features[4].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.features[4].weight.is_contiguous(memory_format=torch.channels_last)  # the reference stayed NCHW
