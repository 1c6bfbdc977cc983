"""Keel's training loop vs a minimal hand-written PyTorch loop: same model, data, batch size, epochs and
seed, in one process, interleaved. Prints samples/s for each and the ratios (Keel / raw).

    python bench/train_vs_raw.py [--epochs 10] [--repeats 5] [--batch-size 32] [--precision fp32,bf16]
        [--compile] [--device cuda]

Both loops use the same precision (autocast) and compile setting; on CUDA both hold the data on the GPU
(`--device cuda` on a machine without CUDA says so and exits 0).

Two ratios: the training phase alone (Keel's `train_step` time against the raw loop's training time; goal
>= 0.97), and the whole epoch loop (goal >= 0.95): Keel's `train_loop` against the raw loop doing the same
work every epoch: train, score the validation split (loss and accuracy, in batches of max(batch, 256)), keep
the best weights (what early stopping restores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from components.config.sections import FeaturesConfig, IngestConfig, TrainConfig
from components.data.split import split
from components.data.transforms.image import ImageTransform
from components.models.cnn import CnnConfig, ConvNet
from components.stages.ingest import load_raw
from components.training.loop import Tensors, set_seeds, train_loop


def digits_tensors() -> tuple[Tensors, Tensors]:
    """Digits through Keel's own split and transform (the data every run of both loops sees)."""
    raw = load_raw(IngestConfig())
    parts = split(raw.frame, FeaturesConfig())
    t = ImageTransform.fit(parts["train"], {"image_shape": list(raw.image_shape)})
    make = lambda df: Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df)))  # noqa: E731
    return make(parts["train"]), make(parts["val"])


def raw_loop(model: torch.nn.Module, data: Tensors, val: Tensors, epochs: int, batch_size: int, lr: float,
             seed: int, precision: str = "fp32", compile: bool = False) -> tuple[float, float]:
    """The plain loop a PyTorch user would write, validating every epoch; returns (train seconds, total seconds)."""
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    device = data.x.device
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    fwd = torch.compile(model) if compile else model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    val_batch, best_loss, best = max(batch_size, 256), float("inf"), None
    train_s = 0.0
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        t1 = time.perf_counter()
        perm = torch.randperm(len(data.x), generator=gen)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size].to(device)
            opt.zero_grad()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits, _ = fwd(data.x[idx])
                loss = loss_fn(logits, data.y[idx])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - t1
        model.eval()
        total, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            for i in range(0, len(val.x), val_batch):
                logits, _ = fwd(val.x[i:i + val_batch])
                y = val.y[i:i + val_batch]
                total += loss_fn(logits, y).float() * len(y)
                correct += (logits.argmax(1) == y).sum()
        val_loss, _accuracy = float(total) / len(val.x), float(correct) / len(val.x)
        if val_loss < best_loss:
            best_loss, best = val_loss, {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best is not None:
        model.load_state_dict(best)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return train_s, time.perf_counter() - t0


def measure(args: argparse.Namespace, device: torch.device, precision: str, train: Tensors,
            val: Tensors) -> dict[str, list[float]]:
    """samples/s of both loops, train phase and whole epoch loop, `args.repeats` times each, interleaved."""
    cfg = TrainConfig(epochs=args.epochs, patience=args.epochs + 1, batch_size=args.batch_size, progress=False,
                      precision=precision, compile=args.compile, device=device.type)
    n = len(train) * args.epochs
    runs: dict[str, list[float]] = {"raw_train_phase": [], "keel_train_phase": [], "raw_whole_loop": [],
                                    "keel_whole_loop": []}
    for r in range(args.repeats):
        order = ("keel", "raw") if r % 2 == 0 else ("raw", "keel")  # interleave to spread machine noise
        for who in order:
            set_seeds(cfg.seed)
            model = ConvNet(CnnConfig(), (1, 8, 8), 10).to(device)
            if who == "raw":
                t_train, t_all = raw_loop(model, train.to(device), val.to(device), args.epochs, cfg.batch_size, cfg.lr,
                                          cfg.seed, precision, args.compile)
                runs["raw_train_phase"].append(n / t_train)
                runs["raw_whole_loop"].append(n / t_all)
            else:
                t0 = time.perf_counter()
                hist = train_loop(model, train, val, cfg, device)
                runs["keel_whole_loop"].append(n / (time.perf_counter() - t0))
                runs["keel_train_phase"].append(n / sum(e.seconds for e in hist.epochs))
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--precision", default="fp32",
                   help="fp32 | bf16 | fp16, or a comma list (fp32,bf16: also prints bf16/fp32 throughput)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    precisions = [x.strip() for x in args.precision.split(",") if x.strip()]
    if not precisions or set(precisions) - {"fp32", "bf16", "fp16"}:
        p.error(f"--precision {args.precision}: expected fp32, bf16, fp16 or a comma list of them")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device here (torch.cuda.is_available() is False); nothing measured")
        return
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}")
    train, val = digits_tensors()
    result = {"model": "digits CNN (default params)", "device": str(device), "compile": args.compile,
              "train_samples": len(train), "val_samples": len(val), "epochs": args.epochs,
              "batch_size": args.batch_size, "repeats": args.repeats, "threads": torch.get_num_threads(),
              "precisions": {}}
    for precision in precisions:
        runs = measure(args, device, precision, train, val)
        med = {k: statistics.median(v) for k, v in runs.items()}
        ratios = {"train_phase": med["keel_train_phase"] / med["raw_train_phase"],
                  "whole_loop": med["keel_whole_loop"] / med["raw_whole_loop"]}
        result["precisions"][precision] = {"samples_per_s_median": med, "ratios": ratios, "samples_per_s_all": runs}
        print(f"[{device} {precision}] {'loop':<22}{'samples/s (median)':>20}")
        for k, v in med.items():
            print(f"[{device} {precision}] {k:<22}{v:>20,.0f}")
        print(f"[{device} {precision}] keel/raw train phase = {ratios['train_phase']:.3f} (goal >= 0.97)")
        print(f"[{device} {precision}] keel/raw whole epoch loop (train + validation every epoch) = "
              f"{ratios['whole_loop']:.3f} (goal >= 0.95)")
    done = result["precisions"]
    for low in ("bf16", "fp16"):
        if low in done and "fp32" in done:
            for k in ("keel_train_phase", "raw_train_phase"):
                ratio = done[low]["samples_per_s_median"][k] / done["fp32"]["samples_per_s_median"][k]
                result[f"{low}_vs_fp32_{k}"] = ratio
                print(f"[{device}] {low}/fp32 {k} throughput = {ratio:.3f}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"train_vs_raw_{device.type}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
