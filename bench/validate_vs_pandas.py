"""Keel's GX validation vs the same checks written in plain pandas, on one large table.

    python bench/validate_vs_pandas.py [--rows 1000000] [--cols 10] [--repeats 5]

The table: `cols - 1` float64 feature columns (f0, f1, ...) and an int64 `label` in 0..4. The checks are
Keel's tabular suite (components/data/suites.py): row count, exact column set, `label` present, never
null and in its set, and per feature column: present, numeric, never null, within its range. Both sides
return the same outcome (checks evaluated, failures with their unexpected counts), on a clean table and
on one with a null and an out-of-range value; the bench fails if they disagree. Prints seconds (median)
and `gx/pandas = X` (goal <= 3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LABELS = [0, 1, 2, 3, 4]
GOAL = 3.0
STAGE_GOAL = 1.0  # seconds, the validate stage on the default digits data
ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, time
t0 = time.perf_counter()
from components.stages import ingest, validate
from components.core import paths
from components.config.params import load_params
p = load_params("params.yaml")
ingest.run(p.ingest, paths.RAW_DIR)
t1 = time.perf_counter()
import great_expectations
t2 = time.perf_counter()
validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
t3 = time.perf_counter()
validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
t4 = time.perf_counter()
assert (paths.VALIDATION_DIR / "data_docs" / "index.html").is_file()
print(json.dumps({"keel_and_ingest_s": t1 - t0, "import_gx_s": t2 - t1, "first_s": t3 - t2, "warm_s": t4 - t3}))
"""


def table(rows: int, cols: int, seed: int = 0) -> pd.DataFrame:
    """Features ~ N(0, 1) + offset, an int label: the clean table."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(rows, cols - 1)) + np.arange(cols - 1),
                      columns=[f"f{j}" for j in range(cols - 1)])
    df["label"] = rng.integers(0, len(LABELS), rows)
    return df


def pandas_checks(df: pd.DataFrame, columns: list[str], ranges: dict[str, tuple[float, float]],
                  min_rows: int) -> dict[tuple[str, str | None], int | None]:
    """The same checks, by hand: {(check, column): unexpected count (None when not a count)} of the failures."""
    failed: dict[tuple[str, str | None], int | None] = {}
    if len(df) < min_rows:
        failed["expect_table_row_count_to_be_between", None] = None
    if set(df.columns) != set(columns) | {"label"}:
        failed["expect_table_columns_to_match_set", None] = None
    nulls = df.isna().sum()
    label = df["label"]
    if nulls["label"]:
        failed["expect_column_values_to_not_be_null", "label"] = int(nulls["label"])
    bad = int((~label.isin(LABELS) & label.notna()).sum())
    if bad:
        failed["expect_column_values_to_be_in_set", "label"] = bad
    for c in columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            failed["expect_column_values_to_be_in_type_list", c] = None
        if nulls[c]:
            failed["expect_column_values_to_not_be_null", c] = int(nulls[c])
        low, high = ranges[c]
        out = int(((df[c] < low) | (df[c] > high)).sum())
        if out:
            failed["expect_column_values_to_be_between", c] = out
    return failed


def keel_checks(check, df: pd.DataFrame) -> dict[tuple[str, str | None], int | None]:
    """Keel's Validator (GX) on `df`, as {(check, column): unexpected count} of the failures."""
    report = check(df)
    return {(f.expectation, f.column): f.unexpected_count for f in report.failures}


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def digits_stage() -> dict[str, float]:
    """The validate stage on the default digits data, timed in a fresh process (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="keel-validate-") as tmp:
        shutil.copy(ROOT / "params.yaml", tmp)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", CHILD], cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the digits validate run failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    from components.config.sections import TabularValidateConfig
    from components.data.validator import Validator

    df = table(args.rows, args.cols)
    columns = [c for c in df.columns if c != "label"]
    ranges = {c: (-50.0, 50.0 + args.cols) for c in columns}
    cfg = TabularValidateConfig(columns=columns, ranges=ranges, labels=LABELS, min_rows=1000)
    broken = df.copy()
    broken.loc[7, "f1"] = np.nan
    broken.loc[11, "f2"] = 1e6
    broken.loc[13, "label"] = 9
    check = Validator(cfg, {"kind": "tabular"}, name="bench")  # one GX context, as for the parts of a dataset
    keel_checks(check, df)  # warm-up: GX builds its suites on the first call
    rows = []
    for name, frame in (("clean", df), ("broken", broken)):
        t_pd, pd_out = timed(lambda f=frame: pandas_checks(f, columns, ranges, cfg.min_rows), args.repeats)
        t_gx, gx_out = timed(lambda f=frame: keel_checks(check, f), args.repeats)
        if pd_out != gx_out:
            raise SystemExit(f"{name}: the two sides disagree:\n pandas {pd_out}\n keel   {gx_out}")
        rows.append({"table": name, "pandas_s": t_pd, "keel_gx_s": t_gx, "ratio": t_gx / t_pd, "failures": len(gx_out)})
    print(f"{args.rows:,} rows x {args.cols} columns; median of {args.repeats}")
    print(f"{'table':<8}{'pandas s':>10}{'Keel GX s':>11}{'x pandas':>10}{'failures':>10}")
    for r in rows:
        print(f"{r['table']:<8}{r['pandas_s']:>10.3f}{r['keel_gx_s']:>11.3f}{r['ratio']:>10.2f}{r['failures']:>10}")
    ratio = rows[0]["ratio"]
    print(f"gx/pandas = {ratio:.2f} (clean table; goal <= {GOAL:g}: {'met' if ratio <= GOAL else 'NOT met'})")
    stage = digits_stage()
    cold = stage["import_gx_s"] + stage["first_s"]
    print(f"validate stage, digits: import great_expectations {stage['import_gx_s']:.2f} s, first call "
          f"{stage['first_s']:.2f} s, warm call {stage['warm_s']:.2f} s (goal <= {STAGE_GOAL:g} s: warm "
          f"{'met' if stage['warm_s'] <= STAGE_GOAL else 'NOT met'}; first call with the import {cold:.2f} s: "
          f"{'met' if cold <= STAGE_GOAL else 'NOT met'})")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "validate_vs_pandas.json").write_text(json.dumps({"rows": args.rows, "cols": args.cols, "results": rows,
                                                             "digits_stage": stage}, indent=2))


if __name__ == "__main__":
    main()
