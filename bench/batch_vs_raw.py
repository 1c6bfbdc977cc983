"""Batch scoring through Keel against a raw model forward on the same rows, in one process, interleaved.
Prints rows/s for each and the ratios (Keel / raw; goal >= 0.9).

    python bench/batch_vs_raw.py [--rows 200000] [--repeats 3] [--chunk-rows 50000]

raw:          the CNN's forward on tensors prepared beforehand (batches of 1024, inference mode)
keel_predict: the registered pyfunc (`models:/bench-cnn@production`) on raw pixel rows: MLflow schema
              check, the saved transform, the same forward, the output frame
keel_batch:   `keel predict` end to end (components.batch.run): Parquet read in chunks, the GX suite per
              chunk, the pyfunc, Parquet write, input hash
The model is the default digits CNN (random weights: throughput does not depend on them) registered in
a temporary MLflow store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def setup(workdir: Path, rows: int):
    """Register the default CNN as bench-cnn@production in a temp store; write `rows` raw digits rows."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    from components import registry, tracking
    from components.config import CnnConfig, FeaturesConfig, IngestConfig
    from components.features import split
    from components.ingest import load_raw
    from components.models import build_model, save_checkpoint
    from components.transforms import ImageTransform

    raw = load_raw(IngestConfig())
    parts = split(raw.frame, FeaturesConfig())
    transform = ImageTransform.fit(parts["train"], {"image_shape": raw.image_shape})
    torch.manual_seed(0)
    model = build_model("cnn", CnnConfig(), transform, (1, *raw.image_shape))
    ckpt = save_checkpoint(workdir / "model.pt", model, "cnn", CnnConfig(), transform, (1, *raw.image_shape))
    pixels = raw.frame.drop(columns="label")
    with tracking.start_run("bench-cnn"):
        uri = registry.log_pyfunc(ckpt, pixels.head(5))
    version = registry.register_version(uri, "bench-cnn", {"family": "cnn"})
    registry.set_alias("bench-cnn", "production", version.version)
    reps = -(-rows // len(pixels))
    data = pd.concat([pixels] * reps, ignore_index=True).head(rows)
    data.to_parquet(workdir / "input.parquet", index=False)
    return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--out", type=Path, default=Path("bench/results/batch_vs_raw.json"))
    args = p.parse_args()
    from components import batch, paths, registry

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = setup(work, args.rows)
        pyfunc = registry.load_pyfunc("models:/bench-cnn@production")
        ckpt = pyfunc.unwrap_python_model().ckpt
        x = torch.from_numpy(ckpt.transform.features(data))  # prepared once, outside the raw timing
        net = ckpt.model.eval()

        def raw() -> float:
            t0 = time.perf_counter()
            with torch.inference_mode():
                for i in range(0, len(x), 1024):
                    net(x[i:i + 1024])
            return time.perf_counter() - t0

        def keel_predict() -> float:
            t0 = time.perf_counter()
            for i in range(0, len(data), args.chunk_rows):
                pyfunc.predict(data.iloc[i:i + args.chunk_rows])
            return time.perf_counter() - t0

        def keel_batch() -> float:
            t0 = time.perf_counter()
            batch.run("bench-cnn", work / "input.parquet", work / "out.parquet", paths.PARAMS.resolve(),
                      chunk_rows=args.chunk_rows)
            return time.perf_counter() - t0

        runs: dict[str, list[float]] = {"raw": [], "keel_predict": [], "keel_batch": []}
        fns = {"raw": raw, "keel_predict": keel_predict, "keel_batch": keel_batch}
        keel_predict()  # warm-up (first call pays lazy imports)
        for r in range(args.repeats):
            for who in (list(fns) if r % 2 == 0 else list(fns)[::-1]):  # interleave to spread machine noise
                runs[who].append(len(data) / fns[who]())
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {"rows": len(data), "chunk_rows": args.chunk_rows, "repeats": args.repeats,
              "rows_per_s": {k: round(v) for k, v in med.items()},
              "ratio_keel_predict_vs_raw": round(med["keel_predict"] / med["raw"], 3),
              "ratio_keel_batch_vs_raw": round(med["keel_batch"] / med["raw"], 3),
              "torch_threads": torch.get_num_threads(), "all_runs": {k: [round(v) for v in r] for k, r in runs.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    assert np.isfinite(result["ratio_keel_predict_vs_raw"])


if __name__ == "__main__":
    main()
