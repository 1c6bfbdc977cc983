"""GPU figures (issue 16, item 6): Keel's training phase and whole epoch loop against a hand-written loop, bf16
against fp32 throughput, and Keel's scoring path against a raw forward, on one CUDA device, same process.

    python bench/gpu.py [--epochs 3] [--repeats 3] [--rows 60000] [--out bench/results/gpu.json]

Models: the default digits CNN on Keel's digits split (8x8), and the fashion_cnn architecture (its declared
defaults: VGG-style blocks with batch norm) on 28x28 tensors of Fashion-MNIST's training-set size. The
Fashion tensors are random (throughput does not depend on pixel values), so the figures need no dataset on
the GPU machine. Both loops see the same batches, precision (autocast) and device-resident data; the raw loop
is bench/train_vs_raw.py's. Scoring: `components.inference.predict.forward` (what evaluate, the pyfunc and
`keel predict` call after the transform) against the bare network in inference mode, batches of 1024.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_vs_raw import digits_tensors, raw_loop  # noqa: E402

from components.config.sections import TrainConfig  # noqa: E402
from components.families.registry import get  # noqa: E402
from components.inference.checkpoint import Checkpoint  # noqa: E402
from components.inference.predict import forward  # noqa: E402
from components.models.cnn import CnnConfig, ConvNet  # noqa: E402
from components.training.loop import Tensors, set_seeds, train_loop  # noqa: E402


class _Probs:
    """The transform surface `forward` needs for a classifier (n_outputs; postprocess is the task's softmax)."""

    def __init__(self, n: int):
        self.n_outputs, self.classes = n, list(range(n))


def fashion_like(rows: int) -> tuple[Tensors, Tensors, CnnConfig, tuple[int, int, int]]:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(rows, 1, 28, 28, generator=g), torch.randint(0, 10, (rows,), generator=g)
    cut = int(rows * 0.9)
    arch = {k: v for k, v in get("fashion_cnn").defaults["train"].items() if k in CnnConfig.model_fields}
    return Tensors(x[:cut], y[:cut]), Tensors(x[cut:], y[cut:]), CnnConfig(**arch), (1, 28, 28)


def train_figures(name, train, val, arch, shape, device, epochs, repeats, batch_size) -> dict:
    out = {}
    n = len(train) * epochs
    for precision in ("fp32", "bf16"):
        cfg = TrainConfig(epochs=epochs, patience=epochs + 1, batch_size=batch_size, progress=False,
                          precision=precision)
        keel_train, keel_loop, raw = [], [], []
        for r in range(repeats):
            for who in (("keel", "raw") if r % 2 == 0 else ("raw", "keel")):
                set_seeds(cfg.seed)
                model = ConvNet(arch, shape, 10).to(device)
                if who == "raw":
                    raw.append(n / raw_loop(model, train.to(device), epochs, batch_size, cfg.lr, cfg.seed, precision))
                else:
                    t0 = time.perf_counter()
                    hist = train_loop(model, train, val, cfg, device)
                    keel_loop.append(n / (time.perf_counter() - t0))
                    keel_train.append(n / sum(e.seconds for e in hist.epochs))
        med = {k: statistics.median(v) for k, v in
               {"raw": raw, "keel_train_phase": keel_train, "keel_whole_loop": keel_loop}.items()}
        out[precision] = {"samples_per_s": med, "ratio_train_phase": med["keel_train_phase"] / med["raw"],
                          "ratio_whole_loop": med["keel_whole_loop"] / med["raw"]}
        print(f"{name:<8}{precision:<6}raw {med['raw']:>11,.0f}/s  keel train phase {med['keel_train_phase']:>11,.0f}/s"
              f" ({out[precision]['ratio_train_phase']:.3f}x)  whole loop {med['keel_whole_loop']:>11,.0f}/s"
              f" ({out[precision]['ratio_whole_loop']:.3f}x)", flush=True)
    out["bf16_over_fp32_raw"] = out["bf16"]["samples_per_s"]["raw"] / out["fp32"]["samples_per_s"]["raw"]
    out["bf16_over_fp32_keel"] = (out["bf16"]["samples_per_s"]["keel_train_phase"]
                                  / out["fp32"]["samples_per_s"]["keel_train_phase"])
    return out


def scoring_figures(name, x, arch, shape, device, repeats) -> dict:
    model = ConvNet(arch, shape, 10).to(device).eval()
    ckpt = Checkpoint(model, "cnn", arch, _Probs(10), shape, {})
    features = x.numpy()

    def raw() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            outs = [torch.softmax(model(x[i:i + 1024].to(device))[0].float(), 1).cpu() for i in range(0, len(x), 1024)]
        torch.cat(outs)
        return len(x) / (time.perf_counter() - t0)

    def keel() -> float:
        t0 = time.perf_counter()
        forward(ckpt, features, 1024, device)
        return len(x) / (time.perf_counter() - t0)

    raw(), keel()  # warm-up (cuDNN autotuning, allocator)
    runs = {"raw": [], "keel": []}
    for i in range(repeats):  # interleaved
        for who, f in ((("raw", raw), ("keel", keel)) if i % 2 == 0 else (("keel", keel), ("raw", raw))):
            runs[who].append(f())
    r, k = statistics.median(runs["raw"]), statistics.median(runs["keel"])
    print(f"{name:<8}score raw forward {r:>11,.0f} rows/s  keel forward {k:>11,.0f} rows/s ({k / r:.3f}x)", flush=True)
    return {"raw_rows_per_s": r, "keel_rows_per_s": k, "ratio": k / r}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=60_000)
    p.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"))
    p.add_argument("--device", default="cuda", help="cpu only to smoke-test this script")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu.py: no CUDA device (torch.cuda.is_available() is False)")
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    result = {"device": name, "torch": torch.__version__, "epochs": args.epochs,
              "repeats": args.repeats}
    train, val = digits_tensors()
    result["digits_cnn_bs32"] = train_figures("digits", train, val, CnnConfig(), (1, 8, 8), device,
                                              args.epochs, args.repeats, 32)
    result["digits_cnn_bs256"] = train_figures("digits", train, val, CnnConfig(), (1, 8, 8), device,
                                               args.epochs, args.repeats, 256)
    ftrain, fval, farch, fshape = fashion_like(args.rows)
    result["fashion_cnn_bs128"] = train_figures("fashion", ftrain, fval, farch, fshape, device,
                                                args.epochs, args.repeats, 128)
    many = torch.cat([train.x] * (200 if device.type == "cuda" else 2))  # ~250k rows on the GPU
    result["scoring_digits"] = scoring_figures("digits", many, CnnConfig(), (1, 8, 8), device, args.repeats)
    result["scoring_fashion"] = scoring_figures("fashion", ftrain.x, farch, fshape, device, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}))


if __name__ == "__main__":
    main()
