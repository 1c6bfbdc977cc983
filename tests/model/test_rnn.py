import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.image import ImageTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.rnn import RnnConfig, RowRnn
from components.training.loop import Tensors, make_optimizer, set_seeds, train_step


@pytest.mark.parametrize("shape,cfg", [
    ((1, 8, 8), RnnConfig(cell="rnn", hidden=16)),
    ((1, 8, 8), RnnConfig(cell="gru", hidden=16, layers=2, dropout=0.1)),
    ((1, 28, 28), RnnConfig(cell="lstm", hidden=16, bidirectional=True)),
    ((3, 5, 7), RnnConfig(cell="lstm", hidden=8, layers=2, bidirectional=True)),
])
def test_output_shapes(shape, cfg):
    model = RowRnn(cfg, shape, 10)
    assert model.rnn.input_size == shape[0] * shape[2]  # one image row (all channels) per step
    x, y = torch.randn(4, *shape), torch.randint(0, 10, (4,))
    logits, loss = model(x, y)
    assert logits.shape == (4, 10) and loss.ndim == 0
    assert model(x)[1] is None  # no targets, no loss


def test_reads_rows_in_order():
    """The prediction depends on the row order (it is a sequence model, not a bag of rows)."""
    set_seeds(0)
    model = RowRnn(RnnConfig(cell="gru", hidden=8), (1, 8, 8), 10).eval()
    x = torch.randn(2, 1, 8, 8)
    assert not torch.allclose(model(x)[0], model(x.flip(2))[0])


def _transform():
    return ImageTransform(columns=[f"px_{i}" for i in range(64)], height=8, width=8, mean=4.9, std=6.0,
                          classes=list(range(10)))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_checkpoint_round_trip_rebuilds_identical_model(tmp_path, cell):
    set_seeds(0)
    cfg = RnnConfig(cell=cell, hidden=12, bidirectional=cell == "lstm")
    model = build_model("rnn", cfg, _transform(), (1, 8, 8)).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, "rnn", cfg, _transform(), (1, 8, 8))
    ckpt = load_checkpoint(path)
    x = torch.randn(5, 1, 8, 8)
    assert isinstance(ckpt.model, RowRnn) and ckpt.config == cfg
    assert torch.equal(model(x)[0], ckpt.model(x)[0])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_loss_falls_on_32_samples(small_digits, cell):
    set_seeds(0)
    t = ImageTransform.fit(small_digits, {"image_shape": [8, 8]})
    batch = Tensors(torch.from_numpy(t.features(small_digits.head(32))),
                    torch.from_numpy(t.targets(small_digits.head(32))))
    model = RowRnn(RnnConfig(cell=cell, hidden=64), (1, 8, 8), 10)
    opt = make_optimizer(model.parameters(), TrainConfig(lr=0.003))
    first = float(train_step(model, opt, batch))
    for _ in range(40):
        last = float(train_step(model, opt, batch))
    assert last < first * 0.2


@pytest.mark.gpu
def test_forward_backward_on_cuda():
    model = RowRnn(RnnConfig(), (1, 8, 8), 10).cuda()
    logits, loss = model(torch.randn(16, 1, 8, 8, device="cuda"), torch.randint(0, 10, (16,), device="cuda"))
    loss.backward()
    assert logits.is_cuda and all(p.grad is not None for p in model.parameters())
