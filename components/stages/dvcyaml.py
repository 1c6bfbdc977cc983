"""dvc.yaml, generated from the pipeline's declaration (components/stages/pipeline.py).

Every stage's deps are its code (the import closure of its module, components/core/codedeps.py), its
params view (data/params/<stage>.json, written by the `params` stage) and its input files; its outs come
from the declaration. `python -m components.stages dvc-yaml` prints it; a test checks the committed
dvc.yaml is this output, so an import added anywhere is a dependency DVC sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.core import codedeps, paths
from components.families.registry import GROUP
from components.stages import dvccheck
from components.stages.pipeline import STAGES
from components.stages.spec import RUNNER, Stage

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "python -m components.stages"
VIEWS_MODULE = "components.config.views"
PARAMS_SECTIONS = ["model", "ingest", "validate", "features", "train", "evaluate", "register"]
HEADER = """\
# GENERATED from components/stages/pipeline.py by `python -m components.stages dvc-yaml > dvc.yaml`: do not edit.
# params -> ingest -> validate -> features -> train -> evaluate -> register. Each stage depends on its code (the
# import closure of its module), its resolved params (data/params/<stage>.json) and its inputs.
"""
PLOTS: list[Any] = [
    {"reports/plots/loss.csv": {"x": "epoch", "y": ["train_loss", "val_loss"], "title": "Loss per epoch"}},
    {"reports/plots/confusion.csv": {"template": "confusion", "x": "predicted", "y": "actual",
                                     "title": "Test confusion matrix"}},
    {"reports/plots/residuals.csv": {"x": "actual", "y": "predicted", "title": "Test predictions (regression)"}},
    {"reports/plots/roc.csv": {"x": "fpr", "y": "tpr", "title": "Test ROC curve (anomaly)"}},
    "reports/plots/confusion_matrix.png", "reports/plots/residuals.png", "reports/plots/loss.png",
    {"reports/plots/clusters.csv": {"x": "pc1", "y": "pc2", "template": "scatter",
                                    "title": "Test embedding (PCA), coloured by cluster"}},
    "reports/plots/clusters.png", "reports/plots/cluster_vs_label.png",
    {"reports/plots/forecast.csv": {"x": "timestamp", "y": ["actual", "forecast"],
                                    "title": "Forecast over the holdout"}},
    "reports/plots/forecast.png",
]


def code(*modules: str) -> list[str]:
    """Modules' code dependencies, relative to the project root (whole folders where all their files count)."""
    return codedeps.compress(tuple({f for m in modules for f in codedeps.closure(m, ROOT)}), ROOT)


def _stage(s: Stage) -> dict[str, Any]:
    cmd = " ".join([ENTRY, s.name, "--params", str(paths.PARAMS), *(f"{i.flag} {i.default}" for i in s.io)])
    deps = code(s.module, RUNNER, "components.stages.__main__")
    deps += [str(paths.PARAMS_DIR / f"{s.name}.json"), *s.extra_deps]
    deps += [str(t) for i in s.paths("in") for t in i.targets()]
    entry: dict[str, Any] = {"cmd": cmd, "deps": deps}
    outs, metrics = [], []
    for i in s.paths("out"):
        for target in i.targets():
            item = str(target) if i.cache else {str(target): {"cache": False}}
            (metrics if target.name in i.metrics else outs).append(item)
    if metrics:
        entry["metrics"] = metrics
    entry["outs"] = outs
    return entry


def in_repo_plugins(root: Path = ROOT) -> list[str]:
    """The source folders (or module files) of plugin families kept in this repository: each package up to two
    folders down (examples/keel-wine) whose pyproject.toml declares `keel.families` entry points. The `params`
    stage depends on them, so an edit to a plugin's defaults or code re-writes the views (which hold its digest).
    A plugin installed from elsewhere is not seen: docs/params.md."""
    import tomllib

    found = set()
    for project in sorted([*root.glob("*/pyproject.toml"), *root.glob("*/*/pyproject.toml")]):
        if any(part.startswith(".") for part in project.relative_to(root).parts):
            continue
        declared = tomllib.loads(project.read_text()).get("project", {}).get("entry-points", {}).get(GROUP, {})
        for where in declared.values():
            top = where.split(":")[0].split(".")[0]
            source = next((p for p in (project.parent / top, project.parent / f"{top}.py") if p.exists()), None)
            if source is not None:
                found.add(str(source.relative_to(root)))
    return sorted(found)


def dvc_yaml() -> dict[str, Any]:
    """The whole dvc.yaml as a mapping."""
    stages: dict[str, Any] = {"params": {
        "cmd": f"{ENTRY} params --params {paths.PARAMS} --out {paths.PARAMS_DIR}",
        "deps": code(VIEWS_MODULE, "components.stages.__main__") + in_repo_plugins(),
        "params": PARAMS_SECTIONS,
        "outs": [str(paths.PARAMS_DIR)]}}
    stages |= {s.name: _stage(s) for s in STAGES}
    declared = [{str(i.default / f): {"x": "step"}} for s in STAGES for i in s.paths("out") for f in i.plots]
    return {"stages": stages, "plots": declared + PLOTS}


def render() -> str:
    """dvc.yaml's text."""
    pipeline = dvc_yaml()
    return HEADER + yaml.safe_dump(pipeline, sort_keys=False, width=120) + dvccheck.fingerprints(pipeline["stages"])
