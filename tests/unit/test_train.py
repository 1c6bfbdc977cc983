import pytest
import torch
from torch import nn

from components.config.sections import TrainConfig
from components.training.loop import (
    History,
    Tensors,
    batches,
    evaluate_loss,
    get_device,
    make_optimizer,
    set_seeds,
    train_loop,
)


class Affine(nn.Module):
    """y = w*x + b, MSE loss: small enough to reason about."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x, y=None):
        out = self.lin(x).squeeze(1)
        return out, (nn.functional.mse_loss(out, y) if y is not None else None)


def _line(n=64, noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g)
    return Tensors(x, (3 * x + 1).squeeze(1) + noise * torch.randn(n, generator=g))


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("momentum", torch.optim.SGD),
                                      ("rmsprop", torch.optim.RMSprop), ("adam", torch.optim.Adam)])
def test_optimizers(name, cls):
    opt = make_optimizer(Affine().parameters(), TrainConfig(optimizer=name, lr=0.05, momentum=0.8))
    assert isinstance(opt, cls)
    assert opt.param_groups[0].get("momentum", 0.0) == (0.8 if name == "momentum" else 0.0)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_each_optimizer_learns_a_line(name):
    set_seeds(0)
    cfg = TrainConfig(optimizer=name, lr=0.1, epochs=100, patience=100, batch_size=16, progress=False)
    model = Affine()
    hist = train_loop(model, _line(), _line(32, seed=1), cfg, torch.device("cpu"), classification=False)
    assert hist.epochs[-1].val_loss < 0.01 < hist.epochs[0].val_loss


def test_batches_cover_every_index_once():
    data = Tensors(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    seen = torch.cat([b.y for b in batches(data, 3, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert [len(b) for b in batches(data, 4)] == [4, 4, 2]


def test_early_stopping_restores_best_weights():
    set_seeds(0)
    # Validation targets contradict training: val loss rises while train loss falls.
    train, val = _line(), Tensors(_line(32, seed=1).x, -_line(32, seed=1).y)
    cfg = TrainConfig(lr=0.05, epochs=50, patience=3, batch_size=16, progress=False)
    model = Affine()
    seen: list[dict] = []
    hist = train_loop(model, train, val, cfg, torch.device("cpu"), False,
                      on_epoch=lambda s, improved: seen.append({"s": s, "state": {
                          k: v.clone() for k, v in model.state_dict().items()}}))
    assert isinstance(hist, History) and hist.stopped_early
    assert len(hist.epochs) == hist.best_epoch + cfg.patience
    best = seen[hist.best_epoch - 1]["state"]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


def test_seeds_make_runs_repeatable():
    runs = []
    for _ in range(2):
        set_seeds(5)
        model = Affine()
        cfg = TrainConfig(epochs=3, progress=False, batch_size=8)
        runs.append([e.train_loss for e in train_loop(model, _line(noise=0.1), _line(16, seed=2), cfg,
                                                       torch.device("cpu"), False).epochs])
    assert runs[0] == runs[1]


def test_device_selection():
    assert get_device("cpu").type == "cpu"
    assert get_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            get_device("cuda")


def test_evaluate_loss_matches_a_whole_split_forward():
    """Loss and accuracy summed on the device over uneven batches equal one forward over the whole split."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(103, 5, generator=g), torch.randint(0, 3, (103,), generator=g)
    lin = nn.Linear(5, 3)

    class Clf(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x, y=None):
            out = self.lin(x)
            return out, nn.functional.cross_entropy(out, y)

    loss, acc = evaluate_loss(Clf(), Tensors(x, y), 16, classification=True)
    with torch.no_grad():
        out = lin(x)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(out, y)), rel=1e-6)
    assert acc == int((out.argmax(1) == y).sum()) / len(y)
    mse, none = evaluate_loss(Affine(), _line(37), 10, classification=False)
    assert none is None and mse > 0

