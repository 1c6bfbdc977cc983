"""What each stage reads from the params: its view. The view is the unit of change detection: DVC re-runs
a stage when its view (written by the `params` stage to data/params/<stage>.json) changes, and the flow's
cache key holds the same view. Stage runners pass exactly these values (components/stages/pipeline.py),
so a setting a stage reads is a setting it is re-run for, by construction.

    python -m components.stages params --params params.yaml --out data/params
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.config.params import Params
from components.core.io import write_json
from components.families.registry import plugin_digest

# Settings of a section that change how a stage runs, not what it produces (in any view that holds the section).
NOT_RESULTS = {"train": {"progress", "resume"}}

VIEWS: dict[str, Callable[[Params], dict[str, Any]]] = {
    "ingest": lambda p: {"cfg": p.ingest, "kind": p.kind},
    # the task and the split shares decide whether the classes can be split (checked before anything trains)
    "validate": lambda p: {"cfg": p.validation, "task": p.task, "val_size": p.features.val_size,
                           "test_size": p.features.test_size,
                           # an inferred suite missing from suites/ is inferred from the train split features makes
                           **({"features": p.features, "infer": p.monitor.suite}
                              if p.validation.suite != "params" and p.validation.infer_missing else {})},
    "features": lambda p: {"cfg": p.features, "task": p.task},
    "train": lambda p: {"model": p.model, "train": p.train, "arch": p.arch,
                        "model_name": p.registration.model_name},
    # train: a forecasting family is refitted at the backtest's rolling origins with the run's train settings
    "evaluate": lambda p: {"cfg": p.evaluate, "train": p.train},
    "register": lambda p: {"cfg": p.registration, "validation": p.validation},  # validation: recorded in the model
}


def view(stage: str, params: Params) -> dict[str, Any]:
    """The stage's view as plain JSON values (settings that change no result left out). A plugin family's views
    also hold its source digest (`family_code`): DVC does not track the plugin's files, so a change there changes
    every view once the `params` stage re-runs (docs/params.md)."""
    code = plugin_digest(params.model)
    return {k: (v.model_dump(mode="json", exclude=NOT_RESULTS.get(k)) if isinstance(v, BaseModel) else v)
            for k, v in VIEWS[stage](params).items()} | ({"family_code": code} if code else {})


def write_views(params: Params, out_dir: Path) -> dict[str, Path]:
    """One `<stage>.json` per stage in `out_dir` (what the `params` stage writes)."""
    return {stage: write_json(Path(out_dir) / f"{stage}.json", view(stage, params)) for stage in VIEWS}
