"""What explanations and the trust figures add to a default pipeline run (goal: explanation <= 20 %).

    python bench/explain_cost.py [--model cnn] [--rows 64] [-S key=value ...]

Runs ingest -> validate -> features -> train -> evaluate -> register with the repo's params.yaml in a
temp project (its own sqlite MLflow store), once; then times the extra work alone, in the same process
after the imports: the registration's explanation (`register.explain`), and evaluate's robustness,
membership inference and bootstrap CIs. Prints wall and CPU seconds and each as a share of the pipeline.
Writes bench/results/explain_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("-S", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    import yaml

    from components.config.params import load_params, read_params_file
    from components.core import paths
    from components.data.artifacts import load_split
    from components.inference.checkpoint import load_checkpoint
    from components.inference.predict import predict, task_of
    from components.lifecycle import explanations
    from components.problems.intervals import bootstrap_ci
    from components.stages import evaluate, features, ingest, register, train, validate
    from components.trust.membership import membership_inference
    from components.trust.robustness import robust_metrics

    work = Path(tempfile.mkdtemp(prefix="keel-explain-cost-"))
    os.chdir(work)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    overrides = {"model": args.model, "register.explain.rows": args.rows}
    overrides |= {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    (work / "params.yaml").write_text(yaml.safe_dump(read_params_file(ROOT / "params.yaml", overrides),
                                                     sort_keys=False))
    p = load_params(work / "params.yaml")
    stage_times = {}
    for name, fn in [("ingest", lambda: ingest.run(p.ingest, paths.RAW_DIR, p.kind)),
                     ("validate", lambda: validate.run(p.validation, paths.RAW_DIR, paths.VALIDATION_DIR)),
                     ("features", lambda: features.run(p.features, paths.RAW_DIR, paths.VALIDATION_DIR,
                                                       paths.FEATURES_DIR, p.task)),
                     ("train", lambda: train.run(p, paths.FEATURES_DIR, paths.MODEL_DIR)),
                     ("evaluate", lambda: evaluate.run(p.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR,
                                                       paths.REPORTS_DIR, train=p.train)),
                     ("register", lambda: register.run(p.registration, paths.MODEL_DIR, paths.FEATURES_DIR,
                                                       paths.RAW_DIR, paths.VALIDATION_DIR, paths.REPORTS_DIR,
                                                       paths.REGISTER_DIR))]:
        _, wall, cpu = timed(fn)
        stage_times[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    total = {k: sum(s[k] for s in stage_times.values()) for k in ("wall_s", "cpu_s")}
    ckpt = load_checkpoint(paths.MODEL_DIR / paths.CHECKPOINT_FILE)
    test, tr = load_split(paths.FEATURES_DIR, "test"), load_split(paths.FEATURES_DIR, "train")
    preds = predict(ckpt, test)
    extra = {
        "explanation": lambda: explanations.explain_probe(ckpt, paths.FEATURES_DIR, p.registration.explain,
                                                          work / "explain-again"),
        "robustness": lambda: robust_metrics(ckpt, test, tr, p.evaluate.robustness),
        "membership_inference": lambda: membership_inference(ckpt, tr, test),
        "bootstrap_ci": lambda: bootstrap_ci(task_of(ckpt), ckpt.transform, test, preds, p.evaluate.ci_samples)}
    parts = {}
    for name, fn in extra.items():
        _, wall, cpu = timed(fn)
        parts[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                       "share_of_pipeline_wall": round(wall / total["wall_s"], 4),
                       "share_of_pipeline_cpu": round(cpu / total["cpu_s"], 4)}
        print(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU = {wall / total['wall_s']:.1%} of the pipeline's wall "
              f"time ({cpu / total['cpu_s']:.1%} of its CPU)")
    met = parts["explanation"]["share_of_pipeline_wall"] <= 0.2
    print(f"pipeline ({args.model}, explain rows {args.rows}): {total['wall_s']:.1f} s wall, {total['cpu_s']:.1f} s "
          f"CPU; goal: explanation <= 20 % -> {'met' if met else 'MISSED'}")
    out = ROOT / "bench/results/explain_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "rows": args.rows, "stages": stage_times, "pipeline": total,
                               "extra": parts, "loadavg_1m": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
