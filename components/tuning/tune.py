"""`keel tune <family>`: an Optuna study over the family's declared search space (`Family.search`).

Each trial trains through the train stage's own `run` (the shared loop, the same checkpointing and metric
path) as an MLflow child run under the study's parent run, reporting its per-epoch validation loss to Optuna
from the loop's per-epoch hook; a trial the pruner stops ends there, as early stopping would end it. The
study lives in Optuna's RDB storage under the project (`.keel/tune/optuna.db`, one study per family by
default): running the command again continues it. The best trial's values are written as a proposal
(`reports/tune/<study>.yaml`, with the `dvc exp run -S ...` line that applies them); params.yaml is never
edited. In a git + DVC project each trial is also a DVC experiment (components/tuning/experiments.py), with
the per-epoch metrics the train stage's dvclive writer produced for it.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from components.config import views
from components.config.params import Params, load_params
from components.core import paths
from components.core.errors import ParamsError, StageInputError
from components.core.io import atomic_path, read_json, sha256_json
from components.families.registry import get
from components.families.search import Choice, Dim, Float
from components.lifecycle import tracking
from components.stages import train
from components.training.loop import EpochStats
from components.tuning import experiments
from components.tuning.data import prepare

log = logging.getLogger(__name__)
DB_FILE = "optuna.db"


class TuneResult(BaseModel):
    """What a `keel tune` invocation left: the study's totals and the proposal."""

    family: str
    study: str
    storage: str
    trials: dict[str, int]  # Optuna trial state -> count, over every invocation of the study
    best_trial: int
    best_val_loss: float
    best: dict[str, Any]  # train key -> value of the best trial
    proposal: Path
    command: str  # applies the proposal as a DVC experiment
    parent_run_id: str
    experiments: list[str]  # the DVC experiments this invocation's trials were saved as (none outside git + DVC)


@dataclass(frozen=True)
class Setup:
    """What every trial of one invocation shares."""

    params_file: Path
    base: dict[str, Any]  # dotted overrides applied to every trial (the family, fixed -S values)
    space: dict[str, Dim]
    features: Path
    study: str
    parent_run_id: str
    exp: experiments.ExpTarget | None  # where trials are saved as DVC experiments (None: not saved)


def storage_url(root: Path = Path(".")) -> str:
    """The study store: sqlite under the project (`.keel/tune/optuna.db`)."""
    return f"sqlite:///{(Path(root) / paths.TUNE_STATE_DIR / DB_FILE).resolve()}"


def suggest(trial: Any, key: str, dim: Dim) -> Any:
    """One value of `dim` for this trial (a Choice of lists is sampled by its JSON spelling)."""
    if isinstance(dim, Float):
        return trial.suggest_float(key, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in dim.values):
            return trial.suggest_categorical(key, list(dim.values))
        return json.loads(trial.suggest_categorical(key, [json.dumps(v) for v in dim.values]))
    return trial.suggest_int(key, dim.low, dim.high, step=dim.step, log=dim.log)


def space_of(family: str) -> dict[str, Dim]:
    """The family's search space; a clear error for a family that declares none."""
    space = dict(get(family).search)
    if not space:
        raise ParamsError(f"family {family!r} declares no search space: add `search={{...}}` to its Family "
                          "(components/families/builtin.py, or its plugin; see docs/tuning.md)")
    return space


def check_tunable(params_file: Path, family: str, base: dict[str, Any], space: dict[str, Dim]) -> Params:
    """The base params, refused where tuning cannot work: no validation split (the pruner and the objective
    would watch the training loss), several processes (the pruning hook runs in this one), a key the family's
    params do not have."""
    params = load_params(params_file, base)
    if params.features.val_size <= 0:
        raise ParamsError(f"features.val_size is 0 for {family}: tuning needs a validation split to score trials; "
                          f"add e.g. -S features.{family}.val_size=0.1")
    if params.train.nproc > 1:
        raise ParamsError(f"train.nproc={params.train.nproc}: keel tune trains each trial in this process; set 1")
    first = {f"train.{family}.{k}": d.values[0] if isinstance(d, Choice) else d.low for k, d in space.items()}
    try:
        load_params(params_file, base | first)
    except ParamsError as e:
        raise ParamsError(f"family {family!r}: its search space names train keys its params reject: {e}") from e
    return params


def tune(params_file: Path, family: str, trials: int, overrides: dict[str, Any] | None = None, *,
         study_name: str | None = None, root: Path = Path("."), pruner: Any = None) -> TuneResult:
    """Run `trials` more trials of the family's study (created on first use) and write the proposal.

    `overrides`: dotted params keys applied to every trial (e.g. `train.epochs`); `pruner`: an Optuna pruner
    (default: MedianPruner after 2 complete trials, from epoch 2)."""
    import optuna

    space, study_name = space_of(family), study_name or family
    base = {"model": family, f"train.{family}.fp32_reference": False} | dict(overrides or {})
    params = check_tunable(params_file, family, base, space)
    root = Path(root)
    features = prepare(params, root / paths.TUNE_STATE_DIR)
    split = read_json(features / paths.SPLIT_FILE)
    model_name = params.registered_name(split["dataset"])
    fixed = views.view("train", params)
    fixed = fixed | {k: {n: v for n, v in fixed[k].items() if n not in space} for k in ("train", "arch")}
    key = sha256_json({"split": split["sha256"], "fixed": fixed})[:12]
    url = storage_url(root)
    (root / paths.TUNE_STATE_DIR).mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=study_name, storage=url, direction="minimize", load_if_exists=True,
                                pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2))
    if study.user_attrs.get("key", key) != key:
        raise StageInputError(f"study {study_name!r} in {url} was run with other data or fixed params: pass "
                              f"--study NAME for a new study, or `optuna delete-study --study-name {study_name} "
                              f"--storage {url}`")
    # seeded, and offset by the trials already run: a resumed study does not redraw its first random trials
    study.sampler = optuna.samplers.TPESampler(seed=params.train.seed + len(study.trials))
    study.set_user_attr("key", key)
    parent_id = study.user_attrs.get("mlflow_parent_run_id")
    exp = experiments.open_target(root)
    if exp is not None:  # a study name git refuses in a ref is refused before any trial trains
        experiments.exp_ref(exp, experiments.trial_name(family, study_name, 0))
    first_new = len(study.trials)
    with tracking.start_run(model_name, run_name=f"tune-{study_name}",
                            run_id=parent_id if parent_id and run_exists(parent_id) else None) as parent:
        study.set_user_attr("mlflow_parent_run_id", parent.run_id)
        tracking.set_tags({"keel.tune.study": study_name, "keel.family": family, "keel.tune.storage": url})
        setup = Setup(params_file, base, space, features, study_name, parent.run_id, exp)
        study.optimize(lambda t: objective(t, setup), n_trials=trials)
        counts = Counter(t.state.name.lower() for t in study.trials)
        tracking.log_metrics({f"trials_{k}": v for k, v in counts.items()})
        if not counts["complete"]:
            raise StageInputError(f"study {study_name!r}: no trial completed ({dict(counts)}); nothing to propose")
        best = study.best_trial
        values = {k: best.user_attrs["values"][k] for k in space}
        # the fixed -S values the trials trained with (other data, epochs, ...): recorded and applied with the best
        tuned = {f"train.{family}.{k}" for k in space}
        fixed = {k: v for k, v in (overrides or {}).items() if k != "model" and k not in tuned}
        command = proposal_command(family, values, fixed)
        proposal = root / paths.TUNE_DIR / f"{study_name}.yaml"
        write_proposal(proposal, {
            "family": family, "study": study_name, "storage": url, "trials": dict(counts), "best_trial": best.number,
            "best_val_loss": best.value, "mlflow_parent_run": parent.run_id,
            "mlflow_best_run": best.user_attrs.get("mlflow_run_id"), "dvc_best_exp": best.user_attrs.get("dvc_exp"),
            "params": {f"train.{family}.{k}": v for k, v in values.items()}, "fixed": fixed, "apply": command})
        tracking.log_artifacts([proposal])
        tracking.set_tags({"keel.tune.best_trial": best.number})
    saved = [t.user_attrs["dvc_exp"] for t in study.trials[first_new:] if "dvc_exp" in t.user_attrs]
    return TuneResult(family=family, study=study_name, storage=url, trials=dict(counts), best_trial=best.number,
                      best_val_loss=best.value, best=values, proposal=proposal, command=command,
                      parent_run_id=parent.run_id, experiments=saved)


def objective(trial: Any, setup: Setup) -> float:
    """Train one trial (a child run under the study's parent run, a DVC experiment when `setup.exp`); its best
    validation loss, or TrialPruned."""
    import optuna

    family = setup.base["model"]
    values = {k: suggest(trial, k, d) for k, d in setup.space.items()}
    trial.set_user_attr("values", values)
    overrides = setup.base | {f"train.{family}.{k}": v for k, v in values.items()}
    params = load_params(setup.params_file, overrides)
    pruned_at: list[int] = []

    def watch(stats: EpochStats) -> bool:  # the loop's per-epoch hook (in the child run), after the metrics
        if stats.epoch == 1:
            tracking.set_tags({"keel.tune.trial": trial.number})
        trial.report(stats.val_loss, stats.epoch)
        if trial.should_prune():
            pruned_at.append(stats.epoch)
            tracking.set_tags({"keel.tune.pruned_at_epoch": stats.epoch})
        return bool(pruned_at)

    with tempfile.TemporaryDirectory(prefix="keel-tune-") as tmp:
        live = Path(tmp) / "live" if setup.exp else None  # the train stage's dvclive files, for the experiment
        result = train.run(params, setup.features, Path(tmp) / "model", live_dir=live,
                           parent_run_id=setup.parent_run_id, on_epoch=watch)
        trial.set_user_attr("mlflow_run_id", result.run_id)
        if live is not None:
            name = experiments.trial_name(family, setup.study, trial.number)
            state = f"pruned at epoch {pruned_at[0]}" if pruned_at else "complete"
            outcome = {"trial": trial.number, "pruned": int(bool(pruned_at)),
                       "best_val_loss": float(result.metrics["best_val_loss"])}
            try:
                experiments.save_trial(setup.exp, name, f"keel tune {family}, study {setup.study}: trial "
                                       f"{trial.number} ({state})", setup.params_file, set_items(overrides), live,
                                       outcome)
                trial.set_user_attr("dvc_exp", name)
            except (subprocess.CalledProcessError, OSError) as e:  # the trial stands (Optuna, MLflow) without it
                log.warning("keel tune: trial %d not saved as DVC experiment %s: %s %s", trial.number, name, e,
                            getattr(e, "stderr", "") or "")
    if pruned_at:
        raise optuna.TrialPruned(f"pruned at epoch {pruned_at[0]}")
    return float(result.metrics["best_val_loss"])


def set_items(values: dict[str, Any]) -> list[str]:
    """`-S` items for dotted keys, `++key=value` (`++`: add or replace the key), values as DVC's parser reads them."""
    return [f"++{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in values.items()]


def proposal_command(family: str, values: dict[str, Any], fixed: dict[str, Any] | None = None) -> str:
    """`dvc exp run -S model=<family> -S '++<fixed key>=<value>' ... -S '++train.<family>.<key>=<value>' ...`:
    the fixed overrides the study ran with, then the best trial's values."""
    items = [f"model={family}"] + set_items(dict(fixed or {}) | {f"train.{family}.{k}": v for k, v in values.items()})
    return "dvc exp run " + " ".join(f"-S {shlex.quote(i)}" for i in items)


def write_proposal(path: Path, doc: dict[str, Any]) -> None:
    """The proposal, atomically, with a header saying it is one."""
    header = (f"# Proposed by `keel tune {doc['family']}` (best of {sum(doc['trials'].values())} trials): NOT "
              "applied. Apply it with the command below, or copy the values into params.yaml.\n")
    with atomic_path(path) as tmp:
        tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=120))


def run_exists(run_id: str) -> bool:
    """Whether the tracking store has this run (a study's parent run, when the store changed it has not)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient().get_run(run_id)
    except MlflowException:
        return False
    return True
