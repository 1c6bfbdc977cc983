"""Drift statistics, pure (numpy, scipy, scikit-learn): two-sample tests and effect sizes per column, the
domain classifier, MMD with a permutation test, corrections for many tests. Keel's decision rule on top of them
is in drift.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

# ---------------------------------------------------------------- multiple-testing corrections


def _adjusted(p: Sequence[float], method: str) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    return p if len(p) == 0 else multipletests(p, method=method)[1]


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate)."""
    return _adjusted(p, "holm")


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate)."""
    return _adjusted(p, "fdr_bh")


# ---------------------------------------------------------------- univariate statistics


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4,
        edges: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Population stability index on bins cut at the reference's quantiles.

    Bins are (-inf, e1], (e1, e2], ..., (ek, inf) with e = the unique inner quantiles of the reference, so a
    point mass (e.g. a pixel that is 0 in 80 % of images) keeps a bin of its own. Empty-bin proportions are
    floored at `eps`. Returns (psi, edges, reference proportions, current proportions).
    """
    reference, current = finite(reference), finite(current)
    if edges is None:
        edges = quantile_edges(reference, bins)
    r = _proportions(reference, edges)
    c = _proportions(current, edges)
    rf, cf = np.maximum(r, eps), np.maximum(c, eps)
    return float(np.sum((cf - rf) * np.log(cf / rf))), edges, r, c


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The unique inner quantile cut points of the reference (bins - 1 at most)."""
    if len(reference) == 0:
        return np.array([])
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1], method="linear"))


def _proportions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
    return counts / max(len(x), 1)


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint supports)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def categorical_counts(reference: Sequence[Any], current: Sequence[Any],
                       categories: list[Any] | None = None) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Counts of reference and current over the union of their categories (reference's first, then new ones)."""
    ref = pd.Series(reference).dropna()
    cur = pd.Series(current).dropna()
    cats = list(categories) if categories is not None else sorted(ref.unique().tolist(), key=str)
    new = sorted(set(cur.unique().tolist()) - set(cats), key=str)
    cats = cats + new
    rc = ref.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    cc = cur.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    return cats, rc, cc


def chi2_counts(rc: np.ndarray, cc: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity on the 2 x K table (categories empty in both are dropped)."""
    keep = (rc + cc) > 0
    if keep.sum() < 2 or rc.sum() == 0 or cc.sum() == 0:
        return 0.0, 1.0
    res = stats.chi2_contingency(np.vstack([rc[keep], cc[keep]]), correction=False)
    return float(res.statistic), float(res.pvalue)


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS (statistic D, two-sided p); scipy picks exact or asymptotic p by size."""
    reference, current = finite(reference), finite(current)
    if len(reference) == 0 or len(current) == 0:
        return 0.0, 1.0
    res = stats.ks_2samp(reference, current)
    return float(res.statistic), float(res.pvalue)


def ks_wasserstein(ref_sorted: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """KS statistic D, its two-sided p and the Wasserstein-1 distance from ONE sort of the current sample
    (scipy's ks_2samp and wasserstein_distance sort both samples each: 3x slower on a 100k-row window).
    `ref_sorted`: the finite reference values, sorted. p: scipy's exact/asymptotic choice (exact when both
    samples have <= 10,000 rows), the asymptotic Kolmogorov distribution otherwise, as ks_2samp does."""
    cur = np.sort(finite(current))
    n, m = len(ref_sorted), len(cur)
    if n == 0 or m == 0:
        return 0.0, 1.0, 0.0
    grid = np.unique(np.concatenate([ref_sorted, cur]))  # the union of values (sorted)
    diff = np.abs(np.searchsorted(ref_sorted, grid, side="right") / n - np.searchsorted(cur, grid, side="right") / m)
    d = float(diff.max())
    w = float(np.sum(diff[:-1] * np.diff(grid)))
    if max(n, m) <= 10_000:
        p = float(stats.ks_2samp(ref_sorted, cur).pvalue)
    else:
        big, small = max(n, m), min(n, m)
        p = float(stats.kstwo.sf(d, np.round(big * small / (big + small))))
    return d, min(max(p, 0.0), 1.0), w


def finite(x: Any) -> np.ndarray:
    """The finite values, as float64."""
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def scale(x: np.ndarray) -> float:
    """The reference scale for Wasserstein: its std; for a constant reference column, |its value|, or 1 (raw
    units) when that is 0, so that a constant column that starts to move gets a finite effect."""
    s = float(np.std(x)) if len(x) else 0.0
    if s > 1e-12:
        return s
    m = abs(float(np.mean(x))) if len(x) else 0.0
    return m if m > 1e-12 else 1.0


# ---------------------------------------------------------------- multivariate statistics


def auc_p_value(auc: float, n_pos: int, n_neg: int) -> float:
    """One-sided p of AUC > 0.5 under H0 (exchangeable labels): normal approximation of Mann-Whitney U."""
    sd = np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg))
    return float(stats.norm.sf((auc - 0.5) / sd))


def domain_classifier(reference: np.ndarray, current: np.ndarray, folds: int = 5, max_rows: int = 2000,
                      seed: int = 0) -> tuple[float, float, int, int]:
    """Cross-validated ROC-AUC of a logistic regression telling current rows from reference rows.

    Both sides are subsampled to the same size (min of the two and `max_rows`), standardised by the reference
    (NaN -> 0, the reference mean). Returns (auc, one-sided p, rows per side used)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(reference), len(current), max_rows)
    if n < folds * 2:
        return 0.5, 1.0, n, n
    r = reference[rng.choice(len(reference), n, replace=False)]
    c = current[rng.choice(len(current), n, replace=False)]
    mu, sd = np.nanmean(reference, axis=0), np.nanstd(reference, axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    x = np.nan_to_num((np.vstack([r, c]) - mu) / sd, nan=0.0, posinf=1e6, neginf=-1e6)
    x = np.clip(x, -1e6, 1e6)
    y = np.r_[np.zeros(n), np.ones(n)]
    model = LogisticRegression(C=1.0, max_iter=300)
    scores = cross_val_predict(model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                               method="decision_function")
    auc = float(roc_auc_score(y, scores))
    return auc, auc_p_value(auc, n, n), n, n


def median_bandwidth(x: np.ndarray, max_rows: int = 1000, seed: int = 0) -> float:
    """Median heuristic: sigma = the median pairwise Euclidean distance (on at most max_rows rows)."""
    rng = np.random.default_rng(seed)
    if len(x) > max_rows:
        x = x[rng.choice(len(x), max_rows, replace=False)]
    d2 = _sqdist(x, x)[np.triu_indices(len(x), 1)]
    med = float(np.median(d2[d2 > 0])) if np.any(d2 > 0) else 1.0
    return float(np.sqrt(med))


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aa, bb = np.sum(a * a, axis=1)[:, None], np.sum(b * b, axis=1)[None, :]
    return np.maximum(aa + bb - 2.0 * a @ b.T, 0.0)


def mmd_test(reference: np.ndarray, current: np.ndarray, sigma: float | None = None, permutations: int = 500,
             max_rows: int = 500, seed: int = 0) -> tuple[float, float, float, int, int]:
    """Unbiased MMD^2 with the RBF kernel k(x, y) = exp(-|x - y|^2 / (2 sigma^2)) and its permutation p-value.

    Each side is subsampled to `max_rows`. sigma defaults to the median heuristic on the reference.
    Returns (mmd2, p, sigma, n_reference_used, n_current_used). p = (1 + #{perm >= observed}) / (1 + permutations).
    """
    rng = np.random.default_rng(seed)
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if len(reference) > max_rows:
        reference = reference[rng.choice(len(reference), max_rows, replace=False)]
    if len(current) > max_rows:
        current = current[rng.choice(len(current), max_rows, replace=False)]
    n, m = len(reference), len(current)
    if n < 2 or m < 2:
        return 0.0, 1.0, float(sigma or 1.0), n, m
    if sigma is None:
        sigma = median_bandwidth(reference, seed=seed)
    z = np.vstack([reference, current])
    k = np.exp(-_sqdist(z, z) / (2.0 * sigma * sigma))
    np.fill_diagonal(k, 0.0)
    total = k.sum()
    # column 0: the observed split; columns 1..P: permutations. ind[i, j] = 1 when row i is "reference" in split j.
    ind = np.zeros((n + m, permutations + 1))
    ind[:n, 0] = 1.0
    for j in range(1, permutations + 1):
        ind[rng.permutation(n + m)[:n], j] = 1.0
    kin = k @ ind
    s_xx = np.sum(ind * kin, axis=0)  # sum over ordered pairs i != j both in X
    s_xy = np.sum((1.0 - ind) * kin, axis=0)  # sum over (x in X, y in Y)
    s_yy = total - s_xx - 2.0 * s_xy
    mmd2 = s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * s_xy / (n * m)
    p = (1.0 + np.sum(mmd2[1:] >= mmd2[0])) / (1.0 + permutations)
    return float(mmd2[0]), float(p), float(sigma), n, m


# ---------------------------------------------------------------- metrics of labelled windows


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def as_labels(y: Sequence[Any]) -> np.ndarray:
    """Labels as text, so that labels that came back as 3 and predictions 3.0 compare equal."""
    return np.array([f"{v:g}" if isinstance(v, float) else str(v) for v in np.asarray(y).tolist()])


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "accuracy": (accuracy, True), "mae": (mae, False), "rmse": (rmse, False)}  # name -> (fn, higher is better)
