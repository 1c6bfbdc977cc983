"""Keel's drift check, measured (issue 12): the false-alarm rate over clean resampled windows, the detection
rate over shifted windows and the time of a 100k-row check, on digits (images: 64 pixel columns, a small
CNN's embeddings and predicted labels) and Statlog Shuttle (the anomaly family's tabular data: 9 sensor
columns and a logistic regression's predicted labels). Keel's rule (components/monitoring/drift.py, the
thresholds of params.yaml `monitor` for the family) against the plain rule "any column's KS p < 0.05" (no
effect size, no correction for the number of columns: what alarms on large clean samples, evidently#50).

    python bench/drift.py [--clean 20] [--shifted 20] [--rows 100000] [--sets digits,shuttle]
                          [--out bench/results/drift.json]

Each data set is split once, stratified: 30 % trains the model, 30 % is the reference (as Keel's test split:
rows the model never saw), 40 % is the pool windows are drawn from without replacement (digits 150 rows,
Shuttle 1000 rows). Shifted pixels are rounded back to integers 0..16 and Shuttle shifts are whole units (the
data are integer-valued; otherwise KS would "detect" non-integer values rather than the shift). The 100k-row
window is resampled with replacement from the pool; the model's own pass over it is timed apart (it is the
model's cost, paid while scoring, not the check's). Goals: false alarms <= 5 %, detection >= 95 %, a 100k-row
check < 10 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from components.config.params import load_params
from components.core import paths
from components.monitoring.drift import DriftMonitor

Shift = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass
class Setup:
    name: str
    family: str  # whose `monitor` params decide
    window: int
    columns: list[str]
    reference: np.ndarray
    pool: np.ndarray
    pool_y: np.ndarray
    score: Callable[[np.ndarray], tuple[np.ndarray | None, np.ndarray]]  # X -> (embeddings or None, labels)
    positive: Callable[[np.ndarray], np.ndarray]  # labels -> the class-prior shift's "positive" rows
    shifts: dict[str, Shift | float] = field(default_factory=dict)  # a float: the positive share of the window


def _split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    model, rest = train_test_split(idx, train_size=0.3, stratify=y, random_state=0)
    ref, pool = train_test_split(rest, train_size=3 / 7, stratify=y[rest], random_state=0)
    return model, ref, pool


def _dead(j: int) -> Shift:
    def f(x, y, rng):
        x = x.copy()
        x[:, j] = 0.0
        return x, y
    return f


def digits() -> Setup:
    import torch
    from scipy.ndimage import rotate
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = d.data.astype(np.float64), d.target.astype(np.int64)
    model_i, ref_i, pool_i = _split(y)
    torch.manual_seed(0)
    nn = torch.nn
    body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU())
    head = nn.Linear(64, 10)
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0)  # noqa: E731
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=3e-3)
    xt, yt = as_t(x[model_i]), torch.as_tensor(y[model_i])
    for _ in range(30):
        for b in torch.randperm(len(xt), generator=torch.Generator().manual_seed(0)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(head(body(xt[b])), yt[b]).backward()
            opt.step()

    def score(a: np.ndarray):
        with torch.no_grad():
            emb = torch.cat([body(b) for b in as_t(a).split(8192)])
            return emb.numpy().astype(np.float64), head(emb).argmax(1).numpy()

    clip = lambda a: np.clip(np.rint(a), 0.0, 16.0)  # noqa: E731
    turn = lambda a, deg: clip(np.stack([rotate(im, deg, reshape=False, order=1) for im in a.reshape(-1, 8, 8)])  # noqa: E731
                               .reshape(-1, 64))
    dead = int(np.argmax(x[ref_i].mean(axis=0)))  # the reference's brightest pixel: one the digits use
    return Setup("digits", "cnn", 150, [f"px_{i}" for i in range(64)], x[ref_i], x[pool_i], y[pool_i], score,
                 lambda labels: labels <= 4, {
                     "noise sd 2": lambda a, b, rng: (clip(a + rng.normal(0, 2.0, a.shape)), b),
                     "brightness +2": lambda a, b, rng: (clip(a + 2.0), b),
                     "rotated 15 deg": lambda a, b, rng: (turn(a, 15.0), b),
                     f"dead px_{dead}": _dead(dead),
                     "class prior 90% digits 0-4": 0.9})


def shuttle() -> Setup:
    from importlib.metadata import distribution

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(distribution("river").locate_file("river/datasets/shuttle.csv.gz"))
    cols = [f"f{i}" for i in range(1, 10)]
    x, y = df[cols].to_numpy(dtype=np.float64), df["anomaly"].to_numpy(dtype=np.int64)
    model_i, ref_i, pool_i = _split(y)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[model_i], y[model_i])
    robust = np.maximum(np.median(np.abs(x[ref_i] - np.median(x[ref_i], axis=0)), axis=0) * 1.4826, 1.0)

    def plus(k: float) -> Shift:
        return lambda a, b, rng: (a + np.eye(len(cols))[0] * k, b)  # f1 + k (f1's sd: 12.9)

    return Setup("shuttle", "anomaly", 1000, cols, x[ref_i], x[pool_i], y[pool_i], lambda a: (None, clf.predict(a)),
                 lambda labels: labels == 1, {
                     "noise 0.5 robust sd":
                         lambda a, b, rng: (a + np.round(rng.normal(0, 1, a.shape) * 0.5 * robust), b),
                     "dead f1": _dead(0),
                     "anomalies 25% (clean 7.2%)": 0.25,
                     "covariate shift f1 +6 (0.5 sd)": plus(6.0)})


def window(s: Setup, rng: np.random.Generator, shift: Shift | float | None) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(shift, float):  # class-prior shift: that share of the window from the positive rows
        pos, neg = np.flatnonzero(s.positive(s.pool_y)), np.flatnonzero(~s.positive(s.pool_y))
        k = int(round(shift * s.window))
        idx = np.r_[rng.choice(pos, k, replace=False), rng.choice(neg, s.window - k, replace=False)]
    else:
        idx = rng.choice(len(s.pool), s.window, replace=False)
    x, y = s.pool[idx], s.pool_y[idx]
    return shift(x, y, rng) if callable(shift) else (x, y)


def plain_alarm(reference: np.ndarray, current: np.ndarray) -> bool:
    """The plain rule: any column's two-sample KS p < 0.05."""
    return any(stats.ks_2samp(reference[:, j], current[:, j]).pvalue < 0.05 for j in range(reference.shape[1]))


def measure(s: Setup, clean: int, shifted: int, rows: int) -> dict:
    cfg = load_params(paths.PARAMS, {"model": s.family}).monitor
    emb, pred = s.score(s.reference)
    mon = DriftMonitor(cfg).fit(pd.DataFrame(s.reference, columns=s.columns), emb, pred)
    rng = np.random.default_rng(1)
    out: dict = {"data": s.name, "window_rows": s.window, "reference_rows": len(s.reference), "shifts": {}}

    def run(shift) -> tuple[bool, bool, list[str]]:
        x, _ = window(s, rng, shift)
        e, p = s.score(x)
        res = mon.check(pd.DataFrame(x, columns=s.columns), e, p)
        return res.drift, plain_alarm(s.reference, x), res.fired

    cleans = [run(None) for _ in range(clean)]
    out["false_alarms"] = {"keel": sum(k for k, _, _ in cleans) / clean,
                           "plain_ks": sum(p for _, p, _ in cleans) / clean, "windows": clean}
    for name, shift in s.shifts.items():
        got = [run(shift) for _ in range(shifted)]
        fired = pd.Series([f.split(":")[0] for _, _, fs in got for f in fs]).value_counts().to_dict()
        out["shifts"][name] = {"keel": sum(k for k, _, _ in got) / shifted,
                               "plain_ks": sum(p for _, p, _ in got) / shifted, "fired": fired}
    idx = rng.choice(len(s.pool), rows, replace=True)
    big = s.pool[idx]
    t0 = time.perf_counter()
    e, p = s.score(big)
    model_s = time.perf_counter() - t0
    frame = pd.DataFrame(big, columns=s.columns)
    t0, c0 = time.perf_counter(), time.process_time()
    res = mon.check(frame, e, p)
    check_s, check_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    plain_alarm(s.reference, big)
    out["time_100k"] = {"rows": rows, "keel_check_s": check_s, "keel_check_cpu_s": check_cpu,
                        "plain_ks_s": time.perf_counter() - t0, "model_pass_s": model_s, "drift": res.drift,
                        "tests": len(res.tests)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clean", type=int, default=20, help="clean windows per data set (>= 20)")
    ap.add_argument("--shifted", type=int, default=20, help="windows per shift")
    ap.add_argument("--rows", type=int, default=100_000, help="rows of the timed window")
    ap.add_argument("--sets", default="digits,shuttle")
    ap.add_argument("--out", type=Path, default=Path("bench/results/drift.json"), help="the figures, as JSON")
    a = ap.parse_args(argv)
    results = []
    for name in a.sets.split(","):
        s = {"digits": digits, "shuttle": shuttle}[name]()
        r = measure(s, a.clean, a.shifted, a.rows)
        results.append(r)
        fa, t = r["false_alarms"], r["time_100k"]
        print(f"\n== {name}: {r['window_rows']}-row windows, reference {r['reference_rows']} rows")
        print(f"false alarms over {fa['windows']} clean windows: keel {fa['keel']:.0%}  plain KS p<0.05 "
              f"{fa['plain_ks']:.0%}   goal keel <= 5%: {'MET' if fa['keel'] <= 0.05 else 'MISSED'}")
        for shift, d in r["shifts"].items():
            print(f"detected {shift:32s} keel {d['keel']:5.0%}  plain {d['plain_ks']:5.0%}  fired: {d['fired']}")
        worst = min(d["keel"] for d in r["shifts"].values())
        print(f"detection, worst shift: {worst:.0%}   goal >= 95%: {'MET' if worst >= 0.95 else 'MISSED'}")
        print(f"{t['rows']}-row check: keel {t['keel_check_s']:.2f} s ({t['keel_check_cpu_s']:.2f} CPU s, {t['tests']} "
              f"tests, drift={t['drift']}); plain per-column KS {t['plain_ks_s']:.2f} s (ratio keel/plain "
              f"{t['keel_check_s'] / max(t['plain_ks_s'], 1e-9):.1f}); the model's pass {t['model_pass_s']:.2f} s   "
              f"goal < 10 s: {'MET' if t['keel_check_s'] < 10 else 'MISSED'}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=1, default=str))
    return {"results": results}


if __name__ == "__main__":
    main()
