"""The shared loop's per-batch LR schedule (`train.schedule`) and channels-last batches (`train.channels_last`)."""

import copy

import pytest
import torch

from components.config.sections import TrainConfig
from components.models.cnn import CnnConfig, build
from components.training.loop import Tensors, set_seeds, train_loop
from components.training.schedule import make_schedule

CFG = CnnConfig(channels=[4, 4], pool_every=2, hidden=8)


def _data(n=48):
    g = torch.Generator().manual_seed(0)
    return Tensors(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g))


def _train(schedule="onecycle", epochs=4, channels_last=False, resume=None, states=None):
    set_seeds(0)
    model = build(CFG, (1, 8, 8), 3)
    cfg = TrainConfig(lr=0.01, batch_size=16, epochs=epochs, patience=epochs, progress=False, schedule=schedule,
                      channels_last=channels_last)
    hist = train_loop(model, _data(), _data(), cfg, torch.device("cpu"), resume=resume,
                      on_state=None if states is None else lambda st: states.append(copy.deepcopy(st)))
    return model, hist


def test_onecycle_warms_up_then_anneals():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = make_schedule(opt, TrainConfig(lr=0.01, schedule="onecycle", warmup=0.25), steps=40)
    lrs = []
    for _ in range(40):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs.index(max(lrs)) in (8, 9) and max(lrs) == pytest.approx(0.01) and lrs[0] < 0.002 and lrs[-1] < 1e-4
    hist = _train("onecycle", epochs=4)[1]  # in the loop: stepped per batch, ends near zero
    assert hist.epochs[-1].lr < 1e-6 < 1e-3 < hist.epochs[0].lr


def test_cosine_decays_and_none_is_constant():
    assert [e.lr for e in _train("none")[1].epochs] == [0.01] * 4
    lrs = [e.lr for e in _train("cosine")[1].epochs]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False)) and lrs[-1] < 0.001


def test_resumed_run_continues_the_schedule():
    states = []
    full_model, full = _train("onecycle", epochs=4, states=states)
    resumed_model, resumed = _train("onecycle", epochs=4, resume=states[1])  # the state saved after epoch 2
    assert [e.lr for e in resumed.epochs] == pytest.approx([e.lr for e in full.epochs])
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_channels_last_gives_the_same_model():
    """Same values in NHWC order: the same logits from the same weights, and (up to float rounding) the same
    training losses; the loop puts the weights in channels-last order."""
    set_seeds(0)
    model = build(CFG, (1, 8, 8), 3).eval()
    x = _data(8).x
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert torch.allclose(model(x)[0], nhwc(x.contiguous(memory_format=torch.channels_last))[0], atol=1e-5)
    _, ha = _train("none", epochs=2)
    b, hb = _train("none", epochs=2, channels_last=True)
    assert b.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert [e.train_loss for e in hb.epochs] == pytest.approx([e.train_loss for e in ha.epochs], rel=1e-3)
