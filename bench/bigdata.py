"""Out-of-core data stages on a synthetic tabular dataset larger than it is sensible to hold in memory.

    python bench/bigdata.py [--rows 30000000] [--cols 20] [--dir /tmp/keel-bigdata] [--keep]

Writes a partitioned Parquet source (float64 features, an int label; 500k rows per file in row groups
of 100k), then runs ingest -> validate (GX per part) -> features (out-of-core statistics) in a child
process and prints rows/s per stage and that process's peak RSS, against the dataset's in-memory size
(rows x columns x 8 bytes, what pandas would hold). The bar: peak RSS < 1/4 of the in-memory size.
Machine load makes the rows/s noisy; the RSS figure is not.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


def stages(source: Path, work: Path, cols: int) -> dict:
    """ingest + validate + features on `source` (in this process); timings and peak RSS."""
    from components.config.sections import FeaturesConfig, IngestConfig, TabularValidateConfig
    from components.stages import features, ingest, validate

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # after imports
    columns = [f"f{j}" for j in range(cols)]
    seconds, peaks = {}, {}  # peak RSS so far, after each stage
    t0 = time.perf_counter()
    got = ingest.run(IngestConfig(source=str(source)), work / "raw", "tabular")
    seconds["ingest"] = time.perf_counter() - t0
    peaks["ingest"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    validate.run(TabularValidateConfig(columns=columns, labels=[0, 1, 2, 3, 4], min_rows=1000,
                                       ranges={c: (-50.0, 50.0 + cols) for c in columns}), work / "raw", work / "val")
    seconds["validate"] = time.perf_counter() - t0
    peaks["validate"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    features.run(FeaturesConfig(), work / "raw", work / "val", work / "features", "classification")
    seconds["features"] = time.perf_counter() - t0
    peaks["features"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rows": got.rows, "seconds": seconds, "peak_rss_after": peaks, "peak_rss_bytes": peak,
            "rss_after_imports_bytes": base_rss}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=30_000_000)
    p.add_argument("--cols", type=int, default=20)
    p.add_argument("--dir", type=Path, default=Path("/tmp/keel-bigdata"))
    p.add_argument("--keep", action="store_true", help="keep the generated data and outputs")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:  # the measured process: only the stages, so its peak RSS is theirs
        print(json.dumps(stages(args.dir / "source", args.dir / "work", args.cols)))
        return
    shutil.rmtree(args.dir, ignore_errors=True)
    t0 = time.perf_counter()
    generate(args.dir / "source", args.rows, args.cols)
    print(f"generated {args.rows:,} rows x {args.cols + 1} columns in {time.perf_counter() - t0:.0f} s")
    child = subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows), "--cols", str(args.cols),
                            "--dir", str(args.dir)], capture_output=True, text=True)
    if child.returncode != 0:
        sys.exit(child.stderr[-4000:])
    res = json.loads(child.stdout.strip().splitlines()[-1])
    in_memory = args.rows * (args.cols + 1) * 8
    total = sum(res["seconds"].values())
    print(f"{'stage':<10}{'seconds':>10}{'rows/s':>14}{'peak RSS so far':>18}")
    for stage, s in res["seconds"].items():
        print(f"{stage:<10}{s:>10.1f}{res['rows'] / s:>14,.0f}{res['peak_rss_after'][stage] / 2**30:>14.2f} GiB")
    print(f"{'all three':<10}{total:>10.1f}{res['rows'] / total:>14,.0f}")
    print(f"in-memory size {in_memory / 2**30:.2f} GiB; peak RSS {res['peak_rss_bytes'] / 2**30:.2f} GiB "
          f"({res['peak_rss_bytes'] / in_memory:.1%} of it; bar < 25%); RSS after imports "
          f"{res['rss_after_imports_bytes'] / 2**30:.2f} GiB")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bigdata.json").write_text(json.dumps(res | {"in_memory_bytes": in_memory, "cols": args.cols}, indent=2))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    if res["peak_rss_bytes"] >= in_memory / 4:
        sys.exit("peak RSS is not below a quarter of the in-memory size")


if __name__ == "__main__":
    main()
