"""decide_promotion, the pure champion/challenger gate: first model, better, worse, tie, better but not
significant, mismatched split; rule resolution per task; the report."""

import numpy as np
import pytest

from components.core.errors import ParamsError
from components.lifecycle.gate import (
    Rule,
    Scored,
    decide_promotion,
    gate_tags,
    mcnemar_p,
    render_markdown,
    resolve_rule,
)
from tests.helpers import params_with

SPLIT = "a" * 64
ACC = Rule(metric="accuracy", min_absolute=0.8, test="mcnemar", bootstrap_samples=500)


def hits(n: int, right: int, seed: int = 0, base: np.ndarray | None = None, flip: int = 0) -> np.ndarray:
    """0/1 per-row correctness: `right` of `n` rows right (or `base` with `flip` wrong rows made right)."""
    if base is not None:
        out = base.copy()
        out[np.flatnonzero(out == 0)[:flip]] = 1
        return out
    out = np.zeros(n)
    out[np.random.default_rng(seed).permutation(n)[:right]] = 1
    return out


def scored(version: str, per_row: np.ndarray, split: str = SPLIT) -> Scored:
    return Scored.from_rows(version, split, per_row, correct=True)


def test_first_model_is_decided_by_the_absolute_bar_alone():
    ok = decide_promotion(scored("1", hits(300, 270)), None, ACC)
    assert ok.promote and ok.verdict == "promote" and ok.champion_version is None and ok.delta is None
    assert "no production version yet" in ok.reasons[0] and "0.9000" in ok.reasons[0]
    low = decide_promotion(scored("1", hits(300, 210)), None, ACC)
    assert not low.promote and low.reasons == ["accuracy 0.7000 misses the absolute minimum 0.8"]


def test_clearly_better_candidate_is_promoted_with_ci_and_p_value():
    champ = hits(400, 340)
    d = decide_promotion(scored("2", hits(0, 0, base=champ, flip=40)), scored("1", champ), ACC)
    assert d.promote and d.verdict == "promote"
    assert d.delta == pytest.approx(0.1) and d.baseline_value == pytest.approx(0.85)
    assert 0 < d.ci_low < 0.1 < d.ci_high and d.p_value < 1e-6
    assert d.reasons[0].startswith("better: accuracy candidate v2 0.9500 vs production v1 0.8500")


def test_worse_candidate_is_refused_naming_both_values():
    champ = hits(400, 380)
    worse = champ.copy()
    worse[np.flatnonzero(worse == 1)[:40]] = 0
    d = decide_promotion(scored("2", worse), scored("1", champ), ACC)
    assert not d.promote and d.verdict == "refuse" and d.delta == pytest.approx(-0.1)
    assert any(r.startswith("worse: accuracy candidate v2 0.8500 vs production v1 0.9500") for r in d.reasons)


def test_tie_is_refused():
    same = hits(400, 360)
    d = decide_promotion(scored("2", same.copy()), scored("1", same), ACC)
    assert not d.promote and d.delta == 0 and d.p_value == 1.0
    assert d.reasons == ["tie: accuracy candidate v2 0.9000 vs production v1 0.9000; no improvement"]


def test_better_but_not_significant_is_refused():
    champ = hits(400, 340)
    d = decide_promotion(scored("2", hits(0, 0, base=champ, flip=2)), scored("1", champ), ACC)
    assert not d.promote and d.delta == pytest.approx(0.005)
    assert d.ci_low <= 0 or d.p_value >= 0.05
    assert any(r.startswith("not significant") for r in d.reasons)


def test_better_but_below_the_minimum_improvement_is_refused():
    champ = hits(400, 340)
    rule = ACC.model_copy(update={"min_improvement": 0.2})
    d = decide_promotion(scored("2", hits(0, 0, base=champ, flip=40)), scored("1", champ), rule)
    assert not d.promote and any("improvement too small" in r and "0.2" in r for r in d.reasons)


def test_mismatched_test_split_is_refused_before_comparing():
    d = decide_promotion(scored("2", hits(300, 299)), scored("1", hits(300, 200), split="b" * 64), ACC)
    assert not d.promote and d.delta is None
    assert d.reasons[0].startswith("test split mismatch: candidate v2 was evaluated on split aaaaaaaaaaaa, "
                                   "production v1 on bbbbbbbbbbbb")


def test_lower_is_better_metric_uses_the_bootstrap_on_any_per_row_metric():
    rng = np.random.default_rng(0)
    champ_err = rng.normal(0, 1.0, 500) ** 2
    rule = Rule(metric="mse", higher_is_better=False, min_absolute=2.0, test="bootstrap", bootstrap_samples=400)
    better = decide_promotion(Scored.from_rows("2", SPLIT, champ_err * 0.5), Scored.from_rows("1", SPLIT, champ_err),
                              rule)
    assert better.promote and better.delta < 0 and better.ci_high < 0
    worse = decide_promotion(Scored.from_rows("2", SPLIT, champ_err * 1.5), Scored.from_rows("1", SPLIT, champ_err),
                             rule)
    assert not worse.promote and worse.reasons[0].startswith("worse: mse")


def test_non_mean_metric_is_bootstrapped_through_its_score_function():
    """r2 is not a mean of per-row values: the gate resamples rows and recomputes it for both versions."""
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    good, bad = y + rng.normal(0, 0.3, 300), y + rng.normal(0, 0.9, 300)

    def r2(pred):
        return lambda rows: 1 - ((y[rows] - pred[rows]) ** 2).sum() / ((y[rows] - y[rows].mean()) ** 2).sum()

    full = np.arange(300)
    cand = Scored("2", SPLIT, r2(good)(full), 300, score=r2(good))
    champ = Scored("1", SPLIT, r2(bad)(full), 300, score=r2(bad))
    d = decide_promotion(cand, champ, Rule(metric="r2", min_absolute=0.4, bootstrap_samples=300))
    assert d.promote and d.ci_low > 0 and d.test == "bootstrap"


def test_mcnemar_counts_only_discordant_rows():
    a = np.array([1, 1, 1, 1, 0, 0], bool)
    assert mcnemar_p(a, a) == 1.0
    assert mcnemar_p(np.ones(20, bool), np.zeros(20, bool)) < 1e-5


def test_rule_comes_from_the_family_register_bound():
    cnn = resolve_rule(params_with())
    assert (cnn.metric, cnn.higher_is_better, cnn.min_absolute, cnn.test) == ("accuracy", True, 0.97, "mcnemar")
    lin = resolve_rule(params_with({"model": "linear"}))
    assert (lin.metric, lin.min_absolute, lin.test) == ("r2", 0.40, "bootstrap")
    custom = resolve_rule(params_with({"model": "linear", "promote.metric": "mae", "promote.higher_is_better": False,
                                       "promote.min_absolute": 60.0}))
    assert (custom.metric, custom.higher_is_better, custom.min_absolute) == ("mae", False, 60.0)
    with pytest.raises(ParamsError, match="mcnemar applies to classification accuracy only"):
        resolve_rule(params_with({"model": "linear", "promote.test": "mcnemar"}))
    with pytest.raises(ParamsError, match="promote.higher_is_better: needed"):
        resolve_rule(params_with({"promote.metric": "macro_f1"}))


def test_promote_params_are_strict():
    with pytest.raises(ParamsError, match="promote.confidance: unknown key"):
        params_with({"promote.confidance": 0.9})


def test_report_and_tags_name_metric_values_and_reasons():
    champ = hits(400, 380)
    d = decide_promotion(scored("2", hits(400, 300)), scored("1", champ), ACC)
    md = render_markdown(d, "digits-cnn")
    assert "**Verdict: REFUSE**" in md and "| candidate | v2: 0.75 |" in md
    assert "| baseline (production) | v1: 0.95 |" in md
    assert "misses the absolute minimum 0.8" in md and "p-value (mcnemar)" in md
    tags = gate_tags(d)
    assert tags["gate.verdict"] == "refuse" and tags["gate.metric"] == "accuracy" and tags["gate.champion"] == "1"
    assert tags["gate.candidate"] == "0.75" and "worse" in tags["gate.reasons"]
