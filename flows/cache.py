"""Stage tasks with content-addressed caching.

A stage's cache key is a hash of its component code, the params it depends on and the content of its
input files (plus the MLflow store for stages that write to it). A re-run with nothing changed is
served from the cache. If a stage's outputs were deleted, that call refreshes the cache entry instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import task

from components.io import sha256_json, sha256_paths
from components.tracking import tracking_uri

Paths = Callable[[dict[str, Any]], list[Path]]


def stage(*, code: Sequence[Path], inputs: Paths, outputs: Paths, config: Callable[[dict[str, Any]], Any],
          tracked: bool = False, data: bool = False, **task_options: Any):
    """Decorator: make a Prefect task of a stage function, cached on code + params + input content.

    code: source files/folders of the component; inputs/outputs: functions of the call's arguments
    giving file paths; config: the params that matter; tracked: the stage writes to MLflow; data: submit
    it to the flow's task runner (a DaskTaskRunner puts it on the Dask cluster) and wait for it.
    """

    def key(_ctx, parameters: dict[str, Any]) -> str:
        return sha256_json({
            "code": sha256_paths(code),
            "config": config(parameters),
            "inputs": sha256_paths(inputs(parameters)),
            "store": tracking_uri() if tracked else None,
        })

    def wrap(fn):
        cached = task(fn, name=fn.__name__.removesuffix("_task"), persist_result=True, cache_key_fn=key,
                      **task_options)
        refresh = cached.with_options(refresh_cache=True)
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            bound = signature.bind(*args, **kwargs).arguments
            present = all(p.exists() for p in outputs(bound))
            chosen = cached if present else refresh
            return chosen.submit(*args, **kwargs).result() if data else chosen(*args, **kwargs)

        call.task = cached
        return call

    return wrap


def section(name: str = "cfg") -> Callable[[dict[str, Any]], Any]:
    """Key on one pydantic params section passed as argument `name`."""
    return lambda parameters: parameters[name].model_dump(mode="json")


def files(*names: str, under: str | None = None) -> Paths:
    """Paths given as arguments (`names`), or files `names` inside the folder argument `under`."""
    if under is None:
        return lambda parameters: [Path(parameters[n]) for n in names]
    return lambda parameters: [Path(parameters[under]) / n for n in names]
