"""`keel`: the human-facing commands. Each one is a thin caller of a flow or a component."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from components.errors import KeelError

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


@app.command("params")
def show_params(params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Validate the params file and print the resolved values (defaults filled in)."""
    from components.config import load_params

    try:
        resolved = load_params(params, parse_overrides(set_))
    except KeelError as e:
        fail(e)
    yaml.safe_dump(resolved.to_dict(), sys.stdout, sort_keys=False)
    typer.echo(f"# sha256: {resolved.digest()}")


@app.command()
def version() -> None:
    """Print the versions of Keel and the stack it drives."""
    from importlib.metadata import version as v

    typer.echo(json.dumps({p: v(p) for p in ("keel", "torch", "mlflow", "prefect", "great_expectations", "dvc")},
                          indent=2))


if __name__ == "__main__":
    app()
