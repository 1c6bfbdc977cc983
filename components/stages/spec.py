"""A stage, declared once: its name, its `run`, the params it reads (its view, components/config/views.py),
and its path arguments with their roles. The CLI (`python -m components.stages <name>`), dvc.yaml
(components/stages/dvcyaml.py) and the flow's tasks (flows/tasks.py) are all built from the declaration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from components.config import views
from components.config.params import Params, load_params
from components.core import codedeps, paths
from components.core.errors import KeelError
from components.core.io import sha256_paths

log = logging.getLogger("components")
ORDER = ("ingest", "validate", "features", "train", "evaluate", "register")  # module names, in pipeline order
RUNNER = "components.stages.spec"  # the glue every stage runs through (its code counts for each)


@dataclass(frozen=True)
class Io:
    """One path argument of a stage's `run`: an input (dependency), an output, or state (neither)."""

    arg: str  # the keyword argument of run()
    default: Path  # where dvc.yaml and the flow point it
    role: Literal["in", "out", "state"]
    files: tuple[str, ...] = ()  # the files inside it that count (empty: the whole path)
    marker: str | None = None  # out: the file whose presence shows the stage ran (default: the first of files)
    metrics: tuple[str, ...] = ()  # out: those of `files` that are DVC metrics
    plots: tuple[str, ...] = ()  # out: those of `files` that are DVC plots (x: dvclive's `step`)
    cache: bool = True  # out: keep it in DVC's cache
    in_flow: bool = True  # False: the flow passes None (e.g. DVC's own lock file)
    option: str | None = None  # the CLI flag, when not derived from `arg`

    @property
    def flag(self) -> str:
        """The CLI flag: --raw for raw_dir, --dvc-lock for dvc_lock (or `option`)."""
        return self.option or "--" + self.arg.removesuffix("_dir").replace("_", "-")

    def targets(self, value: Path | None = None) -> list[Path]:
        """The paths that count: the files inside the folder, or the path itself."""
        base = Path(value if value is not None else self.default)
        return [base / f for f in self.files] if self.files else [base]

    def done(self, value: Path | None = None) -> Path:
        """An output's marker file."""
        base = Path(value if value is not None else self.default)
        name = self.marker or (self.files[0] if self.files else None)
        return base / name if name else base


@dataclass(frozen=True, eq=False)
class Stage:
    """A pipeline stage (compared and hashed by identity: each is declared once)."""

    name: str
    run: Callable[..., BaseModel]
    io: tuple[Io, ...]
    args: Callable[[Params], dict[str, Any]] | None = None  # run()'s params arguments; default: the view
    extra_deps: tuple[str, ...] = ()  # other files DVC watches (a folder of user data)
    fingerprint: Callable[[Params], str] | None = None  # the flow also keys on this (the source's content)
    tracked: bool = False  # writes to the MLflow store
    data: bool = False  # a data stage: the flow submits it to its task runner
    retries: bool = False  # safe to repeat after a transient failure

    @property
    def module(self) -> str:
        """The module that defines `run` (its import closure is the stage's code)."""
        return self.run.__module__

    def arguments(self, params: Params) -> dict[str, Any]:
        """run()'s non-path arguments, from the params."""
        return self.args(params) if self.args is not None else views.VIEWS[self.name](params)

    def paths(self, role: str) -> list[Io]:
        """The path arguments with one role."""
        return [i for i in self.io if i.role == role]

    def main(self, argv: list[str] | None = None) -> int:
        """CLI: python -m components.stages <name> --params params.yaml [--<path flag> PATH ...]."""
        p = argparse.ArgumentParser(prog=f"python -m components.stages {self.name}",
                                    description=(self.run.__module__ and sys.modules[self.module].__doc__ or "")
                                    .splitlines()[0])
        p.add_argument("--params", type=Path, default=paths.PARAMS)
        for i in self.io:
            p.add_argument(i.flag, dest=i.arg, type=Path, default=i.default if i.in_flow else None)
        a = vars(p.parse_args(argv))
        return run_cli(lambda: self.run(**self.arguments(load_params(a.pop("params"))), **a))


def stage_code(stage: Stage, root: Path | None = None) -> list[Path]:
    """The files a stage runs: its module's import closure and the runner's. `root`: the folder holding
    `components/` (default: where it was imported from)."""
    return list(codedeps.closure(stage.module, root) + codedeps.closure(RUNNER, root))


def identity(stage: Stage, params: Params, root: Path | None = None, fingerprint: bool = True) -> dict[str, Any]:
    """What a stage's result depends on besides its input files: its code's hash, its params view and the
    fingerprint it declares (ingest: the source files' content; `fingerprint=False` leaves it out for a caller
    that has it already). The flow's cache key (flows/tasks.py) and the inputs digest
    (components/stages/inputs.py) are both made of it."""
    return {"code": sha256_paths(stage_code(stage, root)), "view": views.view(stage.name, params),
            "fingerprint": stage.fingerprint(params) if stage.fingerprint and fingerprint else None}


def run_cli(fn: Callable[[], BaseModel | None]) -> int:
    """Run one CLI action: log to stderr, print its result as JSON, map Keel errors to exit status 1."""
    # Libraries (GX, MLflow) stay at WARNING; Keel's own loggers at KEEL_LOG_LEVEL (default INFO).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it sets INFO on itself
    log.setLevel(os.environ.get("KEEL_LOG_LEVEL", "INFO"))
    try:
        result = fn()
    except KeelError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if result is not None:
        print(result.model_dump_json(indent=2))
    return 0
