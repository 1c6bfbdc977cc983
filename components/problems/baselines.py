"""Classical baselines, fitted on the train split and scored on the same test split as the family's model
in the same run: one place for every task's baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.core.columns import LABEL


def tfidf_lr_predict(train_texts: list[str], train_y: np.ndarray, test_texts: list[str]) -> np.ndarray:
    """TF-IDF (1-2 grams, sublinear tf, min_df 2) + logistic regression (lbfgs, C=1): predicted class indices."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(train_texts), train_y)
    return clf.predict(vec.transform(test_texts))


def iforest_scores(train_x: np.ndarray, test_x: np.ndarray, seed: int = 42) -> np.ndarray:
    """IsolationForest (100 trees) fitted on all train rows, labels unused: anomaly scores (higher = stranger)."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=100, random_state=seed).fit(train_x)
    return -forest.score_samples(test_x)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last `season` values."""
    return np.tile(history[-season:], horizon // season + 1)[:horizon]


def ets_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Holt-Winters: additive trend and seasonality."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    fit = ExponentialSmoothing(history, trend="add", seasonal="add", seasonal_periods=season).fit()
    return np.asarray(fit.forecast(horizon), dtype=np.float64)


def arima_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Seasonal ARIMA (1,1,1)(0,1,1)_m."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the score says how good it is
        fit = SARIMAX(history, order=(1, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False)
    return np.asarray(fit.forecast(horizon), dtype=np.float64)


def ols_predict(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Closed-form least squares with an intercept, fitted on train: the classical baseline."""
    design = lambda df: np.c_[np.ones(len(df)), df[columns].to_numpy(np.float64)]  # noqa: E731
    coef, *_ = np.linalg.lstsq(design(train), train[LABEL].to_numpy(np.float64), rcond=None)
    return design(test) @ coef


def kmeans_baseline(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], k: int,
                    standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """KMeans(k, n_init=10, random_state=42) fitted on the train split's raw (or per-column standardised)
    features; returns (test cluster ids, the test features it clustered)."""
    from sklearn.cluster import KMeans

    fit, x = train[columns].to_numpy(np.float64), test[columns].to_numpy(np.float64)
    if standardize:
        mean, std = fit.mean(0), fit.std(0)
        std[std == 0] = 1.0
        fit, x = (fit - mean) / std, (x - mean) / std
    return KMeans(k, n_init=10, random_state=42).fit(fit).predict(x), x
