"""anomaly autoencoder: shapes, loss over normal rows only, loss falls, threshold on val, round trip."""

import torch

from components.config.sections import TrainConfig
from components.data.transforms.tabular import TabularTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.anomaly import AnomalyConfig
from components.training.loop import Tensors, set_seeds, train_loop

CFG = AnomalyConfig(hidden=[16], latent=2)


def _transform(f=4):
    return TabularTransform(columns=[f"f{i}" for i in range(f)], mean=[0.0] * f, std=[1.0] * f, classes=[0, 1])


def _data(n=256, seed=0):
    """Normal rows on a 2-d plane inside 4-d; anomalies off it."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=g)
    x = torch.cat([z, z[:, :1] - z[:, 1:], z.sum(1, keepdim=True)], dim=1)
    y = (torch.rand(n, generator=g) < 0.1).long()
    x[y == 1] = torch.randn(int(y.sum()), 4, generator=g) * 3
    return Tensors(x, y)


def _model():
    set_seeds(0)
    return build_model("anomaly", CFG, _transform(), (4,))


def test_shapes_and_loss_only_with_targets():
    model, data = _model(), _data(8)
    out, loss = model(data.x, data.y)
    assert out.shape == (8, 2) and loss.ndim == 0 and model(data.x)[1] is None
    assert (out[:, 1] == 0).all()  # no threshold yet (inf): nothing flagged


def test_anomalous_rows_do_not_enter_the_loss():
    model, data = _model(), _data(64)
    _, loss = model(data.x, data.y)
    x2 = data.x.clone()
    x2[data.y == 1] *= 100.0
    assert torch.equal(loss, model(x2, data.y)[1])
    all_rows = build_model("anomaly", CFG.model_copy(update={"train_on": "all"}), _transform(), (4,))
    all_rows.load_state_dict(model.state_dict())
    assert all_rows(x2, data.y)[1] > 10 * loss


def test_loss_falls_and_threshold_separates_validation():
    model, train, val = _model(), _data(512, 0), _data(256, 1)
    before = float(model(train.x, train.y)[1].detach())
    cfg = TrainConfig(lr=0.01, batch_size=64, epochs=40, patience=40, progress=False)
    hist = train_loop(model, train, val, cfg, torch.device("cpu"), classification=False)
    assert hist.best_val_loss < 0.2 * before
    with torch.no_grad():
        fitted = model.finalize(train, val)
    assert fitted["val_f1"] > 0.9 and float(model.threshold) == fitted["threshold"]
    flags = model(val.x)[0][:, 1].bool()
    assert ((flags == (val.y == 1)).float().mean()) > 0.95


def test_round_trip_keeps_the_threshold(tmp_path):
    model, data = _model(), _data(32)
    model.threshold.fill_(0.5)
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "anomaly", CFG, _transform(), (4,)))
    assert float(ckpt.model.threshold) == 0.5
    assert torch.equal(model(data.x)[0], ckpt.model(data.x)[0])
