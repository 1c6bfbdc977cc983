"""Prefect tasks built from the stage declarations (components/stages/pipeline.py), with content-addressed
caching.

A stage's cache key hashes its code (the import closure of its module, the same files dvc.yaml lists), its
params view (components/config/views.py, the same values the `params` stage writes for DVC), the content of
its input files, and the MLflow store for stages that write to it. A re-run with nothing changed is served
from the cache; if a stage's outputs were deleted, the call refreshes the cache entry instead.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prefect import task
from prefect.runtime import flow_run

from components.config.params import Params
from components.core.io import sha256_json, sha256_paths
from components.lifecycle.tracking import in_flow_run, tracking_uri
from components.stages import made_by
from components.stages.spec import Stage, identity
from flows.retries import io_retries


def stage_paths(stage: Stage) -> dict[str, Path | None]:
    """The stage's path arguments as the flow passes them (its declared defaults)."""
    return {i.arg: (i.default if i.in_flow else None) for i in stage.io}


def cache_key(stage: Stage, params: Params, paths: dict[str, Path | None], root: Path | None = None,
              extra: dict[str, Any] | None = None) -> str:
    """Code + params view + input content (+ store, + `extra` arguments): equal keys, equal results. `root`: the
    folder holding `components/` (default: where it was imported from)."""
    inputs = [t for i in stage.paths("in") for t in i.targets(paths[i.arg])]
    return sha256_json(identity(stage, params, root) | {
        "inputs": sha256_paths(inputs),
        "store": tracking_uri() if stage.tracked else None,
    } | ({"extra": extra} if extra else {}))


@functools.cache
def stage_task(stage: Stage):
    """The Prefect task for one stage: `fn(params, paths, extra)` runs `stage.run` with the stage's arguments
    (and `extra` ones the flow adds)."""

    def run_stage(params: Params, paths: dict[str, Path | None], extra: dict[str, Any] | None,
                  key: str):  # key: the cache key, computed once by `run`
        with in_flow_run(str(flow_run.id) if flow_run.id else None):  # here: in the task's thread (or worker)
            return stage.run(**stage.arguments(params), **paths, **(extra or {}))

    run_stage.__name__ = run_stage.__qualname__ = f"{stage.name}_task"  # what task runners (Dask) show

    options: dict[str, Any] = io_retries() if stage.retries else {}
    return task(run_stage, name=stage.name, task_run_name=stage.name, persist_result=True,
                cache_key_fn=lambda _ctx, p: p["key"],
                **options)


def run(stage: Stage, params: Params, refresh: bool = False, **extra: Any):
    """Run (or fetch from the cache, unless `refresh`) one stage, with `extra` arguments to its `run`; data stages
    go through the flow's task runner. The cache is used only while the stage's outputs in this workspace are the
    ones the cached run wrote (components/stages/made_by.py): not after another run, `dvc repro` or a deletion."""
    paths = stage_paths(stage)
    key = cache_key(stage, params, paths, extra=extra or None)
    outs = [t for i in stage.paths("out") if paths[i.arg] is not None for t in i.targets(paths[i.arg])]
    trusted = not refresh and made_by.made_by(stage.name, key, outs)
    chosen = stage_task(stage) if trusted else stage_task(stage).with_options(refresh_cache=True)
    result = chosen.submit(params, paths, extra, key).result() if stage.data else chosen(params, paths, extra, key)
    made_by.record(stage.name, key, outs)
    return result
