"""Model cards (Mitchell et al., 2019) as the MLflow description of every registered version.

`facts(...)` gathers what the card says from what the pipeline wrote (metrics and their CIs, per-class
figures, robustness, membership inference, the explanation's headline, privacy spent, sizes, lineage);
`render(facts)` writes the Markdown; `publish` sets it as the version's description (and a short "what this
model is for" as the registered model's), and keeps `model_card.md` + `model_card.json` as version
artifacts; `add_gate` re-renders it with a champion/challenger verdict after `keel promote`.
The description is capped at 5000 characters (the registry's column size); the artifact holds the whole card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.core.io import atomic_path, write_json
from components.families.registry import get
from components.lifecycle import registry

MAX_CHARS = 5000
ARTIFACT_DIR = "model_card"

USE = {"classification": "Classifies each input row ({inputs}) into one of {k} classes: {classes}.",
       "text_classification": "Classifies a text (column `text`) into one of {k} classes: {classes}.",
       "regression": "Predicts a number (`label`) from {inputs}.",
       "clustering": "Groups images ({inputs}) into clusters; labels are used only to score it.",
       "forecasting": "Forecasts the next {horizon} periods of a series (`timestamp`, `value`).",
       "anomaly": "Scores rows ({inputs}) for anomalies and flags those above a threshold picked on validation.",
       "detection": "Finds objects in each image ({inputs}): boxes, each with one of {k} classes ({classes}) "
                    "and a score."}


def facts(name: str, version: str, ckpt: Any, metrics: dict[str, Any], details: dict[str, Any],
          split: dict[str, Any], tags: dict[str, str], gate_reasons: list[str], alias: str | None,
          explanation: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the card states, as plain JSON values."""
    family, t = get(ckpt.family), ckpt.transform
    cols = t.input_columns
    inputs = (f"{len(cols)} raw columns `{cols[0]}` ... `{cols[-1]}`" if len(cols) > 3
              else ", ".join(f"`{c}`" for c in cols))
    use = USE[family.task].format(inputs=inputs, k=len(t.classes or []), horizon=getattr(t, "horizon", "?"),
                                  classes=", ".join(map(str, t.classes or [])))
    headline = {k: v for k, v in metrics.items()
                if isinstance(v, (int, float)) and not k.startswith(("robust_", "mia_"))}
    return {"name": name, "version": version, "family": ckpt.family, "kind": family.kind, "task": family.task,
            "architecture": ckpt.config.model_dump(mode="json"), "intended_use": use, "dataset": split["dataset"],
            "sizes": split["sizes"],
            "tags": {k: v for k, v in tags.items() if not k.startswith(("metric.", "explain."))},
            "metrics": headline, "ci95": details.get("ci95", {}), "per_class": details.get("per_class", {}),
            "robustness": {k: v for k, v in metrics.items() if k.startswith("robust_")},
            "membership": details.get("membership_inference"), "privacy": ckpt.meta.get("privacy"),
            "explanation": explanation, "gate": {"absolute": "pass" if not gate_reasons else "fail",
                                                 "reasons": gate_reasons, "alias": alias}}


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render(f: dict[str, Any]) -> str:
    """The card in Markdown (sections after Mitchell et al.: details, intended use, data, metrics, robustness,
    explanations, privacy, verdict and lineage)."""
    tg, arch = f["tags"], ", ".join(f"{k}={v}" for k, v in f["architecture"].items()) or "no options"
    lines = [f"# Model card: {f['name']} v{f['version']}", "",
             f"**Model.** Family `{f['family']}` ({f['kind']} {f['task']}), PyTorch, trained by Keel's shared loop; "
             f"architecture {arch}.", "", f"**Intended use.** {f['intended_use']} Out of scope: inputs unlike the "
             f"training data ({f['dataset']}); decisions about people without human review.", "",
             f"**Data.** `{tg.get('data_source', '?')}` (sha256 {tg.get('data_sha256', '?')[:12]}), split "
             + ", ".join(f"{k} {v}" for k, v in f["sizes"].items()) + f" rows; test split sha256 "
             f"{tg.get('split_sha256', '?')[:12]}; validation {tg.get('gx_checks', '?')} checks passed.", "",
             "## Test metrics (95% bootstrap CI)", "", "| metric | value | 95% CI |", "|---|---|---|"]
    lines += [f"| {k} | {_num(v)} | " + ("[{:.4g}, {:.4g}]".format(*f["ci95"][k]) if k in f["ci95"] else "—") + " |"
              for k, v in f["metrics"].items()]
    if f["per_class"]:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |"
                  for c, r in f["per_class"].items()]
    if f["robustness"]:
        lines += ["", "## Robustness (perturbed test rows, mean of seeds)", "",
                  ", ".join(f"{k.removeprefix('robust_')} {v:.4g}" for k, v in f["robustness"].items())]
    e = f["explanation"]
    if e:
        lines += ["", "## Explanations", "", f"{e['method']} on {e['probe_rows']} fixed probe rows of the test split "
                  f"(sha256 {e['probe_sha256'][:12]}); completeness error {e['completeness_error']:.2g}; "
                  f"randomisation check ({', '.join(e['randomisation_verdict_on'])}, |Spearman| < 0.5): "
                  f"{'passes' if e['randomisation_passes'] else 'FAILS'} "
                  f"({', '.join(f'{k} {v:.2f}' for k, v in e['randomisation_spearman'].items())}); deletion test: "
                  f"{'passes' if e['deletion_passes'] else 'FAILS'}. Top features: "
                  f"{', '.join(map(str, e['top_features']))}."]
        image = next((x for x in e.get("figures", []) if x.endswith(".png")), None)
        if image:
            lines += ["", f"![mean attribution](model-versions/get-artifact?name={f['name']}&version={f['version']}"
                          f"&path=explanation/{image})"]
    m, p = f["membership"], f["privacy"]
    lines += ["", "## Privacy", ""]
    lines.append((f"Trained with DP-SGD: epsilon {p['epsilon']:.3g} at delta {p['delta']:.0e} ({p['accountant']}; "
                  f"noise multiplier {p['noise_multiplier']:.3g}, clip {p['max_grad_norm']}, sample rate "
                  f"{p['sample_rate']:.3g}, {p['steps']} steps)." if p else "Not trained with differential privacy.")
                 + (f" Membership inference (loss threshold, {m['members']} train vs {m['non_members']} test rows): "
                    f"AUC {m['auc']:.3f}, advantage {m['advantage']:.3f} (0.5 / 0: no leak)." if m else ""))
    g = f["gate"]
    lines += ["", "## Verdict and lineage", "",
              f"Absolute gate (register bounds): **{g['absolute']}**" + (f" ({'; '.join(g['reasons'])})" if g["reasons"]
                                                                        else f", aliased @{g['alias']}") + "."]
    if g.get("promotion"):
        d = g["promotion"]
        lines[-1] += f" Champion/challenger gate: **{d['verdict']}** ({'; '.join(d['reasons'])})."
    lines += ["", f"Run `{tg.get('run_id', '?')}`, git {tg.get('git_commit', '?')[:12]}"
              f"{' (dirty)' if tg.get('git_dirty') == 'true' else ''}, "
              f"params sha256 {tg.get('params_sha256', '?')[:12]}"
              f"{', DVC data md5 ' + tg['dvc_data_md5'] if tg.get('dvc_data_md5') else ''}. "
              f"`keel lineage {f['name']} {f['version']}` has the rest."]
    return "\n".join(lines) + "\n"


def model_description(f: dict[str, Any]) -> str:
    """What the registered model is for (its description in the registry)."""
    return (f"**{f['name']}**: {f['intended_use']} Family `{f['family']}` ({f['kind']} {f['task']}), trained by Keel "
            f"on `{f['tags'].get('data_source', f['dataset'])}`. It takes raw rows (the transform is inside) and "
            "returns `prediction` (and class probabilities). Each version's description is its model card: "
            "metrics with CIs, robustness, explanations, privacy, the gate's verdict and lineage.")


def _fit(card: str) -> str:
    note = "\n\n*(card shortened: the whole card is the version's `model_card/model_card.md` artifact)*\n"
    return card if len(card) <= MAX_CHARS else card[:MAX_CHARS - len(note)].rsplit("\n", 1)[0] + note


def publish(f: dict[str, Any], out_dir: Path) -> Path:
    """Write model_card.md/.json to `out_dir`, attach them to the version, set both descriptions."""
    card = render(f)
    md = Path(out_dir) / "model_card.md"
    md.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(md) as tmp:
        tmp.write_text(card)
    files = [md, write_json(Path(out_dir) / "model_card.json", f)]
    uri = registry.log_version_artifacts(f["name"], f["version"], files, ARTIFACT_DIR)
    registry.set_version_tags(f["name"], f["version"], {"model_card": uri})
    registry.set_descriptions(f["name"], f["version"], _fit(card), model_description(f))
    return md


def add_gate(name: str, version: str, decision: dict[str, Any], out_dir: Path) -> Path | None:
    """Re-publish a version's card with the champion/challenger verdict (None: the version has no card)."""
    ref = registry.get_version(name, version)
    uri = ref.tags.get("model_card")
    text = registry.read_artifact_text(f"{uri}/model_card.json") if uri else None
    if not text:
        return None
    f = json.loads(text)
    f["gate"]["promotion"] = {"verdict": "forced" if decision.get("forced") else decision["verdict"],
                              "reasons": decision["reasons"]}
    return publish(f, out_dir)
