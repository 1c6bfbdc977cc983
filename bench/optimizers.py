"""SGD, Momentum, RMSprop and Adam side by side (issue 15): the digits CNN and the row-wise GRU (family rnn)
through Keel's own loop, the same split, epochs, batch size and seeds for every optimizer.

    python bench/optimizers.py [--epochs 20] [--seeds 0 1 2] [--png docs/img/optimizers.png]

Each optimizer runs at its conventional learning rate (below; no tuning, so the comparison is what each
update rule does with a standard setting): SGD 0.1, Momentum 0.01 with beta 0.9 (the same effective step
as SGD's 0.1), RMSprop 0.001, Adam 0.001. Early stopping is off (patience > epochs) so every run spends the
same budget. Prints test accuracy (mean, min, max over seeds) and the seconds per run; the PNG shows the
validation loss per epoch (mean over seeds, band from min to max) for each model. Results also go to
bench/results/optimizers.json.
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
from components.models.rnn import RnnConfig, RowRnn
from components.stages.ingest import load_raw
from components.training.loop import Tensors, set_seeds, train_loop

LR = {"sgd": 0.1, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}
MODELS = {"digits CNN": lambda: ConvNet(CnnConfig(), (1, 8, 8), 10),
          "digits GRU (rnn)": lambda: RowRnn(RnnConfig(), (1, 8, 8), 10)}


def digits() -> dict[str, Tensors]:
    raw = load_raw(IngestConfig())
    parts = split(raw.frame, FeaturesConfig())
    t = ImageTransform.fit(parts["train"], {"image_shape": list(raw.image_shape)})
    return {k: Tensors(torch.from_numpy(t.features(df)), torch.from_numpy(t.targets(df))) for k, df in parts.items()}


@torch.inference_mode()
def accuracy(model: torch.nn.Module, data: Tensors) -> float:
    model.eval()
    return float((model(data.x)[0].argmax(1) == data.y).float().mean())


def run(epochs: int, seeds: list[int]) -> dict:
    data, out = digits(), {}
    for name, build in MODELS.items():
        for opt, lr in LR.items():
            cfg = TrainConfig(optimizer=opt, lr=lr, momentum=0.9, epochs=epochs, patience=epochs + 1, progress=False)
            runs = []
            for seed in seeds:
                set_seeds(seed)
                model = build()
                t0 = time.perf_counter()
                hist = train_loop(model, data["train"], data["val"], cfg.model_copy(update={"seed": seed}),
                                  torch.device("cpu"))
                runs.append({"seed": seed, "test_accuracy": accuracy(model, data["test"]),
                             "seconds": time.perf_counter() - t0,
                             "val_loss": [e.val_loss for e in hist.epochs],
                             "train_loss": [e.train_loss for e in hist.epochs]})
            accs = [r["test_accuracy"] for r in runs]
            out.setdefault(name, {})[opt] = {"lr": lr, "runs": runs, "test_accuracy_mean": statistics.mean(accs),
                                             "test_accuracy_min": min(accs), "test_accuracy_max": max(accs)}
            print(f"{name:<18}{opt:<9}lr {lr:<6} test accuracy {statistics.mean(accs):.4f} "
                  f"[{min(accs):.4f}, {max(accs):.4f}]  {statistics.mean(r['seconds'] for r in runs):5.1f} s/run",
                  flush=True)
    return out


def plot(result: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result), figsize=(6 * len(result), 4), sharey=True)
    for ax, (name, opts) in zip(axes, result.items(), strict=True):
        for opt, r in opts.items():
            curves = list(zip(*(run["val_loss"] for run in r["runs"]), strict=True))
            epochs = range(1, len(curves) + 1)
            line, = ax.plot(epochs, [statistics.mean(c) for c in curves],
                            label=f"{opt} (lr {r['lr']}): test acc {r['test_accuracy_mean']:.3f}")
            ax.fill_between(epochs, [min(c) for c in curves], [max(c) for c in curves], color=line.get_color(),
                            alpha=0.2)
        ax.set(title=name, xlabel="epoch", yscale="log")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation loss (mean of seeds, min-max band)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--png", type=Path, default=Path("docs/img/optimizers.png"))
    p.add_argument("--out", type=Path, default=Path("bench/results/optimizers.json"))
    args = p.parse_args()
    result = run(args.epochs, args.seeds)
    plot(result, args.png)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
