"""Classical baselines, fitted on the train split and scored on the same test split as the family's model
in the same run (see /work/shared/baselines.md for the reference recipes)."""

from __future__ import annotations

import numpy as np


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
