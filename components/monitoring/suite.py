"""`keel suite infer <model>`: infer a GX suite from the train split of the current data version and write it
where review and the validate stage find it (`suites/<dataset>.json`), with its Data Docs."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from components.config.params import Params
from components.core import paths
from components.core.errors import StageInputError
from components.core.io import read_json
from components.data.artifacts import load_split
from components.data.suite_file import render_docs, suite_path
from components.data.suite_infer import infer_suite


class SuiteResult(BaseModel):
    """What `keel suite infer` wrote."""

    model: str
    dataset: str
    suite: Path
    derived: Path
    data_docs: Path
    expectations: int
    train_rows: int


def infer(params: Params, model: str | None = None, features_dir: Path = paths.FEATURES_DIR,
          suites_dir: Path = paths.SUITES_DIR, docs_dir: Path = paths.SUITE_DOCS_DIR) -> SuiteResult:
    """Infer the suite of the workspace's train split (`features_dir`, the current data version) for the params'
    family; `model`, when given, must be the model that family trains (e.g. digits-cnn)."""
    split = read_json(Path(features_dir) / paths.SPLIT_FILE)
    name = params.registered_name(split["dataset"])
    if model is not None and model != name:
        raise StageInputError(f"{features_dir} holds the data of {name} (family {params.model}), not {model}; "
                              f"run the pipeline for {model}'s family first (e.g. -S model=<family>)")
    train = load_split(features_dir, "train")
    inferred = infer_suite(train, params.kind, params.monitor.suite, split["dataset"],
                           split_column=bool(split.get("predefined")))
    target = suite_path(suites_dir, split["dataset"])
    written, side = inferred.write(target)
    docs = render_docs(inferred, Path(docs_dir) / split["dataset"])
    return SuiteResult(model=name, dataset=split["dataset"], suite=written, derived=side, data_docs=docs,
                       expectations=len(inferred.suite["expectations"]), train_rows=len(train))
