"""Explanation figures: image overlays (one PNG per class), importance maps and bars, a token HTML page.

Matplotlib's object API only (no pyplot state). Image panels are composed in numpy and drawn on one axes
per PNG: a subplot per panel cost ~10x more. The HTML page is self-contained (inline CSS, no scripts, no
external resources), readable offline.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np


def overlay(img: np.ndarray, attr: np.ndarray | None, signed: bool) -> np.ndarray:
    """(H, W) image [+ attribution] -> (H, W, 3) RGB: the image in grey, the attribution blended on top
    (signed: red supports, blue opposes, opacity |attr|; unsigned: magma)."""
    from matplotlib import colormaps

    lo, hi = float(img.min()), float(img.max())
    grey = 1.0 - (img - lo) / (hi - lo if hi > lo else 1.0)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if attr is None:
        return rgb
    lim = float(np.abs(attr).max()) or 1.0
    if signed:
        heat, alpha = colormaps["RdBu_r"]((attr / lim + 1) / 2)[..., :3], 0.75 * np.abs(attr)[..., None] / lim
    else:
        heat, alpha = colormaps["magma"](attr / lim)[..., :3], np.full(attr.shape + (1,), 0.75)
    return (1 - alpha) * rgb + alpha * heat


def montage(panels: list[list[np.ndarray]], gap: int = 1) -> np.ndarray:
    """Rows of equally sized RGB panels -> one RGB image with white gaps."""
    h, w, _ = panels[0][0].shape
    out = np.ones((len(panels) * (h + gap) - gap, max(map(len, panels)) * (w + gap) - gap, 3))
    for i, row in enumerate(panels):
        for j, p in enumerate(row):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = p
    return out


def class_overlays(x: np.ndarray, attrs: dict[str, np.ndarray], preds: np.ndarray, classes: list[Any],
                   out_dir: Path, per_class: int = 3) -> list[str]:
    """One PNG per predicted class: up to `per_class` probe images as [input | overlay per method], and a
    last row [class mean image | class mean |first method|]."""
    from matplotlib.figure import Figure

    files, first = [], next(iter(attrs))
    for c in np.unique(preds):
        rows = np.flatnonzero(preds == c)[:per_class]
        panels = [[overlay(x[i, 0], None, True)] +
                  [overlay(x[i, 0], a[i, 0], signed=name == "ig") for name, a in attrs.items()] for i in rows]
        mean_img = x[preds == c, 0].mean(0)
        panels.append([overlay(mean_img, None, True),
                       overlay(mean_img, np.abs(attrs[first][preds == c, 0]).mean(0), signed=False)])
        height = 0.95 * len(panels) + 0.8
        fig = Figure(figsize=(3.2, height), dpi=100)
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96 - 0.8 / height))
        ax.imshow(montage(panels), interpolation="nearest")
        ax.set_axis_off()
        fig.suptitle(f"predicted {classes[c]}: input | {' | '.join(attrs)}\n(IG red: for the class, blue: "
                     f"against); last row: mean image | mean |{first}|", fontsize=6)
        name = f"class_{classes[c]}.png"
        fig.savefig(out_dir / name)
        files.append(name)
    return files


def importance_map(imp: np.ndarray, path: Path, title: str) -> str:
    """A (H, W) map of mean |attribution| as a PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 3), dpi=100)
    ax = fig.subplots()
    fig.colorbar(ax.imshow(imp, cmap="magma", interpolation="nearest"), ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.savefig(path)
    return path.name


def importance_bar(imp: list[dict[str, Any]], path: Path, title: str, order: list[str] | None = None) -> str:
    """Shares of mean |attribution| per feature as bars (in `order` when given: time steps)."""
    from matplotlib.figure import Figure

    rows = imp if order is None else sorted(imp, key=lambda r: order.index(r["feature"]))
    fig = Figure(figsize=(max(4, 0.18 * len(rows) + 2), 3), dpi=100)
    ax = fig.subplots()
    ax.bar(range(len(rows)), [r["share"] for r in rows], color="#4477aa")
    ax.set_xticks(range(len(rows)), [r["feature"] for r in rows], rotation=90, fontsize=6)
    ax.set_ylabel("share of mean |IG|")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path.name


def _colour(a: float, lim: float) -> str:
    s = min(abs(a) / lim, 1.0) if lim > 0 else 0.0
    return f"rgba(0,140,60,{s:.2f})" if a > 0 else f"rgba(210,30,30,{s:.2f})"


def token_html(rows: list[dict[str, Any]], title: str) -> str:
    """One block per text, each token on a background whose colour is the sign (green: for the predicted
    class, red: against) and whose opacity is |attribution| relative to the text's largest; hover: value."""
    css = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:2}"
           ".t{padding:2px 3px;border-radius:3px;margin:0 1px}.m{color:#555;font-size:.85em}"
           ".r{border-bottom:1px solid #ddd;padding:.5em 0}.unk{text-decoration:underline dotted}")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{css}</style></head><body><h1>{html.escape(title)}</h1>",
           "<p class='m'>Green: pushes towards the predicted class; red: against. Opacity: |attribution| "
           "relative to the text's largest. Dotted underline: out-of-vocabulary token (read as UNK). "
           "Hover a token for its value.</p>"]
    for r in rows:
        lim = max((abs(a) for a in r["attributions"]), default=0.0)
        spans = [f"<span class='{'t unk' if unk else 't'}' style='background:{_colour(a, lim)}' "
                 f"title='{a:+.4f}'>{html.escape(tok)}</span>"
                 for tok, a, unk in zip(r["tokens"], r["attributions"], r["unk"], strict=True)]
        out.append(f"<div class='r'><div class='m'>row {r['row']} &middot; label {html.escape(str(r['label']))} "
                   f"&middot; predicted {html.escape(str(r['pred']))} (p={r['prob']:.3f}) &middot; "
                   f"sum {sum(r['attributions']):+.3f}, f(x)-f(baseline) {r['f_delta']:+.3f}</div>"
                   f"{' '.join(spans)}</div>")
    out.append("</body></html>")
    return "\n".join(out)
