"""Drift report: a self-contained HTML page (inline CSS, inline SVG charts, no JavaScript, no CDN: renders offline),
the result as JSON, and a plain-text summary table."""

from __future__ import annotations

import html
from pathlib import Path

from components.monitoring.rule import DriftResult, TestResult

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#1d1d1f;max-width:1200px}
h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:28px 0 8px}
.banner{padding:12px 16px;border-radius:6px;font-weight:600;margin:12px 0}
.drift{background:#fde8e8;border:1px solid #e0a0a0;color:#8a1c1c}
.ok{background:#e6f4ea;border:1px solid #9fd3ad;color:#1e5b2e}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f5f5f7;position:sticky;top:0} td.l,th.l{text-align:left}
tr.fired td{background:#fff4f4} .muted{color:#6e6e73;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:16px} .card{border:1px solid #e3e3e3;border-radius:6px;padding:8px}
.card h3{font-size:13px;margin:0 0 4px} .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""
REF, CUR, BAD = "#8e8e93", "#f28c28", "#d93025"


def effect_bar(t: TestResult, width: int = 140, height: int = 12) -> str:
    """Effect / threshold on a 0..3x scale; the tick is the threshold."""
    ratio = t.effect / t.threshold if t.threshold > 0 else (3.0 if t.effect > 0 else 0.0)
    w = max(0.0, min(ratio, 3.0)) / 3.0 * width
    color = BAD if t.drift else (CUR if ratio >= 1 else REF)
    tick = width / 3.0
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="effect {ratio:.2f} x threshold">'
            f'<rect width="{width}" height="{height}" fill="#f0f0f0"/>'
            f'<rect width="{w:.1f}" height="{height}" fill="{color}"/>'
            f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="0" y2="{height}" stroke="#1d1d1f" stroke-width="1.5"/></svg>')


def histogram_svg(t: TestResult, width: int = 360, height: int = 130, max_bins: int = 30) -> str:
    """Reference (grey) vs current (orange) proportions per bin / category."""
    h = t.histogram or {}
    bins, ref, cur = h.get("bins", [])[:max_bins], h.get("reference", [])[:max_bins], h.get("current", [])[:max_bins]
    if not bins:
        return ""
    top = max(max(ref, default=0), max(cur, default=0), 1e-9)
    plot_h, base = height - 30, height - 22
    step = width / len(bins)
    bar = max(step / 2 - 1, 1)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="histogram of {html.escape(t.target)}">',
             f'<line x1="0" x2="{width}" y1="{base}" y2="{base}" stroke="#c7c7cc"/>']
    for i, (label, r, c) in enumerate(zip(bins, ref, cur, strict=False)):
        x = i * step
        hr, hc = r / top * plot_h, c / top * plot_h
        parts.append(f'<rect x="{x + 1:.1f}" y="{base - hr:.1f}" width="{bar:.1f}" height="{hr:.1f}" fill="{REF}">'
                     f'<title>{html.escape(str(label))}: reference {r:.3f}</title></rect>')
        parts.append(f'<rect x="{x + 1 + bar:.1f}" y="{base - hc:.1f}" width="{bar:.1f}" height="{hc:.1f}" '
                     f'fill="{CUR}"><title>{html.escape(str(label))}: current {c:.3f}</title></rect>')
        if len(bins) <= 12:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 8}" font-size="8" text-anchor="middle">'
                         f'{html.escape(str(label)[:12])}</text>')
    parts.append(f'<text x="2" y="10" font-size="9" fill="#6e6e73">max {top:.3f}</text></svg>')
    return "".join(parts)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def to_html(result: DriftResult, title: str = "Drift report", charts: int = 12) -> str:
    """The page: verdict banner, the fired tests, every test in a table (drifting first), and histograms of the
    fired columns plus the closest-to-threshold others (at most `charts`)."""
    tests = sorted(result.tests, key=lambda t: (not t.drift, -(t.effect / t.threshold if t.threshold else 0)))
    fired = result.fired_brief(columns=20) if result.fired else ""
    banner = (f'<div class="banner drift">DRIFT — fired: {html.escape(fired)}</div>' if result.drift
              else '<div class="banner ok">No drift: no test had both a corrected p-value below alpha and an '
                   'effect at or above its threshold.</div>')
    rows = []
    for t in tests:
        extra = "; ".join(f"{k}={_fmt(v)}" for k, v in sorted(t.extra.items()))
        rows.append(f'<tr class="{"fired" if t.drift else ""}"><td class="l">{html.escape(t.target)}</td>'
                    f'<td class="l">{html.escape(t.test)}</td><td>{_fmt(t.statistic)}</td><td>{t.p_value:.2e}</td>'
                    f'<td>{t.p_adjusted:.2e}</td><td class="l">{html.escape(t.effect_name)}</td>'
                    f'<td>{_fmt(t.effect)}</td>'
                    f'<td>{_fmt(t.threshold)}</td><td>{effect_bar(t)}</td>'
                    f'<td class="l"><b>{"DRIFT" if t.drift else "ok"}</b></td>'
                    f'<td>{t.n_reference}/{t.n_current}</td><td class="l muted">{html.escape(extra)}</td></tr>')
    cards = [f'<div class="card"><h3>{html.escape(t.target)} · {html.escape(t.effect_name)}={_fmt(t.effect)}'
             f'{" · DRIFT" if t.drift else ""}</h3>{histogram_svg(t)}</div>'
             for t in tests if t.histogram][:charts]
    cfg = "; ".join(f"{k}={v}" for k, v in sorted(result.config.items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<div class="muted">reference {result.n_reference} rows · current {result.n_current} rows · {len(result.tests)} tests ·
alpha {result.alpha} ({html.escape(result.correction)} per family) · check took {result.seconds:.2f} s</div>
{banner}
<p class="muted">Rule: a test fires when its p-value, corrected within its family (columns; multivariate), is below the
family's share of alpha AND its effect size is at or above the threshold. The bar shows effect / threshold on
0..3x; the black tick is the threshold.</p>
<h2>Distributions</h2>
<div class="legend muted"><span style="background:{REF}"></span>reference
<span style="background:{CUR}"></span>current</div>
<div class="grid">{''.join(cards) or '<p class="muted">no histograms</p>'}</div>
<h2>All tests</h2>
<table><thead><tr><th class="l">target</th><th class="l">test</th><th>statistic</th><th>p</th><th>p adj.</th>
<th class="l">effect</th><th>value</th><th>threshold</th><th>effect / threshold</th><th class="l">verdict</th>
<th>n ref/cur</th><th class="l">other effects</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Configuration</h2><p class="muted">{html.escape(cfg)}</p>
</body></html>
"""


def to_json(result: DriftResult) -> str:
    return result.model_dump_json(indent=1) + "\n"


def write_report(result: DriftResult, directory: str | Path, title: str = "Drift report") -> dict[str, Path]:
    """drift_report.html, drift_report.json and drift_summary.txt in `directory`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"html": d / "drift_report.html", "json": d / "drift_report.json", "text": d / "drift_summary.txt"}
    paths["html"].write_text(to_html(result, title))
    paths["json"].write_text(to_json(result))
    paths["text"].write_text(result.summary_table() + "\n")
    return paths
