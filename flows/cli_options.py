"""What the `keel` commands share: their common options, `--set` parsing, failing with exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

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


FeaturesOpt = Annotated[Path, typer.Option("--features", help="folder holding the frozen test split")]
LogDirOpt = Annotated[Path, typer.Option("--log-dir", help="the inference log (monitor.log in params.yaml)")]
