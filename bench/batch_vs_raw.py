"""Batch scoring through Keel against a raw model forward on the same rows, in one process, interleaved.
Prints rows/s for each and the ratios (Keel / raw; goal >= 0.9).

    python bench/batch_vs_raw.py [--rows 200000] [--repeats 3] [--chunk-rows N (default: keel predict's)]
        [--device cuda]

`--device cuda`: every path scores on the GPU (Keel's through KEEL_INFERENCE_DEVICE, the raw ones with the
model and inputs moved there; the raw forwards' inputs are on the GPU beforehand, their outputs synchronised
but left there); on a machine without CUDA it says so and exits 0.

raw:          the CNN's forward on tensors prepared beforehand (batches of 1024, inference mode), in
              PyTorch's default (NCHW) layout: what a hand-written loop does
raw_cl:       the same forward in channels-last layout, as Keel's inference runs it: Keel's overhead
              like for like
raw_job:      a hand-written scoring script: Parquet read in chunks, normalise, the same forward, softmax,
              Parquet write of the predicted class and probabilities (no validation, no registry)
keel_predict: the registered pyfunc (`models:/bench-cnn@production`) on raw pixel rows: MLflow schema
              check, the saved transform, the same forward, the output frame
keel_batch:   `keel predict` end to end (components.serving.batch.run): alias resolution and model load, input
              hash, Parquet read in chunks, the GX suite per chunk, the model, Parquet write with metadata
The model is the default digits CNN (random weights: throughput does not depend on them) registered in
a temporary MLflow store. Every path runs once before timing (imports: the first `keel predict` in a
process also pays ~1.5 s importing Great Expectations).
"""

from __future__ import annotations

import argparse
import copy
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
    from components.config.sections import FeaturesConfig, IngestConfig
    from components.data.split import split
    from components.data.transforms.image import ImageTransform
    from components.inference.checkpoint import build_model, save_checkpoint
    from components.lifecycle import registry, tracking
    from components.models.cnn import CnnConfig
    from components.stages.ingest import load_raw

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
    p.add_argument("--chunk-rows", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="default bench/results/batch_vs_raw_<device>.json")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device here (torch.cuda.is_available() is False); nothing measured")
        return
    device = torch.device(args.device)
    os.environ["KEEL_INFERENCE_DEVICE"] = str(device)  # Keel's pyfunc and keel predict score there
    args.out = args.out or Path(f"bench/results/batch_vs_raw_{device.type}.json")
    from components.core import paths
    from components.lifecycle import registry
    from components.serving import batch

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = setup(work, args.rows)
        args.chunk_rows = args.chunk_rows or batch.default_chunk_rows(work / "input.parquet")
        pyfunc = registry.load_pyfunc("models:/bench-cnn@production")
        ckpt = pyfunc.unwrap_python_model().ckpt
        x = torch.from_numpy(ckpt.transform.features(data)).to(device)  # prepared once, outside the raw timing
        net = copy.deepcopy(ckpt.model).to(device).eval()  # a copy: Keel's predict turns its own model channels-last
        net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        def forward(model: torch.nn.Module, inputs: torch.Tensor) -> float:
            sync()
            t0 = time.perf_counter()
            with torch.inference_mode():
                for i in range(0, len(inputs), 1024):
                    model(inputs[i:i + 1024])
            sync()
            return time.perf_counter() - t0

        def raw_job() -> float:
            import pyarrow as pa
            import pyarrow.parquet as pq

            t0 = time.perf_counter()
            mean, std = np.float32(ckpt.transform.mean), np.float32(ckpt.transform.std)
            writer = None
            for b in pq.ParquetFile(work / "input.parquet").iter_batches(batch_size=args.chunk_rows):
                xb = torch.from_numpy(((b.to_pandas().to_numpy(np.float32) - mean) / std).reshape(-1, 1, 8, 8))
                with torch.inference_mode():
                    proba = torch.cat([net(xb[i:i + 1024].to(device))[0] for i in range(0, len(xb), 1024)]
                                      ).softmax(1).cpu().numpy()
                cols = {"prediction": proba.argmax(1)} | {f"p_{k}": proba[:, k].astype(np.float64) for k in range(10)}
                table = pa.table(cols)
                writer = writer or pq.ParquetWriter(work / "raw_out.parquet", table.schema)
                writer.write_table(table)
            writer.close()
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

        fns = {"raw": lambda: forward(net, x), "raw_cl": lambda: forward(net_cl, x_cl), "raw_job": raw_job,
               "keel_predict": keel_predict, "keel_batch": keel_batch}
        runs: dict[str, list[float]] = {k: [] for k in fns}
        for fn in fns.values():  # warm-up: the first call pays lazy imports
            fn()
        for r in range(args.repeats):
            for who in (list(fns) if r % 2 == 0 else list(fns)[::-1]):  # interleave to spread machine noise
                runs[who].append(len(data) / fns[who]())
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {"device": str(device), "rows": len(data), "chunk_rows": args.chunk_rows, "repeats": args.repeats,
              "rows_per_s": {k: round(v) for k, v in med.items()},
              "ratio_keel_predict_vs_raw": round(med["keel_predict"] / med["raw"], 3),
              "ratio_keel_batch_vs_raw": round(med["keel_batch"] / med["raw"], 3),
              "ratio_keel_predict_vs_raw_cl": round(med["keel_predict"] / med["raw_cl"], 3),
              "ratio_keel_batch_vs_raw_cl": round(med["keel_batch"] / med["raw_cl"], 3),
              "ratio_raw_job_vs_raw": round(med["raw_job"] / med["raw"], 3),
              "ratio_keel_batch_vs_raw_job": round(med["keel_batch"] / med["raw_job"], 3),
              "torch_threads": torch.get_num_threads(), "all_runs": {k: [round(v) for v in r] for k, r in runs.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"[{device}] keel predict (pyfunc) / raw forward = {result['ratio_keel_predict_vs_raw']:.3f}; "
          f"keel predict end to end / raw forward = {result['ratio_keel_batch_vs_raw']:.3f}; "
          f"/ hand-written scoring job = {result['ratio_keel_batch_vs_raw_job']:.3f}")
    assert np.isfinite(result["ratio_keel_predict_vs_raw"])


if __name__ == "__main__":
    main()
