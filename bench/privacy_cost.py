"""What DP-SGD costs and what it buys: test accuracy and membership-inference AUC, private vs non-private, on
the same split, through Keel's own stages (ingest -> validate -> features once; then train + evaluate per
variant).

    python bench/privacy_cost.py cnn                       # digits CNN: non-private vs DP at eps 8
    python bench/privacy_cost.py text_gru                  # Rotten Tomatoes text_gru: the variants below
    python bench/privacy_cost.py text_gru --only dp_small  # one variant

Each variant is a set of params overrides (VARIANTS). The text_gru `*_synthetic_c` variants choose the clip
bound without looking at private data: the median per-sample gradient norm of the model at initialisation on
random token sequences with random labels (synthetic, public), computed here before training. Prints one
line per variant and writes bench/results/privacy_<family>.json (CPU seconds included: wall time on a shared
machine says little).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DP = {"train.privacy.enabled": True, "train.privacy.target_epsilon": 8.0}
SMALL_TEXT = {"features.text_gru.max_vocab": 4000, "train.text_gru.freeze_embedding": True,
              "train.text_gru.pooled_norm": True}
# text_gru's family defaults (batch 64, 12 epochs, lr 2e-3) win over shared train keys: override in its block
DP_TEXT = {"train.text_gru.batch_size": 256, "train.text_gru.epochs": 10, "train.text_gru.lr": 0.003}
VARIANTS: dict[str, dict[str, dict]] = {
    "cnn": {"non_private": {},
            "dp": DP | {"train.lr": 0.002, "train.batch_size": 64, "train.epochs": 30, "train.patience": 30}},
    "text_gru": {
        "non_private": {},
        "non_private_small": SMALL_TEXT,
        "dp_default": DP | {"features.text_gru.max_vocab": 4000, "train.text_gru.batch_size": 256,
                            "train.text_gru.epochs": 6},
        "dp_small": DP | SMALL_TEXT | DP_TEXT,
        "dp_small_synthetic_c": DP | SMALL_TEXT | DP_TEXT | {"train.privacy.max_grad_norm": "synthetic"},
    },
}


def synthetic_clip_bound(params, vocab_size: int, max_len: int, n: int = 64) -> float:
    """Median per-sample gradient norm at init on random token ids with random labels (no private data)."""
    import torch
    from opacus import GradSampleModule

    from components.families.registry import get
    from components.training import privacy

    torch.manual_seed(params.train.seed)
    model = privacy.prepare(get(params.model).build(params.arch, (max_len,), 2, vocab_size=vocab_size))[0]
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, max_len, (n,), generator=gen)
    x = torch.randint(2, vocab_size, (n, max_len), generator=gen) * (torch.arange(max_len)[None] < lengths[:, None])
    y = torch.randint(0, 2, (n,), generator=gen)
    gsm = GradSampleModule(model.train(), loss_reduction="mean")
    gsm(x, y)[1].backward()
    norms = torch.cat([p.grad_sample.reshape(n, -1) for p in model.parameters() if p.requires_grad], 1).norm(dim=1)
    gsm._close()
    return round(float(norms.median()), 3)


def main(family: str, only: list[str]) -> None:
    from components.config.params import load_params
    from components.core import paths
    from components.core.io import read_json
    from components.stages import evaluate, features, ingest, train, validate

    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tempfile.mkdtemp(prefix='keel-dp-')}/mlflow.db")
    out, results = ROOT / f"bench/results/privacy_{family}.json", {}
    if out.is_file():
        results = json.loads(out.read_text())
    for name, overrides in VARIANTS[family].items():
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"keel-dp-{family}-") as tmp:
            tmp = Path(tmp)
            clip = overrides.get("train.privacy.max_grad_norm")
            over = {"model": family, "train.progress": False} | {k: v for k, v in overrides.items() if v != "synthetic"}
            p = load_params(ROOT / "params.yaml", over)
            ingest.run(p.ingest, tmp / "raw", p.kind)
            validate.run(p.validation, tmp / "raw", tmp / "validation")
            features.run(p.features, tmp / "raw", tmp / "validation", tmp / "features", p.task)
            if clip == "synthetic":
                t = json.loads((tmp / "features" / paths.TRANSFORM_FILE).read_text())
                bound = synthetic_clip_bound(p, len(t["vocab"]) + 2, t["max_len"])
                p = load_params(ROOT / "params.yaml", over | {"train.privacy.max_grad_norm": bound})
            cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime, time.perf_counter()
            done = train.run(p, tmp / "features", tmp / "model")
            wall, cpu = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
            m = evaluate.run(p.evaluate, tmp / "model", tmp / "features", tmp / "reports", train=p.train).metrics
            hist = read_json(tmp / "model" / paths.HISTORY_FILE)
            results[name] = {"overrides": {k: v for k, v in overrides.items()},
                             "max_grad_norm": p.train.privacy.max_grad_norm if p.train.privacy.enabled else None,
                             "accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"),
                             "mia_auc": m.get("mia_auc"), "mia_advantage": m.get("mia_advantage"),
                             "privacy": hist.get("privacy"), "epochs_run": len(hist["epochs"]),
                             "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
                             "loadavg_1m": os.getloadavg()[0], "train_metrics": done.metrics}
        eps = (results[name]["privacy"] or {}).get("epsilon")
        print(f"{family} {name}: accuracy {results[name]['accuracy']:.4f} macro_f1 {results[name]['macro_f1']:.4f} "
              f"mia_auc {results[name]['mia_auc']:.3f} epsilon {eps if eps is None else round(eps, 2)} "
              f"train {wall:.0f} s wall / {cpu:.0f} s CPU", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)  # merged at write time: variants may run side by side
        out.write_text(json.dumps((json.loads(out.read_text()) if out.is_file() else {}) | {name: results[name]},
                                  indent=1))


if __name__ == "__main__":
    args = sys.argv[1:]
    fam = args[0] if args else "cnn"
    main(fam, args[args.index("--only") + 1:] if "--only" in args else [])
