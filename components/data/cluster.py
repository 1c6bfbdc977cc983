"""Partitioned data on Dask: one task per part, run as a `dask.bag` graph on a cluster.

Which engine runs the per-part work of the partitioned (larger than memory) path:
  KEEL_DASK_ADDRESS=tcp://host:8786   an existing cluster (the same variable moves the flow's data tasks there)
  KEEL_DATA_ENGINE=dask               an embedded `LocalCluster` of KEEL_DASK_WORKERS (default 2) worker
                                      processes, one thread each, started for the call and closed after it
  neither                             in this process, one part after another (pyarrow streaming)
Inside a Dask task (the flow on a DaskTaskRunner) the parts go to the same cluster through `worker_client`.
Every engine runs the same per-part function, so the results are the same; only where it runs differs.

Embedded workers are spawned processes that import Keel afresh from the parent's `sys.path`. Loading a
registered model puts the model's code snapshot (only the modules it needs) first on that path, so the
cluster is started with this process's Keel checkout first (`keel_first`): workers run the code the caller
runs. Workers of an existing cluster run whatever Keel their machines have installed: the same commit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ADDRESS_ENV = "KEEL_DASK_ADDRESS"
ENGINE_ENV = "KEEL_DATA_ENGINE"
WORKERS_ENV = "KEEL_DASK_WORKERS"


def use_dask() -> bool:
    """True when the environment asks for Dask (an address, or KEEL_DATA_ENGINE=dask)."""
    engine = os.environ.get(ENGINE_ENV, "").strip().lower()
    if engine not in ("", "dask", "pyarrow"):
        raise ValueError(f"{ENGINE_ENV}={engine!r}: expected 'dask' or 'pyarrow'")
    return engine == "dask" or (engine == "" and bool(os.environ.get(ADDRESS_ENV)))


@contextmanager
def keel_first() -> Iterator[None]:
    """This process's Keel checkout (the folder holding the imported `components`) first on `sys.path` for the
    block: processes spawned in it (Dask workers) import the same Keel, not a model's code snapshot."""
    import components

    root = str(Path(components.__file__).resolve().parents[1])
    sys.path.insert(0, root)
    try:
        yield
    finally:
        sys.path.remove(root)  # the first occurrence: the one inserted here


@contextmanager
def client() -> Iterator[Any]:
    """A `distributed.Client`: the running task's cluster, KEEL_DASK_ADDRESS's, or an embedded LocalCluster."""
    from distributed import Client, LocalCluster, get_worker, worker_client

    try:
        get_worker()
    except ValueError:  # not inside a Dask task
        pass
    else:
        with worker_client() as c:  # secedes from the worker's thread pool while the parts run
            yield c
        return
    address = os.environ.get(ADDRESS_ENV)
    if address:
        with Client(address) as c:
            yield c
        return
    workers = int(os.environ.get(WORKERS_ENV, "2"))
    with keel_first(), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None) as lc, Client(lc) as c:
        yield c


def map_parts(fn: Callable[..., Any], items: Sequence[tuple]) -> list[Any]:
    """`[fn(*item) for item in items]`, in order: a `dask.bag` with one partition per item on Dask when the
    environment asks for it (`use_dask`), else here, one item after another."""
    if not use_dask():
        return [fn(*item) for item in items]
    import dask.bag as db

    with client() as c:
        bag = db.from_sequence(list(items), npartitions=max(len(items), 1)).starmap(fn)
        return list(c.compute(bag).result())
