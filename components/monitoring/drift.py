"""Keel's drift check: which tests a check runs. The rule that decides them is rule.py; the statistics: stats.py.

A `DriftMonitor` is fitted once on a reference (the version's test split: data the model did not train on) and
checks windows of scored rows. Per numeric column: KS (D, p), Wasserstein-1 / reference std, PSI; per
categorical column: chi-squared and Jensen-Shannon distance; multivariate: a domain classifier (reference vs
window, cross-validated ROC-AUC), MMD^2 on the model's embeddings (images, text), prediction drift, and on a
labelled window the model's metric against its test score.

THE RULE. A test fires only when BOTH
  1. its p-value, corrected for the number of tests, is below alpha: the tests form two families, per-column and
     multivariate; each gets its share of alpha and is corrected by Holm (default) or Benjamini-Hochberg, so the
     check's false-alarm rate is <= alpha however many columns, and a 64-column table leaves the embedding test's
     permutation p-value reachable; and
  2. its effect size reaches its threshold (`monitor` in params.yaml), so a large window with a negligible shift
     (KS p ~ 1e-20 on 200k rows, D = 0.01) does not alarm.
The check drifts when any test fires; `DriftResult.fired` names the columns and tests that did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from components.config.monitor import MonitorConfig
from components.core.errors import StageInputError
from components.monitoring.rule import COLUMNS, MULTI, DriftResult, TestResult, decide, fired_name
from components.monitoring.stats import (
    METRICS,
    as_labels,
    categorical_counts,
    chi2_counts,
    domain_classifier,
    finite,
    js_distance,
    ks_test,
    ks_wasserstein,
    median_bandwidth,
    mmd_test,
    psi,
    quantile_edges,
    scale,
)


def performance_test(y_true: Sequence[Any], y_pred: Sequence[Any], test_score: float, metric: str = "accuracy",
                     drop_min: float = 0.05, bootstrap: int = 1000, seed: int = 0) -> TestResult:
    """The window's metric vs the model's test score: bootstrap CI (95 %) and one-sided bootstrap p of
    "the window is at least as good as the test score". Effect = the drop (test - window for higher-is-better
    metrics, window - test for errors). Unadjusted verdict (p < 0.05 and drop >= drop_min); a check re-decides."""
    fn, higher = METRICS[metric]
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    rng = np.random.default_rng(seed)
    score = fn(y_true, y_pred)
    if n == 0:
        return TestResult(test="performance", target=f"performance:{metric}", family=MULTI, statistic=float("nan"),
                          p_value=1.0, effect_name="drop", effect=0.0, threshold=drop_min, n_reference=0, n_current=0)
    boots = np.empty(bootstrap)
    for b in range(bootstrap):
        i = rng.integers(0, n, n)
        boots[b] = fn(y_true[i], y_pred[i])
    as_good = boots >= test_score if higher else boots <= test_score
    p = (1.0 + np.sum(as_good)) / (1.0 + bootstrap)
    drop = (test_score - score) if higher else (score - test_score)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return TestResult(test="performance", target=f"performance:{metric}", family=MULTI, statistic=score,
                      p_value=float(p), p_adjusted=float(p), effect_name="drop", effect=float(drop),
                      threshold=drop_min, drift=bool(p < 0.05 and drop >= drop_min), n_reference=0, n_current=n,
                      extra={"test_score": float(test_score), "ci_low": float(lo), "ci_high": float(hi)})


def is_categorical(s: pd.Series) -> bool:
    """Strings, categories and booleans are compared as categories; numbers as distributions."""
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


class DriftMonitor:
    """Fitted on a reference window once; `check` compares a current window with it.

    reference: the feature frame (numeric and categorical columns; `columns` picks a subset);
    embeddings: (n, d) array of model embeddings of the reference rows (images, text), optional;
    predictions: the model's predictions on the reference rows, optional.
    """

    def __init__(self, config: MonitorConfig | None = None):
        self.config = config or MonitorConfig()

    def fit(self, reference: pd.DataFrame, embeddings: np.ndarray | None = None,
            predictions: Sequence[Any] | None = None, columns: list[str] | None = None,
            categorical: list[str] | None = None, domain_classifier: bool = True) -> DriftMonitor:
        """Keep what every check compares against: sorted columns, category levels, a fixed embedding sample."""
        cfg = self.config
        self.columns = [str(c) for c in (columns if columns is not None else reference.columns)]
        cat = set(categorical or []) | {c for c in self.columns if is_categorical(reference[c])}
        self.categorical = [c for c in self.columns if c in cat]
        self.numeric = [c for c in self.columns if c not in cat]
        self.n_reference = len(reference)
        self._num = {}
        for c in self.numeric:
            x = np.sort(finite(reference[c].to_numpy()))
            self._num[c] = (x, float(np.mean(x)) if len(x) else 0.0, scale(x), quantile_edges(x, cfg.psi_bins))
        self._cat = {c: reference[c].to_numpy() for c in self.categorical}
        self._cat_levels = {c: sorted(pd.Series(v).dropna().unique().tolist(), key=str) for c, v in self._cat.items()}
        self._x = reference[self.numeric].to_numpy(dtype=float) if (domain_classifier and self.numeric) else None
        self._emb = None
        if embeddings is not None:
            self._emb = np.asarray(embeddings, dtype=np.float64)
            if len(self._emb) > cfg.mmd_max_rows:  # fixed reference subsample and bandwidth: same for every check
                rng = np.random.default_rng(cfg.seed)
                self._emb = self._emb[rng.choice(len(self._emb), cfg.mmd_max_rows, replace=False)]
            self._sigma = median_bandwidth(self._emb, seed=cfg.seed)
        self._pred = None if predictions is None else np.asarray(predictions)
        return self

    # -- single tests

    def _numeric_test(self, c: str, current: np.ndarray) -> TestResult:
        cfg = self.config
        ref, _, ref_scale, edges = self._num[c]
        cur = finite(current)
        d, p, w = ks_wasserstein(ref, cur)
        w /= ref_scale
        value, _, rp, cp = psi(ref, cur, eps=cfg.psi_eps, edges=edges)
        effects = {"ks": d, "wasserstein": w, "psi": value}
        thresholds = {"ks": cfg.ks_min, "wasserstein": cfg.wasserstein_min, "psi": cfg.psi_min}
        name = cfg.numeric_effect
        labels = _bin_labels(edges)
        return TestResult(test="ks", target=c, family=COLUMNS, statistic=d, p_value=p, effect_name=name,
                          effect=effects[name], threshold=thresholds[name], n_reference=len(ref), n_current=len(cur),
                          extra={"ks_d": d, "wasserstein_norm": w, "psi": value},
                          histogram={"bins": labels, "reference": rp.round(6).tolist(),
                                     "current": cp.round(6).tolist()})

    def _categorical_test(self, target: str, ref: Any, cur: Any, threshold: float, test: str = "chi2",
                          family: str = COLUMNS, levels: list[Any] | None = None) -> TestResult:
        cats, rc, cc = categorical_counts(ref, cur, levels)
        stat, p = chi2_counts(rc, cc)
        js = js_distance(rc, cc)
        return TestResult(test=test, target=target, family=family, statistic=stat, p_value=p, effect_name="js",
                          effect=js, threshold=threshold, n_reference=int(rc.sum()), n_current=int(cc.sum()),
                          histogram={"bins": [str(x) for x in cats],
                                     "reference": (rc / max(rc.sum(), 1)).round(6).tolist(),
                                     "current": (cc / max(cc.sum(), 1)).round(6).tolist()})

    def _prediction_test(self, current: np.ndarray) -> TestResult:
        cfg = self.config
        ref = self._pred
        labels = (not np.issubdtype(ref.dtype, np.floating) or len(np.unique(ref)) <= cfg.max_categories)
        if labels:
            return self._categorical_test("prediction", ref, current, cfg.prediction_js_min, "prediction_chi2", MULTI)
        d, p = ks_test(ref, current)
        w = float(scipy_stats.wasserstein_distance(finite(ref), finite(current))) / scale(finite(ref))
        return TestResult(test="prediction_ks", target="prediction", family=MULTI, statistic=d, p_value=p,
                          effect_name="ks", effect=d, threshold=cfg.prediction_ks_min, n_reference=len(ref),
                          n_current=len(current), extra={"wasserstein_norm": w})

    # -- the check

    def check(self, current: pd.DataFrame, embeddings: np.ndarray | None = None,
              predictions: Sequence[Any] | None = None, labels: Sequence[Any] | None = None,
              test_score: float | None = None, metric: str = "accuracy",
              late: tuple[Sequence[Any], Sequence[Any]] | None = None) -> DriftResult:
        """Run every test that the fitted reference and the given inputs allow, then decide.

        labels + predictions + test_score: also the performance test (metric on this window vs test_score);
        `late` (labels, predictions) of rows outside the window join the performance test only."""
        cfg, t0 = self.config, time.perf_counter()
        missing = [c for c in self.columns if c not in current.columns]
        if missing:
            raise StageInputError(f"the window lacks {len(missing)} column(s) of the reference: {missing[:10]}")
        tests: list[TestResult] = []
        for c in self.numeric:
            tests.append(self._numeric_test(c, current[c].to_numpy()))
        for c in self.categorical:
            tests.append(self._categorical_test(c, self._cat[c], current[c].to_numpy(), cfg.js_min,
                                                levels=self._cat_levels[c]))
        if self._x is not None:
            cur = current[self.numeric].to_numpy(dtype=float)
            auc, p, n_r, n_c = domain_classifier(self._x, cur, cfg.domain_folds, cfg.domain_max_rows, cfg.seed)
            tests.append(TestResult(test="domain_classifier", target="domain", family=MULTI, statistic=auc,
                                    p_value=p, effect_name="auc", effect=auc, threshold=cfg.domain_auc_min,
                                    n_reference=n_r, n_current=n_c))
        if self._emb is not None and embeddings is not None:
            mmd2, p, sigma, n_r, n_c = mmd_test(self._emb, np.asarray(embeddings), self._sigma,
                                                cfg.mmd_permutations, cfg.mmd_max_rows, cfg.seed)
            tests.append(TestResult(test="mmd", target="embedding", family=MULTI, statistic=mmd2, p_value=p,
                                    effect_name="mmd2", effect=mmd2, threshold=cfg.mmd_min, n_reference=n_r,
                                    n_current=n_c, extra={"sigma": sigma}))
        if self._pred is not None and predictions is not None:
            tests.append(self._prediction_test(pd.Series(predictions).dropna().to_numpy()))
        if labels is not None and predictions is not None and test_score is not None:
            y, yhat = np.asarray(labels), np.asarray(predictions)
            if late is not None and len(late[0]):  # rows of earlier windows labelled since (window `new`)
                y, yhat = np.concatenate([y, np.asarray(late[0])]), np.concatenate([yhat, np.asarray(late[1])])
            tests += labelled_tests(y, yhat, test_score, metric, cfg)
        return decided(tests, cfg, self.n_reference, len(current), t0)


def decided(tests: list[TestResult], cfg: MonitorConfig, n_reference: int, n_current: int,
            t0: float) -> DriftResult:
    """The tests decided by the rule, as a result (`t0`: when the check started)."""
    tests = decide(tests, cfg)
    fired = [fired_name(t) for t in tests if t.drift]
    return DriftResult(drift=bool(fired), fired=fired, tests=tests, n_reference=n_reference, n_current=n_current,
                       alpha=cfg.alpha, correction=cfg.correction, seconds=time.perf_counter() - t0,
                       config=cfg.model_dump(exclude={"log", "suite"}))


def labelled_tests(labels: Sequence[Any], predictions: Sequence[Any], test_score: float, metric: str,
                   cfg: MonitorConfig) -> list[TestResult]:
    """The performance test on the rows whose labels arrived (`keel feedback`); none when no row has one."""
    known = pd.notna(pd.Series(labels)).to_numpy() & pd.notna(pd.Series(predictions)).to_numpy()
    if not known.any():
        return []
    y, yhat = np.asarray(labels)[known], np.asarray(predictions)[known]
    if metric == "accuracy":
        y, yhat = as_labels(y), as_labels(yhat)
    return [performance_test(y, yhat, test_score, metric, cfg.performance_drop_min, cfg.bootstrap, cfg.seed)]


def check_performance(labels: Sequence[Any], predictions: Sequence[Any], test_score: float, metric: str,
                      cfg: MonitorConfig) -> DriftResult:
    """The performance test alone, decided: late labels of rows already checked for drift."""
    t0 = time.perf_counter()
    return decided(labelled_tests(labels, predictions, test_score, metric, cfg), cfg, 0, len(labels), t0)


def _bin_labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all"]
    e = [f"{x:.4g}" for x in edges]
    return [f"<={e[0]}"] + [f"({a},{b}]" for a, b in zip(e[:-1], e[1:], strict=True)] + [f">{e[-1]}"]
