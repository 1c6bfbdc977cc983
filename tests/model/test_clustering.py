import numpy as np
import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.image import ClusterTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.clustering import ClusteringConfig, target_distribution
from components.training.loop import Tensors, set_seeds, train_loop

CFG = ClusteringConfig(hidden=[32], embedding=4, n_clusters=3, n_init=2, n_neighbors=3, refine_steps=20,
                       update_every=5)


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


def test_prepare_appends_the_spectral_target_to_the_train_targets_only():
    model = build_model("clustering", CFG, _transform(), (64,))
    x = torch.randn(40, 64)
    train, val = model.prepare(Tensors(x, x), Tensors(x[:8], x[:8]))
    assert train.y.shape == (40, 64 + 4) and torch.equal(train.y[:, :64], x) and torch.equal(train.x, x)
    assert torch.allclose(train.y[:, 64:].norm(dim=1), torch.full((40,), 2.0))  # rows scaled to sqrt(D)
    assert torch.equal(val.y, x[:8])
    plain = build_model("clustering", CFG.model_copy(update={"graph_weight": 0.0}), _transform(), (64,))
    assert plain.prepare(Tensors(x, x), Tensors(x, x))[0].y.shape == (40, 64)
    _, with_target = model.eval()(x, train.y)
    _, recon_only = model(x, x)
    assert with_target > recon_only  # the graph term adds to the loss


def test_target_distribution_is_normalised_and_sharper():
    q = torch.softmax(torch.randn(50, 3), 1)
    p = target_distribution(q)
    assert torch.allclose(p.sum(1), torch.ones(50))
    assert (p.max(1).values >= q.max(1).values - 1e-6).float().mean() > 0.9


def test_recovers_separated_blobs_end_to_end():
    """prepare -> the shared loop -> finalize (KMeans + IDEC) on three well separated blobs: near-perfect
    clusters, the centres stay a buffer (same state_dict keys) and refinement ran."""
    from sklearn.metrics import adjusted_rand_score

    set_seeds(0)
    labels = torch.arange(3).repeat_interleave(30)
    x = torch.randn(3, 64)[labels] * 3 + 0.3 * torch.randn(90, 64)
    model = build_model("clustering", CFG, _transform(), (64,))
    keys = set(model.state_dict())
    train, val = model.prepare(Tensors(x, x), Tensors(x, x))
    cfg = TrainConfig(batch_size=32, epochs=15, patience=15, progress=False)
    train_loop(model, train, val, cfg, torch.device("cpu"), classification=False)
    with torch.no_grad():
        fitted = model.finalize(train, val)
    assert 0 < fitted["refine_steps"] <= 20 and set(model.state_dict()) == keys
    assert "centres" in dict(model.named_buffers()) and "centres" not in dict(model.named_parameters())
    ids = model.eval()(x)[0][:, 0].long()
    assert adjusted_rand_score(labels.numpy(), ids.numpy()) > 0.9
