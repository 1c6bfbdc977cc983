"""Keel's drift rule, pure: a check's tests and result, and when a test fires (see drift.py's docstring).
`decide` re-decides stored tests under other thresholds without recomputing them (bench/drift.py, reports)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from components.config.monitor import MonitorConfig
from components.monitoring.stats import benjamini_hochberg, holm

COLUMNS, MULTI = "columns", "multivariate"  # the two test families


class TestResult(BaseModel):
    """One test of one check."""

    __test__ = False  # not a pytest class
    test: str  # ks | chi2 | domain_classifier | mmd | prediction_chi2 | prediction_ks | performance
    target: str  # the column, or "domain" / "embedding" / "prediction" / "performance:<metric>"
    family: Literal["columns", "multivariate"]
    statistic: float
    p_value: float
    p_adjusted: float = 1.0
    effect_name: str
    effect: float
    threshold: float
    drift: bool = False
    n_reference: int
    n_current: int
    extra: dict[str, float] = {}  # the other effect sizes (e.g. psi, wasserstein_norm), CI bounds
    histogram: dict[str, list] | None = None  # bins/labels + reference and current proportions (for the report)


class DriftResult(BaseModel):
    """The outcome of one check."""

    drift: bool
    fired: list[str]  # "column:<name>", "domain", "embedding", "prediction", "performance:<metric>"
    tests: list[TestResult]
    n_reference: int
    n_current: int
    alpha: float
    correction: str
    seconds: float
    config: dict[str, Any]

    def summary_table(self, only_fired: bool = False, limit: int | None = None) -> str:
        """Plain-text table, one line per test, drifting tests first then by effect/threshold."""
        rows = sorted(self.tests, key=lambda t: (not t.drift, -_ratio(t)))
        rows = [t for t in rows if t.drift] if only_fired else rows
        shown = rows[:limit] if limit else rows
        head = f"{'target':<22} {'test':<17} {'statistic':>10} {'p':>9} {'p_adj':>9} {'effect':>22} {'thr':>7}  verdict"
        lines = [f"DRIFT: {self.fired_brief()}" if self.drift else "no drift",
                 f"reference {self.n_reference} rows, current {self.n_current} rows, {len(self.tests)} tests, "
                 f"alpha {self.alpha} ({self.correction} per family), {self.seconds:.2f} s", head, "-" * len(head)]
        for t in shown:
            effect = f"{t.effect_name}={t.effect:.4g}"
            lines.append(f"{t.target[:22]:<22} {t.test:<17} {t.statistic:>10.4g} {t.p_value:>9.2e} "
                         f"{t.p_adjusted:>9.2e} {effect:>22} {t.threshold:>7.3g}  {'DRIFT' if t.drift else 'ok'}")
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more tests")
        return "\n".join(lines)


    def fired_brief(self, columns: int = 8) -> str:
        """The fired tests, at most `columns` column names then a count."""
        cols = [f.removeprefix("column:") for f in self.fired if f.startswith("column:")]
        other = [f for f in self.fired if not f.startswith("column:")]
        text = ""
        if cols:
            more = f" +{len(cols) - columns} more" if len(cols) > columns else ""
            text = f"{len(cols)} column(s) [{', '.join(cols[:columns])}{more}]"
        return "; ".join([text] * bool(text) + other)


def _ratio(t: TestResult) -> float:
    return t.effect / t.threshold if t.threshold > 0 else float("inf") if t.effect > 0 else 0.0


def effect_of(t: TestResult, cfg: MonitorConfig) -> tuple[str, float, float]:
    """(effect name, value, threshold) of a test under `cfg` (numeric columns: cfg.numeric_effect)."""
    if t.test == "ks":
        name = cfg.numeric_effect
        key = {"ks": "ks_d", "wasserstein": "wasserstein_norm", "psi": "psi"}[name]
        return name, t.extra[key], {"ks": cfg.ks_min, "wasserstein": cfg.wasserstein_min, "psi": cfg.psi_min}[name]
    threshold = {"chi2": cfg.js_min, "domain_classifier": cfg.domain_auc_min, "mmd": cfg.mmd_min,
                 "prediction_chi2": cfg.prediction_js_min, "prediction_ks": cfg.prediction_ks_min,
                 "performance": cfg.performance_drop_min}[t.test]
    return t.effect_name, t.effect, threshold


def decide(tests: list[TestResult], cfg: MonitorConfig) -> list[TestResult]:
    """Keel's rule: per family, correct the p-values (Holm or BH at the family's share of alpha); a test fires
    when its corrected p < the family's alpha AND its effect >= its threshold (from `cfg`, so stored tests can
    be re-decided under other thresholds without recomputing them)."""
    adjust = holm if cfg.correction == "holm" else benjamini_hochberg
    shares = {COLUMNS: cfg.columns_alpha_share, MULTI: 1.0 - cfg.columns_alpha_share}
    present = {t.family for t in tests}
    if len(present) == 1:  # one family: it gets the whole alpha
        shares = {f: 1.0 for f in present}
    out = []
    for family in (COLUMNS, MULTI):
        members = [t for t in tests if t.family == family]
        if not members:
            continue
        adjusted = adjust([t.p_value for t in members])
        level = cfg.alpha * shares[family]
        for t, pa in zip(members, adjusted, strict=True):
            name, effect, threshold = effect_of(t, cfg)
            out.append(t.model_copy(update={"p_adjusted": float(pa), "effect_name": name, "effect": effect,
                                            "threshold": threshold, "drift": bool(pa < level and effect >= threshold)}))
    return out


def fired_name(t: TestResult) -> str:
    """How `DriftResult.fired` names a fired test: `column:<name>` or the multivariate test's target."""
    return f"column:{t.target}" if t.family == COLUMNS else t.target
