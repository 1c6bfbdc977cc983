"""The champion/challenger gate, pure: `decide_promotion(candidate, champion, rule) -> Decision`.

Both versions are scored on the same frozen test split (identified by its content hash). The rule asks
for an absolute bar, a minimum improvement over the champion, and a paired test at a set confidence:
a paired bootstrap CI of the metric difference (any metric the task can compute on a subset of rows:
accuracy, macro-F1, r2, MAE, ARI ...) and, for classification accuracy, McNemar's exact test on the
discordant rows. Trust floors refuse a candidate whatever its gain: a robust metric below its minimum
(`promote.robustness`), or a privacy budget above `promote.max_epsilon`. No I/O here: the adapter
(components/lifecycle/promote.py) loads models and writes reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from components.config.params import Params
from components.core.errors import ParamsError

TIE_TOL = 1e-12


class Rule(BaseModel):
    """The resolved gate for one family (params.yaml `promote` + the family's register bound)."""

    model_config = ConfigDict(frozen=True)
    metric: str
    higher_is_better: bool = True
    min_absolute: float | None = None  # a maximum when higher_is_better is False
    min_improvement: float = 0.0
    test: Literal["bootstrap", "mcnemar"] = "bootstrap"
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    seed: int = 0
    robustness: dict[str, float] = {}  # robust_<metric>_<perturbation> -> minimum
    max_epsilon: float | None = None


@dataclass(frozen=True)
class Scored:
    """One version scored on a test split.

    score(rows) gives the metric on a subset of the split's rows (integer indices, repeats allowed), the
    same way for both versions, so a bootstrap can resample rows in pairs. correct: per-row 0/1 for
    classification accuracy (McNemar), else None.
    """

    version: str
    split_sha256: str
    value: float
    n_rows: int
    score: Callable[[np.ndarray], float] | None = None
    correct: np.ndarray | None = None
    robust: dict[str, float] = field(default_factory=dict)  # the robust metrics the rule has floors for
    epsilon: float | None = None  # privacy spent (None: not trained with DP)

    @classmethod
    def from_rows(cls, version: str, split_sha256: str, per_row: np.ndarray, correct: bool = False) -> Scored:
        """A metric that is the mean of a per-row value (accuracy: 0/1 hits; MSE: squared errors)."""
        per_row = np.asarray(per_row, dtype=np.float64)
        return cls(version=version, split_sha256=split_sha256, value=float(per_row.mean()), n_rows=len(per_row),
                   score=lambda rows: float(per_row[rows].mean()), correct=per_row.astype(bool) if correct else None)


class Decision(BaseModel):
    """The gate's verdict with everything a reviewer needs to check it."""

    promote: bool
    verdict: Literal["promote", "refuse"]
    metric: str
    higher_is_better: bool
    threshold: float | None
    min_improvement: float
    candidate_version: str
    candidate_value: float | None  # None: the candidate could not be scored (only ever forced through)
    champion_version: str | None = None
    baseline_value: float | None = None
    delta: float | None = None  # candidate - champion, in metric units
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float
    test: str
    p_value: float | None = None
    n_rows: int
    split_sha256: str
    champion_split_sha256: str | None = None
    reasons: list[str]
    forced: bool = False
    force_reason: str | None = None
    robust: dict[str, float] = {}  # the candidate's robust metrics under the floors
    champion_robust: dict[str, float] = {}
    epsilon: float | None = None
    explanation_change: dict[str, Any] | None = None  # how the top features moved (set by the adapter)


def resolve_rule(params: Params) -> Rule:
    """The gate for the selected family: metric and bar default to its `register` bound."""
    cfg, reg = params.promote, params.registration
    metric = cfg.metric or next(iter(reg.min), None) or next(iter(reg.max), None)
    if metric is None:
        raise ParamsError(f"promote.metric: not set, and register.{params.model} has no min/max bound to take it from")
    higher = cfg.higher_is_better
    if higher is None:
        if metric not in reg.min and metric not in reg.max:
            raise ParamsError(f"promote.higher_is_better: needed for metric {metric!r} (not a register bound)")
        higher = metric in reg.min
    bound = cfg.min_absolute
    if bound is None:
        bound = (reg.min if higher else reg.max).get(metric)
    test = cfg.test
    is_accuracy = params.task == "classification" and metric == "accuracy"
    if test == "auto":
        test = "mcnemar" if is_accuracy else "bootstrap"
    elif test == "mcnemar" and not is_accuracy:
        raise ParamsError(f"promote.test: mcnemar applies to classification accuracy only, not {params.task} "
                          f"{metric!r}; use bootstrap")
    return Rule(metric=metric, higher_is_better=higher, min_absolute=bound, min_improvement=cfg.min_improvement,
                test=test, confidence=cfg.confidence, bootstrap_samples=cfg.bootstrap_samples, seed=cfg.seed,
                robustness=cfg.robustness, max_epsilon=cfg.max_epsilon)


def trust_reasons(candidate: Scored, rule: Rule) -> list[str]:
    """Why the candidate misses a trust floor: brittle under a perturbation, or too much privacy spent."""
    reasons = [f"brittle: {k} {candidate.robust[k]:.4f} < floor {floor} (promote.robustness)"
               for k, floor in rule.robustness.items() if candidate.robust[k] < floor]
    if rule.max_epsilon is not None:
        if candidate.epsilon is None:
            reasons.append(f"not trained with differential privacy; promote.max_epsilon {rule.max_epsilon} requires it")
        elif candidate.epsilon > rule.max_epsilon:
            reasons.append(f"privacy: epsilon {candidate.epsilon:.4g} > promote.max_epsilon {rule.max_epsilon}")
    return reasons


def paired_bootstrap(candidate: Scored, champion: Scored, samples: int, confidence: float,
                     seed: int) -> tuple[float, float, np.ndarray]:
    """Percentile CI of score(candidate) - score(champion) over rows resampled in pairs; the replicates."""
    rng = np.random.default_rng(seed)
    n = candidate.n_rows
    deltas = np.empty(samples)
    for b in range(samples):
        rows = rng.integers(0, n, size=n)  # the same rows for both versions: a paired resample
        deltas[b] = candidate.score(rows) - champion.score(rows)
    alpha = 1.0 - confidence
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), deltas


def mcnemar_p(candidate_correct: np.ndarray, champion_correct: np.ndarray) -> float:
    """Exact two-sided McNemar test: binomial on the rows exactly one of the two gets right."""
    from scipy.stats import binomtest

    only_candidate = int(np.sum(candidate_correct & ~champion_correct))
    only_champion = int(np.sum(~candidate_correct & champion_correct))
    discordant = only_candidate + only_champion
    return 1.0 if discordant == 0 else float(binomtest(only_candidate, discordant, 0.5).pvalue)


REGISTRATION_BARS_TAG = "gate.absolute"  # set by the register stage: "pass" | "fail" (register.min / max)
REGISTRATION_REASONS_TAG = "gate.absolute_reasons"  # what it missed, when it failed


def with_registration_bars(decision: Decision, tags: dict[str, str]) -> Decision:
    """A candidate that missed its registration bars (register.min / max: it was registered without the alias)
    is refused whatever the comparison says; only an override (--force --reason) moves it."""
    if tags.get(REGISTRATION_BARS_TAG) != "fail":
        return decision
    missed = tags.get(REGISTRATION_REASONS_TAG) or "see its model card"
    reason = f"v{decision.candidate_version} missed its registration bars (register.min / max): {missed}"
    return decision.model_copy(update={"promote": False, "verdict": "refuse", "reasons": [reason, *decision.reasons]})


def decide_promotion(candidate: Scored, champion: Scored | None, rule: Rule) -> Decision:
    """Promote only if the candidate meets the bar and beats the champion by enough, significantly."""
    m, sign = rule.metric, (1.0 if rule.higher_is_better else -1.0)
    base = dict(metric=m, higher_is_better=rule.higher_is_better, threshold=rule.min_absolute,
                min_improvement=rule.min_improvement, candidate_version=candidate.version,
                candidate_value=candidate.value, confidence=rule.confidence, test=rule.test,
                n_rows=candidate.n_rows, split_sha256=candidate.split_sha256, robust=candidate.robust,
                epsilon=candidate.epsilon)
    reasons: list[str] = []
    if champion is not None:
        base |= dict(champion_version=champion.version, baseline_value=champion.value,
                     champion_split_sha256=champion.split_sha256, champion_robust=champion.robust)
        if champion.split_sha256 != candidate.split_sha256 or champion.n_rows != candidate.n_rows:
            return Decision(promote=False, verdict="refuse", **base, reasons=[
                f"test split mismatch: candidate v{candidate.version} was evaluated on split "
                f"{candidate.split_sha256[:12]}, production v{champion.version} on {champion.split_sha256[:12]}; "
                "the two cannot be compared (re-train one on the other's split)"])
    if rule.min_absolute is not None and sign * (candidate.value - rule.min_absolute) < 0:
        word = "minimum" if rule.higher_is_better else "maximum"
        reasons.append(f"{m} {candidate.value:.4f} misses the absolute {word} {rule.min_absolute}")
    reasons += trust_reasons(candidate, rule)
    if champion is None:
        ok = not reasons
        if ok:
            reasons.append(f"no production version yet: {m} {candidate.value:.4f} meets the absolute bar "
                           f"{rule.min_absolute}, which alone decides")
        return Decision(promote=ok, verdict="promote" if ok else "refuse", **base, reasons=reasons)

    delta = candidate.value - champion.value
    gain = sign * delta
    low = high = p = None
    if candidate.score is not None and champion.score is not None:
        low, high, deltas = paired_bootstrap(candidate, champion, rule.bootstrap_samples, rule.confidence, rule.seed)
        # one-sided bootstrap p-value for "no gain": share of replicates without a gain
        p = float((1 + np.sum(sign * deltas <= 0)) / (len(deltas) + 1))
    if rule.test == "mcnemar" and candidate.correct is not None and champion.correct is not None:
        p = mcnemar_p(candidate.correct, champion.correct)
    vs = f"candidate v{candidate.version} {candidate.value:.4f} vs production v{champion.version} {champion.value:.4f}"
    if abs(delta) <= TIE_TOL:
        reasons.append(f"tie: {m} {vs}; no improvement")
    elif gain < 0:
        reasons.append(f"worse: {m} {vs} (delta {delta:+.4f})")
    else:
        if gain < rule.min_improvement:
            reasons.append(f"improvement too small: {m} delta {delta:+.4f} < minimum improvement "
                           f"{rule.min_improvement} ({vs})")
        alpha = 1.0 - rule.confidence
        if low is None:
            reasons.append("not significant: no per-row scores to test the difference")
        elif (low <= 0 if rule.higher_is_better else high >= 0):
            reasons.append(f"not significant: the {rule.confidence:.0%} paired bootstrap CI of the {m} difference "
                           f"[{low:+.4f}, {high:+.4f}] includes 0")
        elif rule.test == "mcnemar" and (p is None or p >= alpha):
            reasons.append(f"not significant: McNemar p = {p:.4g} >= {alpha:.3g}")
    ok = not reasons
    if ok:
        reasons.append(f"better: {m} {vs} (delta {delta:+.4f}, {rule.confidence:.0%} CI [{low:+.4f}, {high:+.4f}], "
                       f"{rule.test} p = {p:.4g})")
    return Decision(promote=ok, verdict="promote" if ok else "refuse", **base, delta=delta, ci_low=low, ci_high=high,
                    p_value=p, reasons=reasons)


def gate_tags(d: Decision) -> dict[str, str]:
    """A one-glance summary of the decision for the candidate version's tags."""
    fmt = lambda v: "" if v is None else f"{v:.6g}"  # noqa: E731
    tags = {"gate.verdict": "forced" if d.forced else d.verdict, "gate.metric": d.metric,
            "gate.candidate": fmt(d.candidate_value), "gate.baseline": fmt(d.baseline_value),
            "gate.champion": d.champion_version or "", "gate.delta": fmt(d.delta),
            "gate.ci": "" if d.ci_low is None else f"[{d.ci_low:.4g}, {d.ci_high:.4g}]",
            "gate.p_value": fmt(d.p_value), "gate.test": d.test, "gate.reasons": "; ".join(d.reasons)[:4000]}
    if d.forced:
        tags["gate.force_reason"] = d.force_reason or ""
    return tags


def render_markdown(d: Decision, model: str) -> str:
    """The gate report for people: verdict first, then the figures and the reasons."""
    fmt = lambda v: "—" if v is None else f"{v:.6g}"  # noqa: E731
    verdict = "FORCED (override)" if d.forced else d.verdict.upper()
    rows = [("metric", f"{d.metric} ({'higher' if d.higher_is_better else 'lower'} is better)"),
            ("absolute threshold", fmt(d.threshold)), ("minimum improvement", fmt(d.min_improvement)),
            ("candidate", f"v{d.candidate_version}: {fmt(d.candidate_value)}"),
            ("baseline (production)", f"v{d.champion_version}: {fmt(d.baseline_value)}" if d.champion_version
             else "none"),
            ("delta", fmt(d.delta)),
            (f"{d.confidence:.0%} CI of delta (paired bootstrap)",
             "—" if d.ci_low is None else f"[{d.ci_low:.4g}, {d.ci_high:.4g}]"),
            (f"p-value ({d.test})", fmt(d.p_value)), ("test rows", str(d.n_rows)),
            ("test split sha256", d.split_sha256)]
    lines = [f"# Promotion gate: {model} v{d.candidate_version}", "", f"**Verdict: {verdict}**", "",
             "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + ["", "## Reasons", ""]
    lines += [f"- {r}" for r in d.reasons]
    if d.robust or d.epsilon is not None:
        lines += ["", "## Trust floors", "", "| | candidate | production |", "|---|---|---|"]
        lines += [f"| {k} | {fmt(v)} | {fmt(d.champion_robust.get(k))} |" for k, v in d.robust.items()]
        lines += [f"| privacy epsilon | {fmt(d.epsilon)} | |"] if d.epsilon is not None else []
    c = d.explanation_change
    if c:
        lines += ["", f"## Top features (explanations on the {'same' if c['same_probe'] else 'DIFFERENT'} probe rows)",
                  "", f"Top {c['top']} overlap {c['overlap']}/{c['top']}; Spearman of the importance shares "
                  f"{fmt(c['spearman_shares'])}.", f"- candidate: {', '.join(map(str, c['candidate_top']))}",
                  f"- production: {', '.join(map(str, c['champion_top']))}",
                  f"- entered: {', '.join(map(str, c['entered'])) or '—'}; "
                  f"left: {', '.join(map(str, c['left'])) or '—'}"]
    if d.forced:
        lines += ["", f"**Override reason:** {d.force_reason}"]
    return "\n".join(lines) + "\n"
