"""Explanations of a checkpoint on raw rows (Captum), with their sanity checks: `explain(ckpt, rows, cfg, out_dir)`.

Per data kind (the transform decides, so a plugin family of a known kind is explained too):
- image (cnn, rnn, fashion_cnn): Integrated Gradients from a blank image + Saliency (or Occlusion) for the
  predicted class; one overlay PNG per class and a map of mean |IG|;
- text (text_gru): LayerIntegratedGradients on the embedding layer, summed over its dimensions, from the same
  text with every real token replaced by UNK (same lengths); an offline HTML page of coloured tokens;
- tabular (linear, anomaly) and series (forecasting): IG per feature / per time step from the train mean
  (0 after the transform's standardisation; a series window: flat at its own mean), of the output (anomaly:
  the score; forecasting: the mean over the horizon; a classifier: the predicted class); importance bars.
`explanation.json` holds method, parameters, baseline, the probe rows' hash, global importance, the IG
completeness error and two sanity checks: model randomisation (Adebayo et al., 2018: Spearman rank
correlation of attributions from the trained vs a re-initialised model; low = the explanation depends on
what the model learned) and deletion (removing the top-k attributed inputs must hurt more than k random).
Image clustering models (no supervised output to explain) get none.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.config.sections import ExplainConfig
from components.core.columns import LABEL
from components.core.errors import StageInputError
from components.core.io import write_json
from components.data.pii import redact
from components.families.registry import get
from components.inference.checkpoint import Checkpoint
from components.trust import attribution as A
from components.trust import figures

EXPLANATION_FILE = "explanation.json"
PAD, UNK = 0, 1  # the text transform's reserved ids


def probe_positions(test: pd.DataFrame, transform: Any, n: int, seed: int = 0) -> np.ndarray:
    """Positions of the probe rows in a (frozen) test split: seeded, round-robin over the classes when there
    are labels and classes. Depends on the split and the seed only, never on the model."""
    if transform.kind == "series":
        return np.arange(len(test))  # a series is explained on the windows of its whole test split
    labels = test[LABEL].to_numpy() if transform.classes is not None and LABEL in test else np.zeros(len(test))
    rng = np.random.default_rng(seed)
    queues = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in pd.unique(labels)}
    picked: list[int] = []
    while len(picked) < min(n, len(test)):
        for c in sorted(queues, key=str):
            if queues[c] and len(picked) < n:
                picked.append(int(queues[c].pop(0)))
    return np.sort(np.asarray(picked, dtype=np.int64))


def rows_sha256(rows: pd.DataFrame, columns: list[str]) -> str:
    """sha256 of the raw input columns (names, then values): equal hashes = explained on the same rows."""
    h = hashlib.sha256(json.dumps(columns).encode())
    for c in columns:
        col = rows[c]
        h.update(col.to_numpy(np.float64).astype("<f8").tobytes() if pd.api.types.is_numeric_dtype(col)
                 else "\x1f".join(map(str, col.tolist())).encode())
    return h.hexdigest()


def explain(ckpt: Checkpoint, rows: pd.DataFrame, cfg: ExplainConfig, out_dir: Path,
            probe: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Explain `rows` (raw, labels optional) into `out_dir`; returns what explanation.json holds (None when the
    family's kind has nothing to explain)."""
    t0 = time.perf_counter()
    kind, task = ckpt.transform.kind, get(ckpt.family).task
    if kind not in ("image", "text", "tabular", "series"):
        return None
    columns, where = ckpt.transform.input_columns, (probe or {}).get("source", "rows to explain")
    missing = [c for c in columns if c not in rows.columns]
    if missing or rows.empty:  # named before anything is written, not a KeyError deep in the attribution
        raise StageInputError(f"{where}: " + (f"missing column(s) {missing[:8]} (the model takes {len(columns)}: "
                                               f"{columns[0]}..{columns[-1]})" if missing else "no rows"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = A.autograd_copy(ckpt.model)
    probe = (probe or {}) | {"n_rows": len(rows), "sha256": rows_sha256(rows, ckpt.transform.input_columns)}
    with torch.enable_grad():
        if kind == "image":
            report = _image(model, ckpt, rows, cfg, out_dir)
        elif kind == "text":
            report = _text(model, ckpt, rows, cfg, out_dir)
        else:
            report = _vector(model, ckpt, rows, cfg, out_dir, task)
    report = {"family": ckpt.family, "kind": kind, "probe": probe} | report
    report["seconds"] = round(time.perf_counter() - t0, 3)
    write_json(out_dir / EXPLANATION_FILE, report)
    return report


def _labels(ckpt: Checkpoint, rows: pd.DataFrame) -> np.ndarray | None:
    return ckpt.transform.targets(rows) if LABEL in rows and ckpt.transform.classes is not None else None


def _image(model, ckpt: Checkpoint, rows: pd.DataFrame, cfg: ExplainConfig, out_dir: Path) -> dict[str, Any]:
    t = ckpt.transform
    x = torch.from_numpy(t.features(rows))  # (N, 1, H, W)
    blank = float(t.features(pd.DataFrame(np.zeros((1, len(t.columns))), columns=t.columns)).flatten()[0])
    base, f, k = torch.full_like(x[:1], blank), A.output_fn(model), cfg.deletion_k or 8
    with torch.no_grad():
        pred = f(x).argmax(1)
    ig, comp, steps = A.ig_within_tolerance(f, x, base, pred, cfg.n_steps, cfg.tolerance)
    second = A.second_method(f, x, pred, cfg.second_method, base, (1, 2, 2))
    fr = A.output_fn(A.randomised(model))
    ig_r, _ = A.integrated_gradients(fr, x, base, pred, steps)
    second_r = A.second_method(fr, x, pred, cfg.second_method, base, (1, 2, 2))
    informative = (x != base).numpy()  # pixels that differ from the blank baseline
    checks = {"ig_all_pixels": A.rank_correlation(ig, ig_r), "ig_informative_pixels":
              A.rank_correlation(ig, ig_r, informative), cfg.second_method: A.rank_correlation(second, second_r)}
    verdict_on = ["ig_informative_pixels", cfg.second_method]
    imp = A.global_importance(ig.numpy(), list(t.columns))
    x_np, classes = x.numpy(), list(t.classes or range(int(pred.max()) + 1))
    files = figures.class_overlays(x_np, {"ig": ig.numpy(), cfg.second_method: second.numpy()}, pred.numpy(),
                                   classes, out_dir, cfg.per_class)
    files.append(figures.importance_map(np.abs(ig.numpy()).mean(0)[0], out_dir / "global_importance.png",
                                        "mean |IG| over the probe rows"))
    labels = _labels(ckpt, rows)
    return {
        "target": "the predicted class's logit",
        "methods": {"primary": "IntegratedGradients", "second": {"saliency": "Saliency (|d logit / d pixel|)",
                                                                 "occlusion": "Occlusion 2x2"}[cfg.second_method]},
        "parameters": {"n_steps": steps, "integration": "gausslegendre", "tolerance": cfg.tolerance,
                       "deletion_k": k, "deletion_n_random": 10},
        "baseline": {"kind": "blank image (raw pixel 0)", "value_model_space": blank},
        "accuracy_on_probe": None if labels is None else float((pred.numpy() == labels).mean()),
        "completeness": comp,
        "sanity": {
            "randomisation": {"model": "every layer re-initialised (seed 1234)", "checks": checks,
                              "verdict_on": verdict_on, "passes": all(checks[c]["passes"] for c in verdict_on),
                              "note": "IG over all pixels is not used for the verdict: blank pixels equal the "
                                      "baseline, so IG gives them 0 in any model and those shared zeros dominate "
                                      "the ranks"},
            "deletion": {"ig": A.deletion_test(f, x, base, ig.numpy(), k, seed=cfg.seed, target=pred),
                         cfg.second_method: A.deletion_test(f, x, base, second.numpy(), k, seed=cfg.seed,
                                                            target=pred)}},
        "global_importance": imp[:20], "global_importance_map": np.abs(ig.numpy()).mean(0)[0].round(6).tolist(),
        "figures": files}


def _text(model, ckpt: Checkpoint, rows: pd.DataFrame, cfg: ExplainConfig, out_dir: Path) -> dict[str, Any]:
    from captum.attr import LayerIntegratedGradients

    t, k = ckpt.transform, cfg.deletion_k or 3
    ids = torch.from_numpy(t.features(rows))
    real = ids != PAD
    base_ids = torch.where(real, torch.full_like(ids, UNK), ids)
    f = A.output_fn(model)
    with torch.no_grad():
        logits = f(ids)
    pred = logits.argmax(1)
    lengths = real.sum(1).clamp(min=1)

    def layer_ig(m) -> tuple[np.ndarray, torch.Tensor]:
        """Per-token LayerIG. Rows are attributed in groups of equal length: the model orders a batch by
        length, and only equal lengths keep that order the same across Captum's interpolation steps."""
        layer = next(x for x in m.modules() if isinstance(x, torch.nn.Embedding))
        lig, attr, delta = LayerIntegratedGradients(A.output_fn(m), layer), np.zeros(ids.shape), torch.zeros(len(ids))
        for length in torch.unique(lengths).tolist():
            idx = torch.nonzero(lengths == length).flatten()
            a, d = lig.attribute(ids[idx], baselines=base_ids[idx], target=pred[idx], n_steps=cfg.n_steps,
                                 return_convergence_delta=True)
            attr[idx.numpy(), :a.shape[1]] = a.sum(-1).detach().numpy()
            delta[idx] = d.detach()
        return attr, delta

    attr, delta = layer_ig(model)
    with torch.no_grad():
        fx, fb = A.pick(f(ids), pred), A.pick(f(base_ids), pred)
    attr_r, _ = layer_ig(A.randomised(model))
    check = A.rank_correlation(attr, attr_r, real.numpy())
    deletion = A.deletion_test(f, ids, base_ids, attr, k, seed=cfg.seed, target=pred, eligible=real.numpy(),
                               replace=lambda inp, mask: inp.masked_fill(torch.as_tensor(mask), UNK))
    classes, labels = list(t.classes or []), _labels(ckpt, rows)
    probs = logits.softmax(1).gather(1, pred.view(-1, 1)).squeeze(1)
    page, per_word = [], {}
    for i, text in enumerate(rows[t.columns[0]].tolist()):
        n = int(real[i].sum())
        tokens = t.tokenize(redact(text, t.redact) if t.redact else text)[:n] or ["<UNK>"]
        page.append({"row": i, "label": classes[labels[i]] if labels is not None else "-",
                     "pred": classes[int(pred[i])], "prob": float(probs[i]), "tokens": tokens,
                     "attributions": attr[i, :n].tolist(), "unk": (ids[i, :n] == UNK).tolist(),
                     "f_delta": float(fx[i] - fb[i])})
        sign = 1.0 if len(classes) != 2 or int(pred[i]) == 1 else -1.0  # binary: signed towards classes[1]
        for tok, a in zip(tokens, attr[i, :n], strict=True):
            per_word.setdefault(tok, []).append(sign * float(a))
    (out_dir / "tokens.html").write_text(figures.token_html(page, f"{ckpt.family}: token attributions "
                                                                  "(LayerIntegratedGradients)"))
    table = [{"feature": w, "count": len(v), "mean_abs": float(np.mean(np.abs(v))), "mean_signed": float(np.mean(v))}
             for w, v in per_word.items() if len(v) >= 2]
    total = sum(r["mean_abs"] for r in table) or 1.0
    table = sorted(({**r, "share": r["mean_abs"] / total} for r in table), key=lambda r: -r["share"])[:50]
    return {
        "target": "the predicted class's logit",
        "methods": {"primary": "LayerIntegratedGradients on the embedding layer (summed over its dimensions)"},
        "parameters": {"n_steps": cfg.n_steps, "integration": "gausslegendre", "deletion_k": k,
                       "deletion_n_random": 10},
        "baseline": {"kind": "UNK at every real token, PAD kept (same lengths)"},
        "accuracy_on_probe": None if labels is None else float((pred.numpy() == labels).mean()),
        "completeness": A.completeness(delta, fx, fb),
        "sanity": {"randomisation": {"model": "every layer re-initialised (seed 1234)",
                                     "checks": {"layer_ig_real_tokens": check}, "verdict_on": ["layer_ig_real_tokens"],
                                     "passes": check["passes"]},
                   "deletion": {"layer_ig": deletion}},
        "global_importance": table,
        "global_importance_note": (f"signed values towards {classes[1]!r}" if len(classes) == 2
                                   else "signed values towards the predicted class"),
        "figures": ["tokens.html"]}


def _vector(model, ckpt: Checkpoint, rows: pd.DataFrame, cfg: ExplainConfig, out_dir: Path,
            task: str) -> dict[str, Any]:
    t, k = ckpt.transform, cfg.deletion_k or 3
    series = t.kind == "series"
    x = torch.from_numpy(t.features(rows))  # (N, F) or (N, input_len + horizon) window + backbone path
    base = x.mean(1, keepdim=True).expand_as(x).contiguous() if series else torch.zeros_like(x)
    column, reduce = {"anomaly": (0, None), "forecasting": (None, "mean")}.get(task, (None, None))
    f = A.output_fn(model, column, reduce)
    with torch.no_grad():
        out = f(x)
    target = out.argmax(1) if out.dim() == 2 else None  # a tabular classifier: the predicted class
    # a series sample: the window's lags, then the classical backbone's path (components/data/classical.py)
    names = ([f"t-{t.input_len - i}" for i in range(t.input_len)] + [f"path+{i + 1}" for i in range(
        x.shape[1] - t.input_len)]) if series else list(t.columns)
    ig, comp, steps = A.ig_within_tolerance(f, x, base, target, cfg.n_steps, cfg.tolerance)
    ig_r, _ = A.integrated_gradients(A.output_fn(A.randomised(model), column, reduce), x, base, target, steps)
    check = A.rank_correlation(ig, ig_r)
    imp = A.global_importance(ig.numpy(), names)
    figure = figures.importance_bar(imp, out_dir / "global_importance.png", f"{ckpt.family}: mean |IG| share",
                                    order=names if series else None)
    what = {"anomaly": "the anomaly score (reconstruction error)", "forecasting": "the mean of the forecast",
            "regression": "the prediction"}.get(task, "the predicted class's logit")
    return {
        "target": what, "methods": {"primary": "IntegratedGradients"},
        "parameters": {"n_steps": steps, "integration": "gausslegendre", "tolerance": cfg.tolerance,
                       "deletion_k": k, "deletion_n_random": 10},
        "baseline": {"kind": "each window flat at its own mean" if series else
                     "the train mean of every feature (0 after standardisation)"},
        "completeness": comp,
        "sanity": {"randomisation": {"model": "every layer re-initialised (seed 1234)", "checks": {"ig": check},
                                     "verdict_on": ["ig"], "passes": check["passes"]},
                   "deletion": {"ig": A.deletion_test(f, x, base, ig.numpy(), min(k, x.shape[1] - 1), seed=cfg.seed,
                                                      target=target)}},
        "global_importance": imp, "figures": [figure]}


def summary(report: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """The headline of an explanation: verdicts, completeness error, top features (for tags and the card)."""
    sanity = report["sanity"]
    rand = sanity["randomisation"]
    rho = {c: round(rand["checks"][c]["spearman_abs_mean"], 4) for c in rand["checks"]}
    return {"method": report["methods"]["primary"], "probe_sha256": report["probe"]["sha256"],
            "probe_rows": report["probe"]["n_rows"],
            "completeness_error": round(report["completeness"]["relative_error"], 6),
            "randomisation_spearman": rho, "randomisation_verdict_on": rand["verdict_on"],
            "randomisation_passes": rand["passes"],
            "deletion_passes": all(d["passes"] for d in sanity["deletion"].values()),
            "top_features": [r["feature"] for r in report["global_importance"][:top]], "figures": report["figures"]}


def failed_checks(report: dict[str, Any]) -> list[str]:
    """One line per sanity check the explanation failed, naming it and what the failure means (none: all pass)."""
    sanity, out = report.get("sanity", {}), []
    rand = sanity.get("randomisation")
    if rand and not rand["passes"]:
        rho = ", ".join(f"{c} {r:.2f}" if np.isfinite(r := rand["checks"][c]["spearman_abs_mean"]) else
                        f"{c} undefined (constant attributions)" for c in rand["verdict_on"])
        out.append(f"randomisation check failed (|Spearman| {rho}, passes below {A.RANDOMISATION_MAX_ABS_SPEARMAN}): "
                   "the attributions barely change when the model's weights are re-initialised, so they may not "
                   "reflect what the model learned")
    for method, d in sanity.get("deletion", {}).items():
        if not d["passes"]:
            out.append(f"deletion check failed ({method}: top-{d['k']} drop {d['mean_drop_topk']:.4g} <= random-"
                       f"{d['k']} drop {d['mean_drop_random_k']:.4g}): removing the most-attributed inputs hurts no "
                       "more than removing random ones, so the attributions may not point at what the prediction uses")
    return out
