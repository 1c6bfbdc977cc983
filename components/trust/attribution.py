"""Attribution machinery (Captum) and its sanity checks, for any module with Keel's forward(x, y=None).

- Integrated Gradients with its completeness error: |sum(attr) - (f(x) - f(baseline))| relative to
  |f(x) - f(baseline)|; steps doubled until it is under a tolerance;
- a second method: Saliency (|df/dx|) or Occlusion;
- model randomisation (Adebayo et al., 2018): the same attributions from a copy with every layer
  re-initialised must differ; reported as the mean Spearman rank correlation (of |attr| and signed);
- deletion: replacing the k most-attributed inputs by the baseline must lower the explained output more
  than replacing k random ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

RANDOMISATION_MAX_ABS_SPEARMAN = 0.5  # the check passes below this (our bar; Adebayo et al. set none)


def output_fn(model: torch.nn.Module, column: int | None = None, reduce: str | None = None) -> Callable:
    """Keel's forward returns (output, loss): a tensor-valued function for Captum. `column`: one output column
    (anomaly: 0, the score); `reduce="mean"`: the mean over outputs (forecasting: quantiles and horizon)."""
    def f(x: torch.Tensor) -> torch.Tensor:
        out, _ = model(x)
        out = out[:, column] if column is not None else out
        return out.flatten(1).mean(1) if reduce == "mean" else out
    return f


def autograd_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy in eval mode whose parameters and buffers autograd can use: predict() runs under
    torch.inference_mode and its channels-last conversion leaves inference tensors in the module."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for t in [*m.parameters(), *m.buffers()]:
            t.data = t.data.clone()
    return m.eval()


def randomised(model: torch.nn.Module, seed: int = 1234) -> torch.nn.Module:
    """A copy with every parameterised layer re-initialised (full randomisation, Adebayo et al. section 3)."""
    m = copy.deepcopy(model)
    torch.manual_seed(seed)
    for mod in m.modules():
        if mod is not m and hasattr(mod, "reset_parameters"):
            mod.reset_parameters()
        if hasattr(mod, "reset_running_stats"):
            mod.reset_running_stats()
    return m.eval()


def flat(a: torch.Tensor | np.ndarray) -> np.ndarray:
    """(B, ...) -> (B, F) float64."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return a.reshape(len(a), -1).astype(np.float64)


def rank_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> dict[str, Any]:
    """Mean over rows of the Spearman correlation of two attribution maps, on |attr| and signed; `mask`
    (rows, features) keeps some features per row (real tokens, informative pixels)."""
    from scipy.stats import spearmanr

    a, b = flat(a), flat(b)
    m = np.ones_like(a, dtype=bool) if mask is None else flat(mask).astype(bool)
    out: dict[str, list[float]] = {"abs": [], "signed": []}
    for i in range(len(a)):
        ai, bi = a[i][m[i]], b[i][m[i]]
        if len(ai) < 3:
            continue
        for key, (x, y) in {"abs": (np.abs(ai), np.abs(bi)), "signed": (ai, bi)}.items():
            r = spearmanr(x, y).statistic
            if np.isfinite(r):
                out[key].append(float(r))
    res: dict[str, Any] = {f"spearman_{k}_mean": float(np.mean(v)) if v else float("nan") for k, v in out.items()}
    res["passes"] = bool(res["spearman_abs_mean"] < RANDOMISATION_MAX_ABS_SPEARMAN)
    return res


@torch.no_grad()
def deletion_test(f: Callable, x: torch.Tensor, baseline: torch.Tensor, attributions: np.ndarray, k: int,
                  n_random: int = 10, seed: int = 0, target: torch.Tensor | None = None,
                  eligible: np.ndarray | None = None, replace: Callable | None = None) -> dict[str, Any]:
    """Mean drop of the explained output when the k inputs of highest (signed) attribution are set to the
    baseline, vs k random inputs (`n_random` draws); `eligible` (B, F) limits the candidates per row;
    `replace(x, mask) -> x'` overrides the masking (token ids)."""
    def value(inp: torch.Tensor) -> np.ndarray:
        out = f(inp)
        if target is not None and out.dim() == 2:
            out = out.gather(1, target.view(-1, 1)).squeeze(1)
        return out.detach().cpu().numpy().astype(np.float64)

    if replace is None:
        def replace(inp: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
            flat_x = inp.reshape(len(inp), -1).clone()
            flat_x[torch.as_tensor(mask)] = baseline.expand_as(inp).reshape(len(inp), -1)[torch.as_tensor(mask)]
            return flat_x.view_as(inp)

    attr = flat(attributions)
    n, n_feat = attr.shape
    ok = np.ones((n, n_feat), dtype=bool) if eligible is None else flat(eligible).astype(bool)
    kk, rng = np.minimum(k, ok.sum(1)), np.random.default_rng(seed)
    top = np.zeros((n, n_feat), dtype=bool)
    for i in range(n):
        cand = np.flatnonzero(ok[i])
        top[i, cand[np.argsort(-attr[i, cand], kind="stable")[:kk[i]]]] = True
    base = value(x)
    drop_top, drop_rand = base - value(replace(x, top)), np.zeros(n)
    for _ in range(n_random):
        rnd = np.zeros((n, n_feat), dtype=bool)
        for i in range(n):
            rnd[i, rng.choice(np.flatnonzero(ok[i]), size=kk[i], replace=False)] = True
        drop_rand += (base - value(replace(x, rnd))) / n_random
    return {"k": int(k), "n_random": n_random, "mean_drop_topk": float(drop_top.mean()),
            "mean_drop_random_k": float(drop_rand.mean()),
            "share_rows_topk_worse": float((drop_top > drop_rand).mean()),
            "passes": bool(drop_top.mean() > drop_rand.mean())}


def global_importance(attributions: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """Per feature: mean |attribution| over the rows, its share (shares sum to 1), the mean signed value;
    sorted by share."""
    a = flat(attributions)
    mean_abs = np.abs(a).mean(0)
    share = mean_abs / max(mean_abs.sum(), 1e-12)
    rows = [{"feature": n, "share": float(s), "mean_abs": float(m), "mean_signed": float(v)}
            for n, m, s, v in zip(names, mean_abs, share, a.mean(0), strict=True)]
    return sorted(rows, key=lambda r: -r["share"])


def completeness(delta: torch.Tensor, fx: torch.Tensor, fb: torch.Tensor) -> dict[str, float]:
    """IG's completeness error (Captum's convergence delta) absolute and relative to |f(x) - f(baseline)|."""
    d = delta.detach().abs().cpu().numpy().astype(np.float64)
    span = (fx - fb).detach().abs().cpu().numpy().astype(np.float64)
    return {"relative_error": float(d.sum() / max(span.sum(), 1e-12)), "mean_abs_error": float(d.mean()),
            "max_abs_error": float(d.max()), "mean_abs_f_x_minus_f_baseline": float(span.mean())}


def pick(out: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """The target column of (B, K) outputs, or the (B,) outputs themselves."""
    return out if target is None or out.dim() == 1 else out.gather(1, target.view(-1, 1)).squeeze(1)


def integrated_gradients(f: Callable, x: torch.Tensor, baseline: torch.Tensor, target: torch.Tensor | None,
                         n_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
    """IG (Gauss-Legendre) and its completeness error."""
    from captum.attr import IntegratedGradients

    attr, delta = IntegratedGradients(f).attribute(x, baselines=baseline, target=target, n_steps=n_steps,
                                                   method="gausslegendre", return_convergence_delta=True)
    with torch.no_grad():
        fx, fb = pick(f(x), target), pick(f(baseline.expand_as(x)), target)
    return attr.detach(), completeness(delta, fx, fb)


def ig_within_tolerance(f: Callable, x: torch.Tensor, baseline: torch.Tensor, target: torch.Tensor | None,
                        n_steps: int, tolerance: float = 0.01, max_steps: int = 256
                        ) -> tuple[torch.Tensor, dict[str, float], int]:
    """IG with n_steps doubled until the relative completeness error is <= tolerance (or max_steps)."""
    while True:
        attr, comp = integrated_gradients(f, x, baseline, target, n_steps)
        if comp["relative_error"] <= tolerance or n_steps * 2 > max_steps:
            return attr, comp, n_steps
        n_steps *= 2


def second_method(f: Callable, x: torch.Tensor, target: torch.Tensor | None, method: str,
                  baseline: torch.Tensor, window: tuple[int, ...]) -> torch.Tensor:
    """Saliency (|df/dx|) or Occlusion (the drop in f when a window is set to the baseline)."""
    from captum.attr import Occlusion, Saliency

    if method == "saliency":
        return Saliency(f).attribute(x, target=target, abs=True).detach()
    return Occlusion(f).attribute(x, sliding_window_shapes=window, strides=window,
                                  baselines=float(baseline.flatten()[0]), target=target).detach()
