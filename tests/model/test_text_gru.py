"""text_gru: shapes, padding invariance, save/load round trip, loss falls on 32 samples."""

import numpy as np
import pandas as pd
import torch

from components.config.sections import TextFeaturesConfig, TrainConfig
from components.data.transforms.text import TextTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.text_gru import TextGruConfig
from components.training.loop import Tensors, set_seeds, train_loop

CFG = TextGruConfig(embedding_dim=16, hidden=8, dropout=0.0)
WORDS = ["good", "great", "fine", "bad", "dull", "awful", "film", "plot", "cast", "the"]


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(WORDS[6:], 4).tolist() + [WORDS[rng.integers(0, 3) + 3 * y]]) for y in label]
    return pd.DataFrame({"text": texts, "label": np.where(label == 1, "rotten", "fresh")})


def _setup(cfg=CFG, max_len=12):
    df = _data()
    t = TextTransform.fit(df, {}, cfg=TextFeaturesConfig(min_freq=1, max_len=max_len))
    set_seeds(0)
    return df, t, build_model("text_gru", cfg, t, (max_len,))


def test_shapes_and_loss_only_with_targets():
    df, t, model = _setup()
    x, y = torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df))
    logits, loss = model(x, y)
    assert logits.shape == (32, 2) and loss.ndim == 0
    assert model(x)[1] is None


def test_padding_length_and_batch_mates_do_not_change_the_prediction():
    for pooling in ("maxmean", "last", "mean", "max"):
        df, t, model = _setup(CFG.model_copy(update={"pooling": pooling}))
        model.eval()
        x = torch.from_numpy(t.features(df))
        padded = torch.cat([x, torch.zeros(len(x), 30, dtype=x.dtype)], dim=1)  # 30 more PAD columns
        alone = torch.cat([model(x[i:i + 1])[0] for i in range(4)])  # each text in a batch of its own
        assert torch.allclose(model(x)[0], model(padded)[0], atol=1e-6), pooling
        assert torch.allclose(model(x)[0][:4], alone, atol=1e-6), pooling


def test_loss_falls_on_32_samples():
    df, t, model = _setup()
    data = Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))
    before = float(model(data.x, data.y)[1].detach())
    cfg = TrainConfig(lr=0.01, batch_size=8, epochs=15, patience=15, progress=False)
    hist = train_loop(model, data, data, cfg, torch.device("cpu"))
    assert hist.best_val_loss < 0.5 * before and hist.epochs[-1].val_accuracy >= 0.9


def test_round_trip(tmp_path):
    df, t, model = _setup()
    model.eval()
    path = save_checkpoint(tmp_path / "m.pt", model, "text_gru", CFG, t, (12,))
    ckpt = load_checkpoint(path)
    x = torch.from_numpy(t.features(df))
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == t and ckpt.config == CFG
