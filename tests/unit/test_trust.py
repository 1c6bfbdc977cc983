"""components/trust and its neighbours on small real models: explanations (tabular and text) with their sanity
checks, robustness perturbations, the membership-inference attack, bootstrap CIs, the gate's trust floors and
the model card's Markdown. The image path and the registry side are tested end to end in
tests/lifecycle/test_trust_gate.py."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from components.config.sections import ExplainConfig, RobustnessConfig
from components.data.transforms.image import ImageTransform
from components.data.transforms.tabular import TabularTransform
from components.data.transforms.text import TextTransform
from components.inference.checkpoint import Checkpoint, build_model
from components.inference.predict import predict, task_of
from components.lifecycle import gate, modelcard
from components.models.linear import LinearConfig
from components.models.text_gru import TextGruConfig
from components.problems.intervals import bootstrap_ci
from components.trust import explain as ex
from components.trust import robustness as rb
from components.trust.membership import dp_advantage_bound, loss_threshold_attack, membership_inference

FEATURES = list("abcdef")
WEIGHTS = np.array([3.0, -0.5, 0.2, 0.1, 0.0, 0.05])  # in standardised units: `a` dominates


@pytest.fixture(scope="module")
def linear():
    """A linear regressor whose weights are set by hand: y = sum_j w_j * z_j (z: standardised features)."""
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(300, len(FEATURES)))
    df = pd.DataFrame(x, columns=FEATURES)
    df["label"] = TabularTransform.fit(df.assign(label=0.0), {}, task="regression").features(df) @ WEIGHTS
    t = TabularTransform.fit(df, {}, task="regression")
    model = build_model("linear", LinearConfig(), t, (len(FEATURES),))
    with torch.no_grad():  # the model predicts the standardised target
        model.linear.weight.copy_(torch.tensor(WEIGHTS / t.target_std, dtype=torch.float32)[None])
        model.linear.bias.fill_(-t.target_mean / t.target_std)
    return Checkpoint(model.eval(), "linear", LinearConfig(), t, (len(FEATURES),), {}), df


@pytest.fixture(scope="module")
def text():
    """An (untrained) small text_gru on a tiny vocabulary."""
    df = pd.DataFrame({"text": ["a good film", "a bad film <b>", "good good", "bad plot", "fine film"] * 4,
                       "label": ["pos", "neg", "pos", "neg", "pos"] * 4})
    t = TextTransform.fit(df, {})
    torch.manual_seed(0)
    cfg = TextGruConfig(embedding_dim=8, hidden=8, dropout=0.0)
    model = build_model("text_gru", cfg, t, (t.max_len,))
    return Checkpoint(model.eval(), "text_gru", cfg, t, (t.max_len,), {}), df


def test_tabular_explanation_ranks_the_dominant_feature_and_passes_deletion(linear, tmp_path):
    ckpt, df = linear
    report = ex.explain(ckpt, df.head(64), ExplainConfig(), tmp_path)
    assert report["global_importance"][0]["feature"] == "a" and report["global_importance"][0]["share"] > 0.5
    assert report["completeness"]["relative_error"] < 1e-4  # IG of a linear model is exact
    deletion = report["sanity"]["deletion"]["ig"]
    assert deletion["passes"] and deletion["mean_drop_topk"] > deletion["mean_drop_random_k"]
    assert report["probe"]["sha256"] == ex.rows_sha256(df.head(64), FEATURES) != ex.rows_sha256(df.tail(64), FEATURES)
    assert (tmp_path / "explanation.json").is_file() and (tmp_path / "global_importance.png").stat().st_size > 1000
    summary = ex.summary(report)
    assert summary["top_features"][0] == "a" and summary["deletion_passes"] and ex.failed_checks(report) == []


def test_failed_sanity_checks_are_named_with_what_they_mean(linear, tmp_path):
    """A model that ignores its input (zero weights): all-zero attributions fail both checks."""
    ckpt, df = linear
    blind = copy.deepcopy(ckpt)
    with torch.no_grad():
        blind.model.linear.weight.zero_()
    failed = ex.failed_checks(ex.explain(blind, df.head(16), ExplainConfig(n_steps=8), tmp_path))
    assert len(failed) == 2, failed
    assert failed[0].startswith("randomisation check failed (|Spearman| ig undefined") and "re-initialised" in failed[0]
    assert failed[1].startswith("deletion check failed (ig: top-3") and "random ones" in failed[1]


def test_text_explanation_writes_an_offline_token_page(text, tmp_path):
    ckpt, df = text
    report = ex.explain(ckpt, df.head(10), ExplainConfig(n_steps=16), tmp_path)
    page = (tmp_path / "tokens.html").read_text()
    assert report["figures"] == ["tokens.html"] and page.count("<div class='r'>") == 10
    assert "<script" not in page and "http" not in page  # readable offline, nothing fetched
    assert "&lt;b&gt;" not in page and "<b>" not in page  # the tokenizer drops markup; nothing is injected
    assert report["completeness"]["relative_error"] < 0.05
    assert set(report["sanity"]["randomisation"]["checks"]) == {"layer_ig_real_tokens"}
    assert {r["feature"] for r in report["global_importance"]} <= set(ckpt.transform.vocab)


def test_probe_rows_are_seeded_class_balanced_and_model_free(text):
    ckpt, df = text
    first = ex.probe_positions(df, ckpt.transform, 6, seed=0)
    assert (first == ex.probe_positions(df, ckpt.transform, 6, seed=0)).all() and len(set(first)) == 6
    assert (df["label"].iloc[first].value_counts() == 3).all()
    assert (first != ex.probe_positions(df, ckpt.transform, 6, seed=1)).any()


def _image_frame(n=12, size=6):
    rng = np.random.default_rng(0)
    x = np.zeros((n, size, size))
    x[:, 2:4, 1:5] = rng.uniform(8, 16, (n, 2, 4))
    df = pd.DataFrame(x.reshape(n, -1), columns=[f"px_{i}" for i in range(size * size)]).assign(label=[0, 1] * (n // 2))
    return df, ImageTransform.fit(df, {"image_shape": [size, size]})


def test_image_perturbations_are_seeded_and_keep_the_background():
    df, t = _image_frame()
    ckpt = Checkpoint(None, "cnn", None, t, (1, 6, 6), {})
    ps = rb.perturbations(ckpt, df, df, RobustnessConfig(image_rotation=0.0))
    assert set(ps) == {"noise", "shift"}  # a strength of 0 leaves one out
    for p in ps.values():
        a, b, c = p(df, 0), p(df, 0), p(df, 1)
        assert a.equals(b) and not a.equals(c) and a.shape == df.shape and a["label"].equals(df["label"])
    shifted = ps["shift"](df, 0)[t.columns].to_numpy().reshape(-1, 6, 6)
    assert np.allclose(shifted[:, 0], 0.0)  # the blank border stays the (median border) background


def test_an_image_model_is_explained_after_it_predicted(tmp_path):
    """predict() runs under inference mode and converts the CNN to channels-last: explain must still work."""
    from components.models.cnn import CnnConfig

    df, t = _image_frame()
    cfg = CnnConfig(channels=[4], hidden=8, dropout=0.0)
    ckpt = Checkpoint(build_model("cnn", cfg, t, (1, 6, 6)).eval(), "cnn", cfg, t, (1, 6, 6), {})
    predict(ckpt, df)
    report = ex.explain(ckpt, df, ExplainConfig(n_steps=8, tolerance=0.5, per_class=1), tmp_path)
    assert {"class_0.png", "class_1.png", "global_importance.png"} >= set(report["figures"]) > set()
    assert report["completeness"]["relative_error"] <= 0.5


def test_text_and_tabular_perturbations():
    df = pd.DataFrame({"text": ["one two three four five six seven eight nine ten"] * 50})
    typos = rb.text_edit("typos", 0.3)(df, 0)["text"]
    changed = np.mean([sum(a != b for a, b in zip(s.split(), df["text"][0].split(), strict=False)) for s in typos])
    assert 1.5 < changed < 4.5  # ~30% of 10 words
    dropped = rb.text_edit("word_drop", 0.99)(df, 0)["text"]
    assert all(len(s.split()) >= 1 for s in dropped)
    x = pd.DataFrame({"u": np.zeros(20000), "v": np.zeros(20000)})
    noisy = rb.tabular_noise(["u", "v"], 0.1, np.array([1.0, 10.0]))(x, 0)
    assert noisy["u"].std() == pytest.approx(0.1, rel=0.05) and noisy["v"].std() == pytest.approx(1.0, rel=0.05)


def test_robust_metrics_are_named_by_metric_and_perturbation(linear):
    ckpt, df = linear
    figures, details = rb.robust_metrics(ckpt, df, df, RobustnessConfig(seeds=2, tabular_noise=0.5))
    clean = task_of(ckpt).score(ckpt.transform, df, predict(ckpt, df))
    assert clean["r2"] > 0.999  # the fixture's weights are the true ones
    assert set(figures) == {f"robust_{m}_noise" for m in clean} and details["noise"]["seeds"] == 2
    assert figures["robust_r2_noise"] < clean["r2"]
    only, _ = rb.robust_metrics(ckpt, df, df, RobustnessConfig(), only={"robust_r2_noise"})
    assert list(only) == ["robust_r2_noise"]
    assert rb.robust_metrics(ckpt, df, df, RobustnessConfig(enabled=False)) == ({}, {})


def test_membership_attack_measures_a_loss_gap():
    rng = np.random.default_rng(0)
    leak = loss_threshold_attack(rng.uniform(0, 0.1, 500), rng.uniform(0.2, 1, 500))
    assert leak["auc"] == 1.0 and leak["advantage"] == 1.0
    none = loss_threshold_attack(rng.uniform(0, 1, 5000), rng.uniform(0, 1, 5000))
    assert abs(none["auc"] - 0.5) < 0.03 and none["advantage"] < 0.05
    assert dp_advantage_bound(0.0, 0.0) == 0.0 < dp_advantage_bound(1.0, 1e-5) < dp_advantage_bound(8.0, 1e-5) < 1.0


def test_membership_inference_on_a_regressor(linear):
    ckpt, df = linear
    mia = membership_inference(ckpt, df.head(150), df.tail(150))
    assert mia["members"] == 150 and abs(mia["auc"] - 0.5) < 0.1  # exact weights: nothing memorised


def test_bootstrap_ci_brackets_the_estimate(linear):
    ckpt, df = linear
    task, preds = task_of(ckpt), predict(ckpt, df)
    noisy = preds + np.random.default_rng(0).normal(0, 0.5 * preds.std(), len(preds))
    ci = bootstrap_ci(task, ckpt.transform, df, noisy, samples=50)
    r2 = task.score(ckpt.transform, df, noisy)["r2"]
    assert ci["r2"][0] < r2 < ci["r2"][1] and ci["r2"][1] - ci["r2"][0] < 0.3
    assert bootstrap_ci(task, ckpt.transform, df, noisy, samples=0) == {}


def test_trust_floors_name_the_perturbation_and_the_budget():
    rule = gate.Rule(metric="accuracy", robustness={"robust_accuracy_noise": 0.6}, max_epsilon=8.0)
    brittle = gate.Scored(version="2", split_sha256="s", n_rows=10, value=0.9, robust={"robust_accuracy_noise": 0.5},
                          epsilon=None)
    assert gate.trust_reasons(brittle, rule) == [
        "brittle: robust_accuracy_noise 0.5000 < floor 0.6 (promote.robustness)",
        "not trained with differential privacy; promote.max_epsilon 8.0 requires it"]
    ok = gate.Scored(version="3", split_sha256="s", n_rows=10, value=0.9, robust={"robust_accuracy_noise": 0.7},
                     epsilon=7.9)
    assert gate.trust_reasons(ok, rule) == []
    assert gate.trust_reasons(ok.__class__(**{**ok.__dict__, "epsilon": 9.0}), rule) == [
        "privacy: epsilon 9 > promote.max_epsilon 8.0"]


def test_model_card_markdown():
    facts = {"name": "m", "version": "3", "family": "cnn", "kind": "image", "task": "classification",
             "architecture": {"hidden": 32}, "intended_use": "Classifies digits.", "dataset": "digits",
             "sizes": {"train": 10, "val": 2, "test": 3}, "tags": {"split_sha256": "ab" * 32, "run_id": "r1"},
             "metrics": {"accuracy": 0.9}, "ci95": {"accuracy": [0.85, 0.95]},
             "per_class": {"0": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2}},
             "robustness": {"robust_accuracy_noise": 0.7}, "membership": None,
             "privacy": {"epsilon": 7.99, "delta": 1e-5, "accountant": "rdp", "noise_multiplier": 1.07,
                         "max_grad_norm": 1.0, "sample_rate": 0.05, "steps": 600},
             "explanation": None, "gate": {"absolute": "pass", "reasons": [], "alias": "staging"}}
    card = modelcard.render(facts)
    assert card.startswith("# Model card: m v3") and "| accuracy | 0.9 | [0.85, 0.95] |" in card
    assert "accuracy_noise 0.7" in card and "epsilon 7.99 at delta 1e-05" in card and "aliased @staging" in card
    long = modelcard._fit(card + "x\n" * 6000)
    assert len(long) <= modelcard.MAX_CHARS and long.rstrip().endswith("artifact)*")


def test_rows_without_a_model_column_or_without_rows_are_refused_before_anything_is_written(linear, tmp_path):
    from components.core.errors import StageInputError

    ckpt, df = linear
    with pytest.raises(StageInputError, match=r"new.csv: missing column\(s\) \['b'\] \(the model takes 6: a..f\)"):
        ex.explain(ckpt, df.drop(columns=["b"]).head(8), ExplainConfig(), tmp_path / "out", {"source": "new.csv"})
    with pytest.raises(StageInputError, match="new.csv: no rows"):
        ex.explain(ckpt, df.head(0), ExplainConfig(), tmp_path / "out", {"source": "new.csv"})
    assert not (tmp_path / "out").exists()
