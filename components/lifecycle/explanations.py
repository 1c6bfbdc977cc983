"""Explanations of registered versions: computed at registration on the fixed probe set and attached to the
version (artifacts under `explanation/`, `explain.*` tags); `keel explain` on given rows; how the top
features moved between champion and challenger (the gate report)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from components.config.sections import ExplainConfig
from components.core.errors import RegistryError
from components.data.artifacts import load_split
from components.data.sources import read
from components.inference.checkpoint import Checkpoint
from components.lifecycle import registry
from components.trust import explain as ex

log = logging.getLogger(__name__)

ARTIFACT_DIR = "explanation"


def explain_probe(ckpt: Checkpoint, features_dir: Path, cfg: ExplainConfig, out_dir: Path) -> dict[str, Any] | None:
    """Explain the fixed probe rows of the frozen test split into `out_dir` (None: disabled or nothing to
    explain for this kind)."""
    if not cfg.enabled:
        return None
    test = load_split(features_dir, "test")
    positions = ex.probe_positions(test, ckpt.transform, cfg.rows, cfg.seed)
    probe = {"split": "test", "positions": positions.tolist(), "seed": cfg.seed,
             "rule": "seeded; round-robin over the classes" if ckpt.transform.classes is not None else "seeded"}
    return ex.explain(ckpt, test.iloc[positions].reset_index(drop=True), cfg, out_dir, probe)


def attach(name: str, version: str, out_dir: Path, report: dict[str, Any]) -> dict[str, str]:
    """Log the explanation's files on the version and tag it with the headline; returns the tags."""
    files = [Path(out_dir) / f for f in [ex.EXPLANATION_FILE, *report["figures"]]]
    uri = registry.log_version_artifacts(name, version, files, ARTIFACT_DIR)
    s = ex.summary(report)
    tags = {"explain.report": uri, "explain.method": s["method"], "explain.probe_sha256": s["probe_sha256"],
            "explain.completeness_error": f"{s['completeness_error']:.4g}",
            "explain.randomisation_spearman": json.dumps(s["randomisation_spearman"]),
            "explain.randomisation_passes": str(s["randomisation_passes"]).lower(),
            "explain.deletion_passes": str(s["deletion_passes"]).lower(),
            "explain.top_features": ",".join(map(str, s["top_features"]))}
    registry.set_version_tags(name, version, tags)
    return tags


def read_report(ref: registry.VersionRef) -> dict[str, Any] | None:
    """A version's explanation.json (None when it has none)."""
    uri = ref.tags.get("explain.report")
    text = registry.read_artifact_text(f"{uri}/{ex.EXPLANATION_FILE}") if uri else None
    return json.loads(text) if text else None


def pick_version(name: str, version: str | None, alias: str | None) -> registry.VersionRef:
    """`version`, else the version holding `alias`, else @production, else @staging."""
    if version:
        return registry.get_version(name, version)
    for a in [alias] if alias else ["production", "staging"]:
        ref = registry.version_by_alias(name, a)
        if ref is not None:
            return ref
    registry.latest_version(name)  # a model that is not registered at all is named as such
    raise RegistryError(f"model {name!r}: no version holds @{alias or 'production or @staging'}; pass --version N")


def explain_rows(ref: registry.VersionRef, ckpt, rows_path: Path, out_dir: Path,
                 cfg: ExplainConfig | None = None) -> dict[str, Any]:
    """Raw rows from a CSV/Parquet file explained with a registered version's checkpoint into `out_dir` (`keel
    explain` checks the rows first: components/serving/explaining.py)."""
    rows = read(str(rows_path))
    report = ex.explain(ckpt, rows.reset_index(drop=True), cfg or ExplainConfig(), Path(out_dir),
                        {"source": str(rows_path)})
    if report is None:
        raise RegistryError(f"model {ref.name!r} version {ref.version}: family {ckpt.family!r} has nothing to "
                            "explain (no supervised output: clustering)")
    return report


def top_feature_change(candidate: dict[str, Any] | None, champion: dict[str, Any] | None,
                       top: int = 10) -> dict[str, Any] | None:
    """How the top features moved between two explanations of the same probe rows: overlap of the top
    `top`, Spearman correlation of the shares over the union, features that entered and left."""
    if not candidate or not champion:
        return None
    from scipy.stats import spearmanr

    share = [{r["feature"]: r["share"] for r in e["global_importance"]} for e in (candidate, champion)]
    tops = [[r["feature"] for r in e["global_importance"][:top]] for e in (candidate, champion)]
    union = sorted(set(tops[0]) | set(tops[1]), key=str)
    rho = spearmanr([share[0].get(f, 0.0) for f in union], [share[1].get(f, 0.0) for f in union]).statistic
    return {"same_probe": candidate["probe"]["sha256"] == champion["probe"]["sha256"], "top": top,
            "candidate_top": tops[0], "champion_top": tops[1], "overlap": len(set(tops[0]) & set(tops[1])),
            "entered": [f for f in tops[0] if f not in tops[1]], "left": [f for f in tops[1] if f not in tops[0]],
            "spearman_shares": None if pd.isna(rho) else float(rho)}
