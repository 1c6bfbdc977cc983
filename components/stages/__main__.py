"""`python -m components.stages <stage> --params params.yaml [--<path> PATH ...]`: run one pipeline stage, as
dvc.yaml does. Also `params` (write each stage's params view) and `dvc-yaml` (print the generated dvc.yaml)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _checked() -> int:
    """Refuse to run a stage while dvc.yaml (in the working directory, as `dvc repro` runs them) has a hand-edited
    generated stage: DVC re-runs the stage an edit touches, and it stops here (~10 ms; dvccheck.py)."""
    from components.core import paths
    from components.core.errors import PipelineDefinitionError
    from components.stages.dvccheck import check

    try:
        if paths.DVC_YAML.is_file():
            check(paths.DVC_YAML)
    except PipelineDefinitionError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    """Dispatch on the first argument; only what the command needs is imported."""
    names = "params, dvc-yaml, ingest, validate, features, train, evaluate, register"
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m components.stages {{{names}}} [--params params.yaml] [options]")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "dvc-yaml":  # a developer's command: imports the whole pipeline
        import argparse

        argparse.ArgumentParser(prog="python -m components.stages dvc-yaml",
                                description="Print the dvc.yaml generated from the stages' declarations "
                                            "(`python -m components.stages dvc-yaml > dvc.yaml`).").parse_args(rest)
        sys.stdout.write(importlib.import_module("components.stages.dvcyaml").render())
        return 0
    from components.stages.spec import ORDER  # every stage command imports it anyway

    if command in ("params", *ORDER) and not {"-h", "--help"} & set(rest) and (status := _checked()):
        return status
    if command == "params":
        import argparse

        from components.config.params import load_params
        from components.config.views import write_views
        from components.core import paths
        from components.stages.spec import run_cli

        p = argparse.ArgumentParser(prog="python -m components.stages params")
        p.add_argument("--params", type=Path, default=paths.PARAMS)
        p.add_argument("--out", type=Path, default=paths.PARAMS_DIR)
        a = p.parse_args(rest)

        def write() -> None:
            params = load_params(a.params)
            for line in params.shadowed:  # a shared key the family's default replaces: said, not silent
                print(f"warning: {line}", file=sys.stderr)
            print(*write_views(params, a.out).values(), sep="\n")

        return run_cli(write)
    if command not in ORDER:
        print(f"unknown stage {command!r} (one of: {names})", file=sys.stderr)
        return 2
    # Imported by name, so this command runs (and DVC watches) that stage's code and no other's.
    return importlib.import_module(f"components.stages.{command}").STAGE.main(rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
