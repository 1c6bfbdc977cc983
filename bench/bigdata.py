"""Out-of-core data stages and batch scoring on a synthetic tabular dataset larger than it is sensible to hold in
memory: the single-process pyarrow path against Dask with 1 and 2 worker processes, side by side.

    python bench/bigdata.py [--rows 30000000] [--cols 20] [--engines pyarrow,dask1,dask2] [--dir /tmp/keel-bigdata]

Writes a partitioned Parquet source (float64 features, an int label; 500k rows per file in row groups of 100k),
then, per engine, in a fresh child process: ingest -> validate (GX per part) -> features (split + out-of-core
statistics) -> `keel predict` on the raw parts (a registered linear model, untrained: the cost of scoring, not
its quality). Prints rows/s and CPU seconds (stage process + workers) per stage, the peak RSS of the stage process
and of each Dask worker after each stage and after importing the libraries, against the dataset's in-memory size
(rows x columns x 8 bytes), and the goal lines: 2 workers / 1 worker >= 1.6 on features and scoring; pyarrow
path peak RSS < 1/4 of the in-memory size; worker peak = libraries + a few parts, at any row count. Machine load
makes rows/s noisy (CPU seconds and RSS are not).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's Keel (and its workers'), not an installed one: the script's folder
# (bench/) is first on sys.path, so `components` would otherwise come from wherever the venv installed Keel

FILE_ROWS = 500_000
ROW_GROUP = 100_000  # what a reader must decode at once; Spark/Dask write ~128 MB groups


def generate(root: Path, rows: int, cols: int, seed: int = 0) -> None:
    """`rows` rows in files of FILE_ROWS: features ~ N(0, 1) + column offset, label in 0..4 from a linear rule."""
    import numpy as np
    import pandas as pd

    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    w = rng.normal(size=cols)
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        x = rng.normal(size=(n, cols)) + np.arange(cols)
        df = pd.DataFrame(x, columns=[f"f{j}" for j in range(cols)])
        df["label"] = np.digitize((x - np.arange(cols)) @ w, [-2.0, -0.5, 0.5, 2.0]).astype("int64")
        df.to_parquet(root / f"chunk-{i:05d}.parquet", index=False, row_group_size=ROW_GROUP)


def stages(source: Path, work: Path, cols: int, workers: int) -> dict:
    """ingest, validate, features and predict on `source` (Dask with `workers` processes, 0: in this process)."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"  # before the workers start: they inherit it
    if workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        os.environ["KEEL_DASK_ADDRESS"] = cluster.scheduler_address
        libraries = sorted(client.run(_import_libraries).values())  # each worker's RSS with Keel's libraries
    from components.config.params import read_params_file
    from components.config.sections import FeaturesConfig, IngestConfig, TabularValidateConfig
    from components.stages import features, ingest, validate

    work.mkdir(parents=True)
    base_rss = _peak()  # after imports
    columns = [f"f{j}" for j in range(cols)]
    check = TabularValidateConfig(columns=columns, labels=[0, 1, 2, 3, 4], min_rows=1000,
                                  ranges={c: (-50.0, 50.0 + cols) for c in columns})
    seconds, peaks, cpu, worker_peaks = {}, {}, {}, {}  # peak RSS so far and CPU seconds, per stage

    def timed(stage, fn):
        c0, t0 = _cpu() + sum((client.run(_cpu) if workers else {}).values()), time.perf_counter()
        out = fn()
        seconds[stage] = time.perf_counter() - t0
        cpu[stage] = _cpu() + sum((client.run(_cpu) if workers else {}).values()) - c0
        peaks[stage] = _peak()
        worker_peaks[stage] = sorted(client.run(_peak).values()) if workers else []
        return out

    got = timed("ingest", lambda: ingest.run(IngestConfig(source=str(source)), work / "raw", "tabular"))
    timed("validate", lambda: validate.run(check, work / "raw", work / "val"))
    timed("features", lambda: features.run(FeaturesConfig(), work / "raw", work / "val", work / "features",
                                           "regression"))
    register(work, columns)
    params = read_params_file(Path("params.yaml"), {"model": "linear", "validate.linear.columns": columns,
                                                   "validate.linear.ranges": {}, "validate.linear.label_range": None})
    (work / "params.yaml").write_text(json.dumps(params))  # JSON is YAML
    from components.serving import batch

    timed("predict", lambda: batch.run("bigdata-linear", work / "raw" / "parts", work / "pred", work / "params.yaml",
                                       log_dir=work / "logs"))  # the inference log in the run's folder, not ./logs
    if workers:
        client.close()
        cluster.close()
    return {"rows": got.rows, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_after": peaks, "workers": workers,
            "peak_rss_bytes": _peak(),
            "worker_peak_rss_bytes": worker_peaks["predict"] if workers else [],
            "worker_peak_rss_after": worker_peaks, "worker_libraries_rss_bytes": libraries if workers else [],
            "rss_after_imports_bytes": base_rss}


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far: reliable where wall time is not (a loaded machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak() -> int:
    """This process's peak RSS so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _import_libraries() -> int:
    """Import what the stages' tasks import (a worker's fixed cost); return the RSS after it."""
    import great_expectations  # noqa: F401
    import psutil
    import torch  # noqa: F401

    import components.data.streaming  # noqa: F401
    import components.serving.batch  # noqa: F401

    return psutil.Process().memory_info().rss


def register(work: Path, columns: list[str]) -> None:
    """The linear family on the fitted transform, registered as bigdata-linear@production (not timed)."""
    import pandas as pd
    import torch

    from components.core.io import read_json
    from components.data.transforms.tabular import TabularTransform
    from components.inference.checkpoint import build_model, save_checkpoint
    from components.lifecycle import registry, tracking
    from components.models.linear import LinearConfig

    transform = TabularTransform.model_validate(read_json(work / "features" / "transform.json"))
    torch.manual_seed(0)
    model = build_model("linear", LinearConfig(), transform, (len(columns),))
    ckpt = save_checkpoint(work / "model.pt", model, "linear", LinearConfig(), transform, (len(columns),))
    with tracking.start_run("bigdata"):
        uri = registry.log_pyfunc(ckpt, pd.DataFrame([[0.0] * len(columns)], columns=columns))
    registry.set_alias("bigdata-linear", "production", registry.register_version(uri, "bigdata-linear", {}).version)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=30_000_000)
    p.add_argument("--cols", type=int, default=20)
    p.add_argument("--engines", default="pyarrow,dask1,dask2", help="pyarrow | daskN (N worker processes)")
    p.add_argument("--dir", type=Path, default=Path("/tmp/keel-bigdata"))
    p.add_argument("--keep", action="store_true", help="keep the generated data and outputs")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)  # workers (0: pyarrow)
    args = p.parse_args()
    if args.child is not None:  # the measured process: only the stages, so its peak RSS is theirs
        work = args.dir / f"work-{args.child}"
        print(json.dumps(stages(args.dir / "source", work, args.cols, args.child)))
        return
    shutil.rmtree(args.dir, ignore_errors=True)
    t0 = time.perf_counter()
    generate(args.dir / "source", args.rows, args.cols)
    print(f"generated {args.rows:,} rows x {args.cols + 1} columns in {time.perf_counter() - t0:.0f} s")
    in_memory = args.rows * (args.cols + 1) * 8
    results = {}
    for engine in args.engines.split(","):
        workers = 0 if engine == "pyarrow" else int(engine.removeprefix("dask"))
        env = {k: v for k, v in os.environ.items() if k not in ("KEEL_DASK_ADDRESS", "KEEL_DATA_ENGINE")}
        child = subprocess.run([sys.executable, __file__, "--child", str(workers), "--rows", str(args.rows),
                                "--cols", str(args.cols), "--dir", str(args.dir)], capture_output=True, text=True,
                               env=env)
        if child.returncode != 0:
            sys.exit(child.stderr[-4000:])
        results[engine] = res = json.loads(child.stdout.strip().splitlines()[-1])
        shutil.rmtree(args.dir / f"work-{workers}", ignore_errors=True)
        print(f"\n{engine}: {res['rows']:,} rows; stage process peak RSS {res['peak_rss_bytes'] / 2**30:.2f} GiB"
              + (f"; per worker {', '.join(f'{b / 2**30:.2f}' for b in res['worker_peak_rss_bytes'])} GiB"
                 if workers else ""))
        if workers:
            print(f"per worker after importing the libraries: "
                  f"{', '.join(f'{b / 2**30:.2f}' for b in res['worker_libraries_rss_bytes'])} GiB")
        print(f"{'stage':<10}{'seconds':>10}{'rows/s':>14}{'CPU s':>10}  peak RSS so far (GiB)")
        for stage, s in res["seconds"].items():
            where = (f"workers {', '.join(f'{b / 2**30:.2f}' for b in res['worker_peak_rss_after'][stage])}"
                     if workers else f"process {res['peak_rss_after'][stage] / 2**30:.2f}")
            print(f"{stage:<10}{s:>10.1f}{res['rows'] / s:>14,.0f}{res['cpu_seconds'][stage]:>10.1f}  {where}")
    print(f"\nin-memory size {in_memory / 2**30:.2f} GiB")
    if "pyarrow" in results:
        peak = results["pyarrow"]["peak_rss_bytes"]
        print(f"pyarrow path: peak RSS {peak / 2**30:.2f} GiB = {peak / in_memory:.1%} of it (goal < 25%)")
    for engine, res in results.items():
        if res["workers"]:
            above = max(res["worker_peak_rss_bytes"]) - max(res["worker_libraries_rss_bytes"])
            part = 100_000 * (args.cols + 1) * 8
            print(f"{engine}: worker peak RSS {max(res['worker_peak_rss_bytes']) / 2**30:.2f} GiB = libraries "
                  f"{max(res['worker_libraries_rss_bytes']) / 2**30:.2f} + {above / 2**30:.2f} GiB "
                  f"({above / part:.0f} parts of 100k rows; bounded: the same at any row count)")
    if "dask1" in results and "dask2" in results:
        for stage in ("ingest", "validate", "features", "predict"):
            ratio = results["dask1"]["seconds"][stage] / results["dask2"]["seconds"][stage]
            goal = " (goal >= 1.6)" if stage in ("features", "predict") else ""
            print(f"{stage}: 2 workers / 1 worker = {ratio:.2f}x rows/s{goal}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bigdata.json").write_text(json.dumps({"engines": results, "in_memory_bytes": in_memory,
                                                  "rows": args.rows, "cols": args.cols}, indent=2))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
