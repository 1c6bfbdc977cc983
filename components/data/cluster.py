"""Partitioned data on Dask: one task per part, run as a `dask.bag` graph on a cluster.

Which engine runs the per-part work of the partitioned (larger than memory) path:
  KEEL_DASK_ADDRESS=tcp://host:8786   an existing cluster (the same variable moves the flow's data tasks there)
  KEEL_DATA_ENGINE=dask               an embedded `LocalCluster` of KEEL_DASK_WORKERS (default 2) worker
                                      processes, one thread each, started for the call and closed after it
  neither                             in this process, one part after another (pyarrow streaming)
Inside a Dask task (the flow on a DaskTaskRunner) the parts go to the same cluster through `worker_client`.
Every engine runs the same per-part function, so the results are the same; only where it runs differs.
A stage's several rounds share one cluster (`session`); what a worker builds once for all its parts (a GX
Validator) is `kept` per thread; `sha256_tree` hashes a folder's files on the workers.

Embedded workers are spawned processes that import Keel afresh from the parent's `sys.path`. Loading a
registered model puts the model's code snapshot (only the modules it needs) first on that path, so the
cluster is started with this process's Keel checkout first (`keel_first`): workers run the code the caller
runs. Workers of an existing cluster run whatever Keel their machines have installed: the same commit.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from components.core.io import files_under, fold_sha256, sha256_file

ADDRESS_ENV = "KEEL_DASK_ADDRESS"
ENGINE_ENV = "KEEL_DATA_ENGINE"
WORKERS_ENV = "KEEL_DASK_WORKERS"
T = TypeVar("T")


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


_SESSION = threading.local()  # the client of the enclosing `session` block, per thread


@contextmanager
def session() -> Iterator[None]:
    """Every `map_parts` of the block on one client (one embedded LocalCluster for the block, not one per
    call); nothing on the pyarrow engine."""
    if not use_dask() or getattr(_SESSION, "client", None) is not None:
        yield
        return
    with client() as c:
        _SESSION.client = c
        try:
            yield
        finally:
            _SESSION.client = None


def map_parts(fn: Callable[..., Any], items: Sequence[tuple]) -> list[Any]:
    """`[fn(*item) for item in items]`, in order: a `dask.bag` with one partition per item on Dask when the
    environment asks for it (`use_dask`), else here, one item after another."""
    if not use_dask():
        return [fn(*item) for item in items]
    with session():
        import dask.bag as db

        bag = db.from_sequence(list(items), npartitions=max(len(items), 1)).starmap(fn)
        return list(_SESSION.client.compute(bag).result())


_KEPT = threading.local()  # per worker thread: (key, object) of the last `kept` call


def kept(key: str, build: Callable[[], T]) -> T:
    """This thread's object for `key` (a GX Validator for one suite), built on first use and kept for the parts
    the thread runs next. One at a time: a new key builds its object, drops the old one and collects garbage,
    because a GX context is a web of reference cycles whose BatchManager holds the last frame it validated
    (and GX's project manager the latest context): dropped once per part, such contexts piled up (~8 MiB a
    part of 100k rows x 20 columns) until Python's rare full collection."""
    held = getattr(_KEPT, "held", None)
    if held is None or held[0] != key:
        _KEPT.held, replacing = None, held is not None
        del held  # the last reference here; GX's project manager holds the latest context until the next is built
        built = build()
        if replacing:
            gc.collect()
        _KEPT.held = (key, built)
    return _KEPT.held[1]


def sha256_tree(root: Path) -> str:
    """`sha256_paths([root])` with the files hashed in parallel (`map_parts`): the same digest."""
    root = Path(root)
    files = files_under(root)
    digests = map_parts(sha256_file, [(f,) for f in files])
    return fold_sha256((str(f.relative_to(root.parent)), d) for f, d in zip(files, digests, strict=True))
