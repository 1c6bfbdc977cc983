"""Evaluate: score the trained model on the held-out test split (raw rows through the model's own transform).

Writes `reports/metrics.json` (the task's headline metrics at top level, e.g. `accuracy` or `r2`, plus
`robust_<metric>_<perturbation>` under perturbed inputs and `mia_auc` / `mia_advantage` of a membership-
inference attack, components/trust/), `reports/details.json` (per-class figures, baselines on the same split,
bootstrap 95% CIs, per-seed robustness) and plots under `reports/plots/` (the task's plots plus loss curves,
PNG + CSV), and logs all of it to the training run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel

from components.config.sections import EvaluateConfig, TrainConfig
from components.core import paths
from components.core.io import read_json, require_files, write_json
from components.data.artifacts import load_split
from components.inference.checkpoint import load_checkpoint
from components.inference.predict import predict, task_of
from components.lifecycle import tracking
from components.problems import plots
from components.problems.intervals import bootstrap_ci
from components.stages.spec import Io, Stage
from components.training import backtest
from components.trust.membership import membership_inference
from components.trust.robustness import robust_metrics

log = logging.getLogger(__name__)


class EvalResult(BaseModel):
    """Headline test metrics and where the reports went."""

    metrics: dict[str, float]
    metrics_file: Path
    plots: list[Path]


def run(cfg: EvaluateConfig, model_dir: Path = paths.MODEL_DIR, features_dir: Path = paths.FEATURES_DIR,
        reports_dir: Path = paths.REPORTS_DIR, *, train: TrainConfig) -> EvalResult:
    """Score the test split; write metrics.json, details.json and plots; log them to the model's MLflow run.
    A forecasting family is also refitted at rolling origins with the `train` settings (evaluate.backtest):
    the params' `train` section, the one the model was trained with (required: a default would refit another model)."""
    model_dir, reports_dir = Path(model_dir), Path(reports_dir)
    require_files(model_dir, [paths.CHECKPOINT_FILE, paths.HISTORY_FILE, paths.RUN_FILE])
    ckpt = load_checkpoint(model_dir / paths.CHECKPOINT_FILE)
    task = task_of(ckpt)
    test, fitted_on = load_split(features_dir, "test"), load_split(features_dir, "train")
    predictions = predict(ckpt, test, cfg.batch_size)
    # Headline numbers are DVC metrics; detail (per class, baselines) goes beside them.
    metrics, details = task.metrics(ckpt.transform, test, predictions, fitted_on)
    details["ci95"] = bootstrap_ci(task, ckpt.transform, test, predictions, cfg.ci_samples)
    robust, details["robustness"] = robust_metrics(ckpt, test, fitted_on, cfg.robustness, batch_size=cfg.batch_size)
    mia = membership_inference(ckpt, fitted_on, test, batch_size=cfg.batch_size) if cfg.membership_inference else None
    metrics |= robust | ({"mia_auc": mia["auc"], "mia_advantage": mia["advantage"]} if mia else {})
    details["membership_inference"] = mia
    if (model_dir / paths.BASELINE_FILE).is_file():  # the family's neural baseline, trained in the same run
        baseline = load_checkpoint(model_dir / paths.BASELINE_FILE)
        scores = task.score(ckpt.transform, test, predict(baseline, test, cfg.batch_size))
        metrics |= {f"baseline_{k}": v for k, v in scores.items()}
        details["baseline"] = {"model": type(baseline.model).__name__, **scores}
    history = read_json(model_dir / paths.HISTORY_FILE)
    plot_dir = reports_dir / paths.PLOTS_DIR
    if task.backtest and cfg.backtest.enabled:  # the headline figures: the mean over rolling origins
        bt = backtest.run(ckpt, fitted_on, test, cfg.backtest, train)
        metrics |= backtest.metrics(bt)
        details["backtest"] = backtest.details(bt)
        backtest_plots = backtest.write_plots(bt, plot_dir)
    else:
        backtest_plots = []
    written = backtest_plots + task.plots(ckpt.transform, test, predictions, plot_dir) + [
        plots.loss_curves_png(plot_dir / "loss.png", history["epochs"], history["best_epoch"]),
        plots.write_csv(plot_dir / "loss.csv", ["epoch", "train_loss", "val_loss"],
                        ((e["epoch"], e["train_loss"], e["val_loss"]) for e in history["epochs"])),
    ]
    metrics_file = write_json(reports_dir / paths.METRICS_FILE, metrics)
    details_file = write_json(reports_dir / paths.DETAILS_FILE, details)
    headline = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
    with tracking.resume_run(model_dir):
        tracking.log_metrics({f"test_{k}": v for k, v in headline.items()})
        tracking.log_artifacts([metrics_file, details_file], "evaluation")
        tracking.log_artifacts(written, "evaluation/plots")
    log.info("evaluate: %s", ", ".join(f"{k}={v:.4f}" for k, v in headline.items()))
    return EvalResult(metrics=headline, metrics_file=metrics_file, plots=written)


STAGE = Stage("evaluate", run, (Io("model_dir", paths.MODEL_DIR, "in"), Io("features_dir", paths.FEATURES_DIR, "in"),
                                Io("reports_dir", paths.REPORTS_DIR, "out", files=(
                                    paths.METRICS_FILE, paths.DETAILS_FILE, paths.PLOTS_DIR),
                                   metrics=(paths.METRICS_FILE,), cache=False)), tracked=True)
