"""`keel`: the human-facing commands. Each one is a thin caller of a flow or a component."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from components.core.errors import KeelError
from flows import cli_models
from flows.cli_options import FeaturesOpt, ParamsOpt, SetOpt, fail, parse_overrides

app = typer.Typer(help="Keel: validated data -> trained model -> MLflow registry, via Prefect and DVC.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _quiet_downloads() -> None:
    """The registry's artifacts are Keel's internals: no MLflow download bar on a command's terminal (set
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true to see it)."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@app.command()
def train(params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None,
          force: Annotated[bool, typer.Option("--force", help="train and register even when the latest version "
                                              "was made from the same data, params and code")] = False) -> None:
    """Run the training flow (ingest -> ... -> register) locally with Prefect."""
    from flows.training_flow import for_environment

    try:
        summary = for_environment()(str(params), parse_overrides(set_), force=force)
    except KeelError as e:
        fail(e)
    typer.echo(summary.model_dump_json(indent=2))


@app.command()
def worker(pool: Annotated[str, typer.Option(help="work pool: cpu, gpu (created by `make up`)")] = "cpu",
           limit: Annotated[int | None, typer.Option(help="at most this many concurrent flow runs")] = None,
           grace: Annotated[float, typer.Option(min=0, help="seconds a stopping worker gets before it is ended")]
           = 5.0) -> None:
    """Start a Prefect process worker on a work pool of the server in PREFECT_API_URL (runs until stopped:
    one SIGTERM, Ctrl-C or SIGHUP stops it and every flow run it started, within GRACE + 2 seconds)."""
    import os

    from flows.supervise import exit_like, supervise

    if not os.environ.get("PREFECT_API_URL"):
        fail(KeelError("PREFECT_API_URL is not set: `source infra/env.sh` (or export it) to point at the server"))
    cmd = ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
    try:
        status = supervise(cmd + (["--limit", str(limit)] if limit else []), grace)
    except FileNotFoundError:
        fail(KeelError("`prefect` is not on PATH: run keel from the project's virtualenv"))
    exit_like(status)


@app.command("params")
def show_params(params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Validate the params file and print the resolved values (defaults filled in)."""
    from components.config.params import load_params

    try:
        resolved = load_params(params, parse_overrides(set_))
    except KeelError as e:
        fail(e)
    for line in resolved.shadowed:
        typer.echo(f"warning: {line}", err=True)
    yaml.safe_dump(resolved.to_dict(), sys.stdout, sort_keys=False)
    typer.echo(f"# sha256: {resolved.digest()}")


app.add_typer(cli_models.app)  # promote ... feedback, lineage, explain: flows/cli_models.py

suite_app = typer.Typer(help="Expectation suites inferred from data (reviewed in git, run by validate).",
                        no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@suite_app.command("infer")
def suite_infer(model: Annotated[str | None, typer.Argument(help="the model the workspace trains, e.g. digits-cnn")]
                = None, params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None,
                features: FeaturesOpt = Path("data/features"),
                out: Annotated[Path, typer.Option("--out", help="folder of the suites")] = Path("suites")) -> None:
    """Infer a GX suite from the current train split into suites/<dataset>.json (validate.suite uses it)."""
    from components.config.params import load_params
    from components.monitoring import suite

    try:
        result = suite.infer(load_params(params, parse_overrides(set_)), model, features, out)
    except KeelError as e:
        fail(e)
    typer.echo(result.model_dump_json(indent=2))


@app.command()
def tune(family: Annotated[str, typer.Argument(help="the family to tune, e.g. cnn (its declared search space)")],
         trials: Annotated[int, typer.Option(min=1, help="trials to add to the study")] = 10,
         study: Annotated[str | None, typer.Option(help="study name (default: the family)")] = None,
         params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Search the family's hyperparameters with Optuna (resumable); propose the best, never edit params.yaml."""
    from components.tuning.tune import tune as search

    try:
        done = search(params, family, trials, parse_overrides(set_), study_name=study)
    except KeelError as e:
        fail(e)
    typer.echo(f"{done.study}: {done.trials}; best trial {done.best_trial} (val_loss {done.best_val_loss:.4f})")
    typer.echo(f"proposal: {done.proposal}\napply it with:\n  {done.command}")
    if done.experiments:
        typer.echo(f"trials saved as DVC experiments ({', '.join(done.experiments)}): dvc exp show")


@app.command("recover-runs")
def recover_runs(experiment: Annotated[list[str] | None, typer.Option(
        "--experiment", "-e", help="only this experiment (repeatable) [default: all of the store]")] = None) -> None:
    """Mark FAILED the MLflow runs left RUNNING by Keel processes of this host that are gone (killed, or their
    store was down when they ended); runs of live processes, of other hosts and of other pid namespaces
    (containers) are left as they are."""
    from components.lifecycle import stale_runs

    try:
        found = stale_runs.sweep_store(experiment)
    except KeelError as e:
        fail(e)
    for r in found:
        typer.echo(r.model_dump_json())
    typer.echo(f"{len(found)} run(s) marked FAILED", err=True)


@app.command()
def version() -> None:
    """Print the versions of Keel and the stack it drives."""
    from importlib.metadata import version as v

    typer.echo(json.dumps({p: v(p) for p in ("keel", "torch", "mlflow", "prefect", "great_expectations", "dvc")},
                          indent=2))


if __name__ == "__main__":
    app()
