"""Every family's headline metric against its classical baseline, on the same fixed split, in one run.

    python bench/quality.py [family ...] [--seeds 0 1 2]   (default: every family, params.yaml's seed)

Each family runs the real stages (ingest -> validate -> features -> train -> evaluate -> register, the
functions `dvc repro` and the flow call) in a fresh process and temporary folder with its own MLflow store;
the baselines are computed by the evaluate stage on the same split (reports/metrics.json). Prints one table
(a row per family and seed, with the train stage's own seconds) and writes it to bench/results/quality.json.
With several seeds, each family also gets a row of the means over its seeds, judged against its bar.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# family -> (headline metric, baseline metric key(s) in metrics.json, the bar in words, pass test)
BARS = {
    "cnn": ("accuracy", [], ">= 0.97 (register.cnn.min)", lambda m: m["accuracy"] >= 0.97),
    "linear": ("r2", ["ols_r2"], "within 0.01 of closed-form OLS", lambda m: abs(m["r2"] - m["ols_r2"]) <= 0.01),
    "fashion_cnn": ("accuracy", [], ">= 0.935", lambda m: m["accuracy"] >= 0.935),
    "rnn": ("accuracy", [], ">= 0.97", lambda m: m["accuracy"] >= 0.97),
    "text_gru": ("accuracy", ["tfidf_lr_accuracy"], "beats TF-IDF + LR (accuracy and macro-F1)",
                 lambda m: m["accuracy"] > m["tfidf_lr_accuracy"] and m["macro_f1"] > m["tfidf_lr_macro_f1"]),
    "text_cnn": ("accuracy", ["tfidf_lr_accuracy"], "TF-IDF + LR + 0.02 (issue 15)",
                 lambda m: m["accuracy"] >= m["tfidf_lr_accuracy"] + 0.02),
    "clustering": ("ari", ["kmeans_ari"], ">= 0.80 and beats plain KMeans",
                   lambda m: m["ari"] >= 0.80 and m["ari"] > m["kmeans_ari"]),
    "anomaly": ("roc_auc", ["iforest_roc_auc"], ">= IsolationForest (ROC-AUC and PR-AUC)",
                lambda m: m["roc_auc"] >= m["iforest_roc_auc"] and m["pr_auc"] >= m["iforest_pr_auc"]),
    # forecasting: means over rolling origins, the baselines refitted at each origin in the same run
    "forecasting": ("mase", ["snaive_mase", "ets_mase", "arima_mase"], "below ETS and SARIMA (issue 15)",
                    lambda m: m["mase"] < min(m["ets_mase"], m["arima_mase"])),
    # issue 13's families: the quality tests' bars (tests/pipeline/test_family_<name>.py)
    "image_cnn": ("accuracy", [], ">= 0.90", lambda m: m["accuracy"] >= 0.90),
    "detection": ("map50", ["baseline_map50", "baseline_map"], ">= 0.90, beats the classical detector",
                  lambda m: m["map50"] >= 0.90 and m["map50"] > m["baseline_map50"] and m["map"] > m["baseline_map"]),
    "video": ("accuracy", ["baseline_accuracy"], "the frame-average CNN (same run) + 0.30",
              lambda m: m["accuracy"] - m["baseline_accuracy"] >= 0.30),
    "mlp": ("accuracy", [], ">= 0.9 (register.mlp.min)", lambda m: m["accuracy"] >= 0.9),
    "sunspots_forecasting": ("mase", ["snaive_mase", "hw_mase", "ar9_mase"],
                             ">= 5 % below AR(9), ahead on 2 of 3 origins, below Holt-Winters (issue 15)",
                             lambda m: m["mase"] <= 0.95 * m["ar9_mase"] and m["mase"] < m["hw_mase"]
                             and sum(m[f"mase_o{i}"] < m[f"ar9_mase_o{i}"] for i in (1, 2, 3)) >= 2),
}

CHILD = r"""
import json, sys, time
from components.stages import evaluate, features, ingest, register, train, validate
from components.core import paths
from components.config.params import load_params

p = load_params("params.yaml", {"model": sys.argv[1]} | ({"train.seed": int(sys.argv[2])} if sys.argv[2] else {}))
ingest.run(p.ingest, paths.RAW_DIR, p.kind)
validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
features.run(p.features, paths.RAW_DIR, paths.VALIDATION_DIR, paths.FEATURES_DIR, p.task)
t0 = time.perf_counter()
train.run(p, paths.FEATURES_DIR, paths.MODEL_DIR)
train_s = time.perf_counter() - t0
evaluate.run(p.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR, train=p.train)
reg = register.run(p.registration)
print(json.dumps({"dataset": reg.model_name.rsplit("-" + p.model, 1)[0], "staged": reg.staged, "seed": p.train.seed,
                  "train_s": round(train_s, 1)}))
"""


def run_family(family: str, seed: int | None = None) -> dict:
    """Run one family's pipeline (with `train.seed: seed`, None: params.yaml's) in a temporary copy of
    params.yaml; return its metrics and timing."""
    with tempfile.TemporaryDirectory(prefix=f"keel-quality-{family}-") as tmp:
        shutil.copy(ROOT / "params.yaml", tmp)
        if (ROOT / "data/sources").is_dir():
            shutil.copytree(ROOT / "data/sources", Path(tmp) / "data/sources")
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        argv = [sys.executable, "-c", CHILD, family, "" if seed is None else str(seed)]
        done = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode:
            error = done.stderr.strip().splitlines()[-1] if done.stderr else "failed"
            return {"family": family, "seed": seed, "error": error}
        out = json.loads(done.stdout.strip().splitlines()[-1])
        metrics = json.loads((Path(tmp) / "reports/metrics.json").read_text())
    return {"family": family, "seconds": round(time.perf_counter() - t0, 1), **out, "metrics": metrics}


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['family']} | {r['seed']} | | | error: {r['error'][:80]} | | | |"
    metric, baselines, bar, ok = BARS.get(r["family"], (None, [], "", lambda m: True))
    m = r["metrics"]
    metric = metric or next(iter(m))
    base = ", ".join(f"{k} {m[k]:.4f}" for k in baselines if k in m) or "—"
    verdict = "pass" if ok(m) else "FAIL"
    return (f"| {r['family']} | {r['seed']} | {r['dataset']} | {metric} | {m[metric]:.4f} | {base} | {bar}: {verdict} "
            f"| {r['seconds']:.0f} s ({r['train_s']:.0f} s train) |")


def mean_row(family: str, runs: list[dict]) -> dict:
    """The means of every numeric metric over a family's seeds, as a result row (seed: "mean")."""
    keys = set.intersection(*(set(r["metrics"]) for r in runs))
    metrics = {k: statistics.fmean(r["metrics"][k] for r in runs) for k in keys
               if all(isinstance(r["metrics"][k], int | float) for r in runs)}
    return {"family": family, "seed": "mean", "dataset": runs[0]["dataset"], "metrics": metrics,
            "seconds": statistics.fmean(r["seconds"] for r in runs),
            "train_s": statistics.fmean(r["train_s"] for r in runs)}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from components.families.registry import names

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("families", nargs="*", help="default: every family")
    p.add_argument("--seeds", type=int, nargs="+", help="train.seed values (default: params.yaml's)")
    args = p.parse_args()
    results = []
    print("| family | seed | dataset | metric | Keel | baseline (same split, same run) | bar | wall |")
    print("|---|---|---|---|---|---|---|---|")
    for family in args.families or list(names()):
        runs = []
        for seed in args.seeds or [None]:
            runs.append(run_family(family, seed))
            print(row(runs[-1]), flush=True)
        ok = [r for r in runs if "error" not in r]
        if len(runs) > 1 and len(ok) == len(runs):
            runs.append(mean_row(family, runs))
            print(row(runs[-1]), flush=True)
        results += runs
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
