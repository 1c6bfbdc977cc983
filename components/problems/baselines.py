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


Z90 = 1.2815515655446004  # the standard normal's 0.9 quantile


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last `season` values."""
    return np.tile(history[-season:], horizon // season + 1)[:horizon]


def snaive_quantiles(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(3, h): seasonal naive as the median; 0.1 / 0.9 from the in-sample errors at the same lead."""
    point = seasonal_naive(history, horizon, season)
    q = np.empty((3, horizon))
    for k in range(1, horizon + 1):
        lag = season * int(np.ceil(k / season))
        q[:, k - 1] = point[k - 1] + np.quantile(history[lag:] - history[:-lag], (0.1, 0.5, 0.9))
    q[1] = point
    return q


def ets_quantiles(history: np.ndarray, horizon: int, season: int, trend: bool = True, paths: int = 500,
                  seed: int = 0) -> np.ndarray:
    """(3, h) Holt-Winters (additive season; additive trend if `trend`): the forecast as the median, 0.1 / 0.9
    from `paths` simulated futures."""
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the score says how good it is
        fit = ExponentialSmoothing(history, trend="add" if trend else None, seasonal="add",
                                   seasonal_periods=season).fit()
        sims = np.asarray(fit.simulate(horizon, repetitions=paths, error="add", anchor="end",
                                       rng=np.random.default_rng(seed))).reshape(horizon, paths)
    q = np.quantile(sims, (0.1, 0.5, 0.9), axis=1)
    q[1] = np.asarray(fit.forecast(horizon), dtype=np.float64)
    return q


def sarimax_quantiles(history: np.ndarray, horizon: int, order: tuple[int, int, int],
                      seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0), trend: str | None = None) -> np.ndarray:
    """(3, h) a SARIMAX model's forecast with its Gaussian 80 % interval."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = SARIMAX(history, order=order, seasonal_order=seasonal_order, trend=trend).fit(disp=False)\
            .get_forecast(horizon)
    point = np.asarray(pred.predicted_mean, dtype=np.float64)
    se = np.sqrt(np.asarray(pred.var_pred_mean, dtype=np.float64))
    return np.stack([point - Z90 * se, point, point + Z90 * se])


# Forecasting baselines by name (evaluate.backtest.baselines): (history, horizon, season) -> quantiles (3, h)
FORECASTERS = {
    "snaive": snaive_quantiles,  # seasonal naive
    "ets": ets_quantiles,  # Holt-Winters, additive trend and season
    "hw": lambda y, h, m: ets_quantiles(y, h, m, trend=False),  # Holt-Winters, additive season, no trend
    "arima": lambda y, h, m: sarimax_quantiles(y, h, (1, 1, 1), (0, 1, 1, m)),  # SARIMA(1,1,1)(0,1,1)_m
    "ar9": lambda y, h, m: sarimax_quantiles(y, h, (9, 0, 0), trend="c"),  # AR(9) with a constant
}


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


# ---- detection: threshold + connected components + a classifier ------------------------------------------
# Settings chosen on validation scenes in the prep study (threshold 45-100 x background 0/15 x closing): a
# white top-hat (grey opening, 15 px) removes the background gradient, 60 gray levels above it is ink.
DETECT_THRESHOLD, DETECT_BACKGROUND, DETECT_MIN_AREA, DETECT_CROP, DETECT_TOP = 60.0, 15, 10, 16, 3


def _components(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate boxes (n, 4) xyxy: 8-connected components of the thresholded top-hat; and the top-hat."""
    from scipy import ndimage

    fg = gray - ndimage.grey_opening(gray, size=(DETECT_BACKGROUND, DETECT_BACKGROUND))
    mask = fg > DETECT_THRESHOLD
    lab, n = ndimage.label(mask, structure=np.ones((3, 3), int))
    if n == 0:
        return np.zeros((0, 4)), fg
    areas = ndimage.sum_labels(mask, lab, index=np.arange(1, n + 1))
    boxes = [[sl[1].start, sl[0].start, sl[1].stop, sl[0].stop]
             for sl, area in zip(ndimage.find_objects(lab), areas, strict=True) if area >= DETECT_MIN_AREA]
    return np.array(boxes, np.float64).reshape(-1, 4), fg


def _crops(fg: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, crop^2 + 4): each box's max-normalised crop resized to crop x crop, + [w, h, w/h, ink share]."""
    from PIL import Image

    out, side = np.zeros((len(boxes), DETECT_CROP ** 2 + 4), np.float32), max(fg.shape)
    for i, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = max(x0 + 1, x1), max(y0 + 1, y1)
        crop = np.clip(fg[y0:y1, x0:x1], 0, None)
        crop = crop / crop.max() if crop.max() > 0 else crop
        small = Image.fromarray(crop.astype(np.float32), mode="F").resize((DETECT_CROP,) * 2, Image.Resampling.BILINEAR)
        out[i, :-4] = np.asarray(small).ravel()
        out[i, -4:] = [(x1 - x0) / side, (y1 - y0) / side, (x1 - x0) / (y1 - y0), float((crop > 0.3).mean())]
    return out


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]),
                    0, None).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def classical_detector(train_gray: list[np.ndarray], train_boxes: list[np.ndarray], train_classes: list[np.ndarray],
                       test_gray: list[np.ndarray], n_classes: int, max_dets: int = 100) -> np.ndarray:
    """Threshold + connected components + logistic regression on each component's crop, fitted on the train
    images' components (IoU >= 0.5 with a true box: its class, else a background class) and true-box crops.
    Gray images (H, W) in 0..255, boxes (n, 4) xyxy. Returns (N, D, 6) [x1, y1, x2, y2, score, class] for the
    test images: each component once per class among its DETECT_TOP most probable, scored by that probability."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xs, ys = [], []
    for gray, gt, classes in zip(train_gray, train_boxes, train_classes, strict=True):
        boxes, fg = _components(gray)
        y = np.full(len(boxes), n_classes, np.int64)  # background
        if len(boxes) and len(gt):
            iou = _iou_matrix(boxes, gt)
            best = iou.argmax(1)
            hit = iou[np.arange(len(boxes)), best] >= 0.5
            y[hit] = np.asarray(classes)[best[hit]]
        xs += [_crops(fg, boxes), _crops(fg, gt)]
        ys += [y, np.asarray(classes, np.int64)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(np.concatenate(xs),
                                                                                   np.concatenate(ys))
    objects = model.classes_ < n_classes
    out = np.zeros((len(test_gray), max_dets, 6))
    out[..., 5] = -1
    for i, gray in enumerate(test_gray):
        boxes, fg = _components(gray)
        if not len(boxes):
            continue
        proba = model.predict_proba(_crops(fg, boxes))[:, objects]
        top = np.argsort(-proba, 1)[:, :DETECT_TOP]
        rows, cols = np.repeat(np.arange(len(boxes)), top.shape[1]), top.ravel()
        dets = np.c_[boxes[rows], proba[rows, cols], model.classes_[objects][cols]]
        dets = dets[np.argsort(-dets[:, 4], kind="stable")][:max_dets]
        out[i, :len(dets)] = dets
    return out
