"""`keel`: the human-facing commands. Each one is a thin caller of a flow or a component."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from components.core.errors import KeelError

app = typer.Typer(help="Keel: validated data -> trained model -> MLflow registry, via Prefect and DVC.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="params file")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-S", help="override a key, e.g. -S train.lr=0.003")]


def parse_overrides(items: list[str] | None) -> dict[str, object]:
    """`key=value` strings -> {key: YAML-typed value}, as `dvc exp run -S` does."""
    out: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(value)
    return out


def fail(e: Exception) -> None:
    """Print a Keel error and exit 1."""
    typer.secho(f"error: {type(e).__name__}: {e}", fg="red", err=True)
    raise typer.Exit(1)


@app.command()
def train(params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Run the training flow (ingest -> ... -> register) locally with Prefect."""
    from flows.training_flow import for_environment

    try:
        summary = for_environment()(str(params), parse_overrides(set_))
    except KeelError as e:
        fail(e)
    typer.echo(summary.model_dump_json(indent=2))


@app.command()
def worker(pool: Annotated[str, typer.Option(help="work pool: cpu, gpu (created by `make up`)")] = "cpu",
           limit: Annotated[int | None, typer.Option(help="at most this many concurrent flow runs")] = None) -> None:
    """Start a Prefect process worker on a work pool of the server in PREFECT_API_URL (runs until stopped)."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        fail(KeelError("PREFECT_API_URL is not set: `source infra/env.sh` (or export it) to point at the server"))
    cmd = ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
    os.execvp(cmd[0], cmd + (["--limit", str(limit)] if limit else []))


@app.command("params")
def show_params(params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Validate the params file and print the resolved values (defaults filled in)."""
    from components.config.params import load_params

    try:
        resolved = load_params(params, parse_overrides(set_))
    except KeelError as e:
        fail(e)
    yaml.safe_dump(resolved.to_dict(), sys.stdout, sort_keys=False)
    typer.echo(f"# sha256: {resolved.digest()}")


FeaturesOpt = Annotated[Path, typer.Option("--features", help="folder holding the frozen test split")]


@app.command()
def promote(model: Annotated[str, typer.Argument(help="registered model name, e.g. digits-cnn")],
            version: Annotated[str | None, typer.Option("--version", "-v", help="default: @staging")] = None,
            force: Annotated[bool, typer.Option("--force", help="override a refusal (needs --reason)")] = False,
            reason: Annotated[str | None, typer.Option("--reason", help="why (goes to the ledger)")] = None,
            params: ParamsOpt = Path("params.yaml"), features: FeaturesOpt = Path("data/features")) -> None:
    """Move @production to a version only if it passes the champion/challenger gate (exit 1 if refused)."""
    from components.lifecycle import promote as p

    try:
        result = p.run(model, version, params, features, force=force, reason=reason)
    except KeelError as e:
        fail(e)
    typer.echo(result.report.read_text() if result.report else "")
    typer.echo(result.model_dump_json(indent=2))
    if not result.promoted:
        typer.secho(f"refused: {model} v{result.version} stays off @production: " + "; ".join(result.reasons),
                    fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def rollback(model: Annotated[str, typer.Argument(help="registered model name")],
             reason: Annotated[str | None, typer.Option("--reason", help="recorded in the ledger")] = None) -> None:
    """Move @production back to the version that held it before (per the ledger)."""
    from components.lifecycle import promote as p

    try:
        result = p.rollback(model, reason=reason)
    except KeelError as e:
        fail(e)
    typer.echo(result.model_dump_json(indent=2))


@app.command()
def history(model: Annotated[str, typer.Argument(help="registered model name")],
            as_json: Annotated[bool, typer.Option("--json", help="one JSON object per move")] = False) -> None:
    """Print every alias move of a model, oldest first (the promotion ledger)."""
    from components.lifecycle import ledger
    from components.lifecycle.promote import ledger_engine

    try:
        entries = ledger.history(ledger_engine(), model)
    except KeelError as e:
        fail(e)
    if as_json:
        for e in entries:
            typer.echo(e.model_dump_json())
        return
    head = ("id", "time (UTC)", "user", "action", "alias", "from", "to")
    typer.echo("{:>4}  {:<20} {:<11} {:<8} {:<11} {:>5} -> {:<5} reason".format(*head))
    for e in entries:
        why = e.reason or "; ".join((e.gate_report or {}).get("reasons", []))
        typer.echo(f"{e.id:>4}  {e.ts[:19].replace('T', ' '):<20} {e.user:<11} {e.action:<8} {e.alias:<11} "
                   f"{'v' + e.from_version if e.from_version else '-':>5} -> v{e.to_version:<4} {why}")


@app.command()
def predict(model: Annotated[str, typer.Argument(help="registered model name")],
            input_path: Annotated[Path, typer.Argument(
                help="rows to score: .parquet, .csv or .csv.gz (raw columns), or a directory of .parquet files")],
            output_path: Annotated[Path, typer.Argument(
                help="predictions (.parquet; a directory of parts for a directory input) with model/version metadata")],
            alias: Annotated[str, typer.Option("--alias")] = "production",
            chunk_rows: Annotated[int | None, typer.Option(
                "--chunk-rows", min=1, help="rows per chunk [default: ~64 MiB of input values]")] = None,
            params: ParamsOpt = Path("params.yaml")) -> None:
    """Validate (GX) and score a file with the model's @production version, chunk by chunk."""
    from components.serving import batch

    try:
        result = batch.run(model, input_path, output_path, params, alias, chunk_rows)
    except KeelError as e:
        fail(e)
    typer.echo(result.model_dump_json(indent=2))


@app.command()
def serve(model: Annotated[str, typer.Argument(help="registered model name")],
          host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port")] = 5001,
          alias: Annotated[str, typer.Option("--alias")] = "production") -> None:
    """Serve the model's @production version over HTTP (POST /invocations, GET /ping, GET /version)."""
    from components.serving import serve as s

    try:
        s.run(model, host, port, alias)
    except KeelError as e:
        fail(e)


@app.command()
def lineage(model: Annotated[str, typer.Argument(help="registered model name")],
            version: Annotated[str, typer.Argument(help="version number")],
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print a version's git commit, data/params hashes, GX result, run id, gate report and ledger entries."""
    from components.lifecycle import lineage as lin

    try:
        found = lin.collect(model, version)
    except KeelError as e:
        fail(e)
    typer.echo(found.model_dump_json(indent=2) if as_json else lin.render(found))


@app.command()
def version() -> None:
    """Print the versions of Keel and the stack it drives."""
    from importlib.metadata import version as v

    typer.echo(json.dumps({p: v(p) for p in ("keel", "torch", "mlflow", "prefect", "great_expectations", "dvc")},
                          indent=2))


if __name__ == "__main__":
    app()
