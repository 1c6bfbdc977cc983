"""Scoring one registered model through ONNX Runtime against PyTorch, in one process, interleaved: batch rows/s
and one-row latency, and the ratios (ONNX Runtime / PyTorch for rows/s; PyTorch / ONNX Runtime for latency:
above 1, ONNX Runtime is faster).

    python bench/onnx_vs_torch.py [--rows 100000] [--repeats 3] [--latency-calls 500] [--threads 1]

The model is the default digits CNN (random weights: speed does not depend on them), exported to ONNX and
checked against PyTorch on the rows (`register.onnx`'s check), registered with the file in a temporary MLflow
store as bench-onnx@production, and loaded twice: once as it loads anywhere onnxruntime is installed
(ONNX Runtime), once with KEEL_ONNX=0 (PyTorch). Both use `--threads` threads (keel serve's default: 1).

network:      the network alone on the transform's output, batches of 1024: the ORT session vs the PyTorch
              forward as Keel runs it (components/inference/predict.py: channels-last from 64 rows)
pyfunc:       the registered pyfunc's predict on raw rows in keel predict's chunks: transform, network,
              softmax, output frame
keel_predict: `keel predict` end to end (components.serving.batch.run): load, GX checks per chunk, Parquet
one_row_*:    the pyfunc's predict on one raw row, `--latency-calls` times: p50 and p99 in ms (what one
              keel serve request pays for the model, without HTTP), and CPU ms per call
Wall-clock figures need a quiet machine; each is also given per CPU second of this process (`rows_per_cpu_s`,
`cpu_per_call`), which a loaded machine distorts less (the network's threads are counted in it).
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

NAME = "bench-onnx"


def setup(workdir: Path, rows: int) -> tuple[pd.DataFrame, dict]:
    """Register the default CNN with its checked ONNX export as bench-onnx@production; `rows` raw digits rows."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    from components.config.sections import FeaturesConfig, IngestConfig
    from components.data.split import split
    from components.data.transforms.image import ImageTransform
    from components.inference.checkpoint import build_model, save_checkpoint
    from components.inference.onnxrt import export_checked
    from components.lifecycle import registry, tracking
    from components.models.cnn import CnnConfig
    from components.stages.ingest import load_raw

    raw = load_raw(IngestConfig())
    parts = split(raw.frame, FeaturesConfig())
    transform = ImageTransform.fit(parts["train"], {"image_shape": raw.image_shape})
    torch.manual_seed(0)
    model = build_model("cnn", CnnConfig(), transform, (1, *raw.image_shape)).eval()
    ckpt = save_checkpoint(workdir / "model.pt", model, "cnn", CnnConfig(), transform, (1, *raw.image_shape))
    pixels = raw.frame.drop(columns="label")
    check = export_checked(model, transform.features(pixels), workdir / "model.onnx", tolerance=1e-4)
    with tracking.start_run(NAME):
        uri = registry.log_pyfunc(ckpt, pixels.head(5), onnx=(workdir / "model.onnx", check.model_dump(mode="json")))
    version = registry.register_version(uri, NAME, {"family": "cnn"})
    registry.set_alias(NAME, "production", version.version)
    data = pd.concat([pixels] * -(-rows // len(pixels)), ignore_index=True).head(rows)
    data.to_parquet(workdir / "input.parquet", index=False)
    return data, check.model_dump(mode="json")


def load(onnx: bool):
    """The registered pyfunc, unwrapped, loaded with ONNX Runtime (`onnx`) or with KEEL_ONNX=0."""
    from components.lifecycle import registry

    os.environ["KEEL_ONNX"] = "1" if onnx else "0"
    try:
        model = registry.load_pyfunc(f"models:/{NAME}@production").unwrap_python_model()
    finally:
        os.environ.pop("KEEL_ONNX")
    assert model.ckpt.backend == ("onnxruntime" if onnx else "torch"), model.backend_reason
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--latency-calls", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("bench/results/onnx_vs_torch.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)  # before loading: the ORT session takes the same number
    from components.core import paths
    from components.inference.predict import forward
    from components.serving import batch

    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, check = setup(work, args.rows)
        models = {"onnxruntime": load(True), "torch": load(False)}
        features = models["torch"].ckpt.transform.features(data)
        chunk = batch.default_chunk_rows(work / "input.parquet")
        one = data.head(1)
        same = {k: m.predict(None, data.head(2000)) for k, m in models.items()}
        diff = float(np.abs(same["onnxruntime"].filter(like="p_").to_numpy()
                            - same["torch"].filter(like="p_").to_numpy()).max())

        def timed(fn) -> tuple[float, float]:
            """(wall s, this process's CPU s) of fn(): under load the CPU time is the steadier figure."""
            w, c = time.perf_counter(), time.process_time()
            fn()
            return time.perf_counter() - w, time.process_time() - c

        def network(model) -> tuple[float, float]:
            return timed(lambda: forward(model.ckpt, features))

        def pyfunc(model) -> tuple[float, float]:
            return timed(lambda: [model.predict(None, data.iloc[i:i + chunk]) for i in range(0, len(data), chunk)])

        def keel_predict(backend: str) -> tuple[float, float]:
            os.environ["KEEL_ONNX"] = "1" if backend == "onnxruntime" else "0"
            try:
                done = []
                spent = timed(lambda: done.append(batch.run(NAME, work / "input.parquet", work / "out.parquet",
                                                            paths.PARAMS.resolve(), chunk_rows=chunk,
                                                            log_dir=work / "log")))
                assert done[0].backend == backend, done
                return spent
            finally:
                os.environ.pop("KEEL_ONNX")

        def latencies(model) -> tuple[list[float], float]:
            """Wall ms of each one-row call, and the CPU ms per call over them all."""
            out, c = [], time.process_time()
            for _ in range(args.latency_calls):
                out.append(timed(lambda: model.predict(None, one))[0] * 1000)
            return out, (time.process_time() - c) * 1000 / args.latency_calls

        rates: dict[str, list[float]] = {}
        cpu_rates: dict[str, list[float]] = {}
        lat: dict[str, list[float]] = {k: [] for k in models}
        lat_cpu: dict[str, list[float]] = {k: [] for k in models}
        for backend, model in models.items():  # warm-up: lazy imports, first-call allocations
            network(model), pyfunc(model), keel_predict(backend), latencies(model)
        for r in range(args.repeats):
            for backend in (list(models) if r % 2 == 0 else list(models)[::-1]):  # interleaved against drift
                model = models[backend]
                for what, (wall, cpu) in (("network", network(model)), ("pyfunc", pyfunc(model)),
                                          ("keel_predict", keel_predict(backend))):
                    rates.setdefault(f"{what}_{backend}", []).append(len(data) / wall)
                    cpu_rates.setdefault(f"{what}_{backend}", []).append(len(data) / max(cpu, 1e-9))
                walls, cpu_ms = latencies(model)
                lat[backend] += walls
                lat_cpu[backend].append(cpu_ms)
    med = {k: statistics.median(v) for k, v in rates.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu_rates.items()}
    p50 = {k: statistics.median(v) for k, v in lat.items()}
    p99 = {k: float(np.percentile(v, 99)) for k, v in lat.items()}
    cpu1 = {k: statistics.median(v) for k, v in lat_cpu.items()}
    result = {
        "model": "digits cnn (default config)", "rows": len(data), "chunk_rows": chunk, "repeats": args.repeats,
        "threads": args.threads, "onnx_check": check, "max_abs_diff_probabilities": diff,
        "rows_per_s": {k: round(v) for k, v in med.items()},
        "rows_per_cpu_s": {k: round(v) for k, v in med_cpu.items()},
        "one_row_ms": {"p50": {k: round(v, 3) for k, v in p50.items()},
                       "p99": {k: round(v, 3) for k, v in p99.items()},
                       "cpu_per_call": {k: round(v, 3) for k, v in cpu1.items()}},
        "ratio_network_ort_vs_torch": round(med["network_onnxruntime"] / med["network_torch"], 3),
        "ratio_pyfunc_ort_vs_torch": round(med["pyfunc_onnxruntime"] / med["pyfunc_torch"], 3),
        "ratio_keel_predict_ort_vs_torch": round(med["keel_predict_onnxruntime"] / med["keel_predict_torch"], 3),
        "ratio_one_row_p50_torch_vs_ort": round(p50["torch"] / p50["onnxruntime"], 3),
        "ratio_cpu_network_ort_vs_torch": round(med_cpu["network_onnxruntime"] / med_cpu["network_torch"], 3),
        "ratio_cpu_one_row_torch_vs_ort": round(cpu1["torch"] / cpu1["onnxruntime"], 3),
        "cpu_seconds": round(time.process_time() - cpu0, 1), "load_average": os.getloadavg()[0],
        "all_runs": {k: [round(v) for v in r] for k, r in rates.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"ONNX Runtime / PyTorch rows/s: network {result['ratio_network_ort_vs_torch']:.2f}x, pyfunc "
          f"{result['ratio_pyfunc_ort_vs_torch']:.2f}x, keel predict {result['ratio_keel_predict_ort_vs_torch']:.2f}x; "
          f"one-row p50 {p50['onnxruntime']:.2f} ms (ORT) vs {p50['torch']:.2f} ms (torch): "
          f"{result['ratio_one_row_p50_torch_vs_ort']:.2f}x; max abs diff {check['max_abs_diff']:.2g} (raw outputs)")
    print(f"per CPU second (steadier under load): network {result['ratio_cpu_network_ort_vs_torch']:.2f}x; one row "
          f"{cpu1['onnxruntime']:.2f} vs {cpu1['torch']:.2f} CPU ms: {result['ratio_cpu_one_row_torch_vs_ort']:.2f}x; "
          f"load average {result['load_average']:.1f}")
    assert np.isfinite(result["ratio_network_ort_vs_torch"]) and diff < 1e-4


if __name__ == "__main__":
    main()
