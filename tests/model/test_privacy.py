"""DP-SGD in the shared loop: refusals, per-sample gradients that belong to one row, the accountant (and its
resume), and DP-trained checkpoints that load into plain torch layers."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from components.config.sections import PrivacyConfig, TrainConfig
from components.core.errors import ParamsError
from components.models.cnn import CnnConfig
from components.models.cnn import build as build_cnn
from components.models.rnn import RnnConfig
from components.models.rnn import build as build_rnn
from components.models.text_gru import TextGru, TextGruConfig
from components.training import privacy
from components.training.loop import Tensors, set_seeds, train_loop

DP = PrivacyConfig(enabled=True)


@pytest.mark.parametrize("family", ["linear", "forecasting", "anomaly", "clustering", "mlp"])
def test_unsupported_families_are_refused_with_the_reason(family):
    with pytest.raises(ParamsError, match=f"family '{family}' cannot be trained privately: .+Supported: cnn, rnn"):
        privacy.check(family, TrainConfig(privacy=DP))


@pytest.mark.parametrize("setting,word", [({"precision": "bf16"}, "train.precision"), ({"compile": True}, "compile"),
                                          ({"nproc": 2}, "nproc")])
def test_dp_refuses_reduced_precision_compile_and_ddp(setting, word):
    with pytest.raises(ParamsError, match=word):
        privacy.check("cnn", TrainConfig(privacy=DP, **setting))
    privacy.check("cnn", TrainConfig(**setting))  # without DP the same settings are fine


def per_sample_rows_match_single_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, bool]:
    """Opacus' per-sample gradient rows vs the gradient of each row alone: (max relative error of the best
    match, whether the matches are a permutation of the rows). A layer may see the rows in another order."""
    from opacus import GradSampleModule

    model.train()
    gsm = GradSampleModule(model, loss_reduction="mean")
    _, loss = gsm(x, y)
    loss.backward()
    rows = torch.cat([p.grad_sample.reshape(len(x), -1) for p in model.parameters() if p.requires_grad], 1)
    gsm._close()
    single = []
    for i in range(len(x)):
        model.zero_grad()
        model(x[i:i + 1], y[i:i + 1])[1].backward()
        single.append(torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.requires_grad]))
    single_t = torch.stack(single).double()
    dist = torch.cdist(rows.double(), single_t) / single_t.norm(dim=1).clamp(min=1e-12)[None]
    err, match = dist.min(1)
    return float(err.max()), sorted(match.tolist()) == list(range(len(x)))


def _texts(n=6, t=9, vocab=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(2, vocab, (n, t), generator=g)
    for i, length in enumerate([9, 3, 7, 3, 1, 5][:n]):
        x[i, length:] = 0  # 0-padded at the end, lengths out of order
    return x, torch.randint(0, 2, (n,), generator=g)


@pytest.mark.parametrize("family", ["cnn", "rnn", "text_gru"])
def test_per_sample_gradients_belong_to_one_row(family):
    torch.manual_seed(0)
    if family == "text_gru":
        model, (x, y) = TextGru(TextGruConfig(dropout=0.0, embedding_dim=8, hidden=6), 40, 2), _texts()
    else:
        build, cfg = (build_cnn, CnnConfig(channels=[4], hidden=8, dropout=0.0)) if family == "cnn" else \
            (build_rnn, RnnConfig(hidden=8))
        model, x, y = build(cfg, (1, 8, 8), 3), torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    dp, fixes = privacy.prepare(model)
    assert fixes == (["group_norm"] if family == "cnn" else [])
    err, permutation = per_sample_rows_match_single_rows(dp, x, y)
    assert err < 1e-4 and permutation


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(((d.data - 4.9) / 6.0).reshape(-1, 1, 8, 8), dtype=torch.float32)
    y = torch.tensor(d.target)
    return Tensors(x[:600], y[:600]), Tensors(x[1500:], y[1500:])


def test_dp_training_spends_its_budget_and_resumes_counting():
    train, val = _digits()
    cfg = TrainConfig(epochs=3, patience=5, batch_size=64, lr=2e-3, progress=False,
                      privacy=PrivacyConfig(enabled=True, target_epsilon=4.0, target_delta=1e-4))
    model, states = privacy.prepare(build_cnn(CnnConfig(channels=[8], hidden=16), (1, 8, 8), 10))[0], []
    set_seeds(0)
    hist = train_loop(model, train, val, cfg, torch.device("cpu"), on_state=lambda s: states.append(copy.deepcopy(s)))
    spent = [e.epsilon for e in hist.epochs]
    assert spent == sorted(spent) and 3.5 < spent[-1] <= 4.0 + 1e-6
    assert hist.privacy["steps"] == 3 * 10 and hist.privacy["noise_multiplier"] > 0.3
    assert hist.privacy["epsilon"] == pytest.approx(spent[-1]) and hist.privacy["sample_rate"] == pytest.approx(0.1)
    # resumed after epoch 2: same weights and the same epsilon as the uninterrupted run
    again = privacy.prepare(build_cnn(CnnConfig(channels=[8], hidden=16), (1, 8, 8), 10))[0]
    resumed = train_loop(again, train, val, cfg, torch.device("cpu"), resume=states[1])
    assert resumed.privacy["epsilon"] == hist.privacy["epsilon"] and resumed.privacy["steps"] == 30
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(),
                                                 strict=True))


def test_delta_must_be_below_one_over_n():
    train, val = _digits()
    cfg = TrainConfig(epochs=1, progress=False, privacy=PrivacyConfig(enabled=True, target_delta=1e-2))
    model = privacy.prepare(build_cnn(CnnConfig(channels=[4], hidden=8), (1, 8, 8), 10))[0]
    with pytest.raises(ParamsError, match="target_delta 0.01 must be below 1 / \\(training rows\\)"):
        train_loop(model, train, val, cfg, torch.device("cpu"))


def test_dp_checkpoints_rebuild_with_plain_torch_layers(tmp_path):
    """A DP-trained cnn reloads with GroupNorm (recorded fix), a DP text_gru into nn.GRU: same outputs."""
    from components.data.transforms.image import ImageTransform
    from components.data.transforms.text import TextTransform
    from components.inference.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    cnn_cfg = CnnConfig(channels=[8], hidden=16)
    dp, fixes = privacy.prepare(build_cnn(cnn_cfg, (1, 8, 8), 10))
    image = ImageTransform(columns=[f"px_{i}" for i in range(64)], height=8, width=8, mean=0.0, std=1.0,
                           classes=list(range(10)))
    save_checkpoint(tmp_path / "cnn.pt", dp, "cnn", cnn_cfg, image, (1, 8, 8), {"module_fixes": fixes})
    back = load_checkpoint(tmp_path / "cnn.pt")
    assert isinstance(back.model.features[1], nn.GroupNorm)
    x = torch.randn(5, 1, 8, 8)
    assert torch.allclose(back.model(x)[0], dp.eval()(x)[0], atol=1e-6)

    text_cfg = TextGruConfig(embedding_dim=8, hidden=6)
    dp_text, fixes = privacy.prepare(TextGru(text_cfg, 40, 2))
    assert fixes == [] and type(dp_text.gru).__name__ == "DPGRU"
    text = TextTransform(vocab=[f"w{i}" for i in range(38)], max_len=9, classes=["a", "b"])
    save_checkpoint(tmp_path / "text.pt", dp_text, "text_gru", text_cfg, text, (9,), {"module_fixes": fixes})
    back = load_checkpoint(tmp_path / "text.pt")
    assert type(back.model.gru) is nn.GRU
    ids, _ = _texts()
    assert np.allclose(back.model(ids)[0].detach(), dp_text.eval()(ids)[0].detach(), atol=1e-5)
