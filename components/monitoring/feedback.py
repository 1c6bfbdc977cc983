"""`keel feedback <model> <labels>`: labels that arrived after scoring, checked before they are stored.

A labels file is refused whole (nothing stored) when its model is not registered, when any of its request ids
is in no inference log of the model (never scored, sampled out or pruned: nothing to join it to), when a row
is not a whole number, or when a label is not one the version that scored the request can predict (a class
for classifiers, a number for regressors): such labels would turn into a false performance drop in
`keel monitor`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel

from components.core.errors import KeelError, StageInputError
from components.data.sources import read_csv, read_parquet
from components.families.registry import get
from components.inference.scorelog import store
from components.inference.scorelog.segments import read_segment
from components.lifecycle import registry
from components.monitoring.stats import as_labels

COLUMNS = store.FEEDBACK_COLUMNS
SHOWN = 5  # offending values named in an error
CLASS_TASKS = ("classification", "text_classification")
Spec = tuple[str, list | None]  # (task, classes) of a version


class FeedbackResult(BaseModel):
    """Labels stored for a model."""

    model: str
    labels: int
    stored: Path


def read_labels(path: Path, request_id: str | None = None) -> pd.DataFrame:
    """The labels file (.parquet, else CSV) with request_id, row, label (`request_id`: every row is that
    request's, `row` its position unless the file has one)."""
    if not path.is_file():
        raise KeelError(f"{path}: not found")
    frame = read_parquet(path) if path.suffix == ".parquet" else read_csv(path)  # errors name the file
    if request_id is not None:
        frame = frame.assign(request_id=request_id, row=frame.get("row", pd.Series(range(len(frame)))))
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise StageInputError(f"{path}: feedback needs columns request_id, row, label; missing {missing}")
    return frame


def scored_requests(log_dir: Path, model: str) -> dict[str, str]:
    """Request id -> the version that scored it, from the model's log and its write-ahead segments."""
    frames = [pq.read_table(f, columns=["request_id", "version"]).to_pandas() for f in store.part_files(log_dir, model)]
    segments = sorted(store.wal_dir(log_dir, model).glob("*.arrows"))
    frames += [t.select(["request_id", "version"]).to_pandas() for t in map(read_segment, segments) if t is not None]
    if not frames:
        return {}
    ids = pd.concat(frames, ignore_index=True).astype(str).drop_duplicates("request_id", keep="last")
    return dict(zip(ids["request_id"], ids["version"], strict=True))


def _shown(values, n: int = SHOWN) -> str:
    distinct = list(dict.fromkeys(values))
    more = f" (+{len(distinct) - n} more)" if len(distinct) > n else ""
    return ", ".join(repr(v) for v in distinct[:n]) + more


def check(path: Path, model: str, frame: pd.DataFrame, scored: dict[str, str], spec_of: Callable[[str], Spec]) -> None:
    """Raise a StageInputError naming the file, the column and the offending values when the labels cannot be
    joined to the log or are not labels the scoring version can predict."""
    ids = frame["request_id"].astype(str)
    unknown = ids[~ids.isin(list(scored))]
    if len(unknown):
        raise StageInputError(f"{path}: column 'request_id': {unknown.nunique()} request id(s) in no inference log "
                              f"of {model}: {_shown(unknown)}; nothing stored")
    rows = pd.to_numeric(frame["row"], errors="coerce")
    bad = frame["row"][rows.isna() | (rows % 1 != 0)]
    if len(bad):
        raise StageInputError(f"{path}: column 'row': not whole numbers: {_shown(bad.tolist())}; nothing stored")
    for version, labels in frame["label"].groupby(ids.map(scored), sort=True):
        task, classes = spec_of(version)
        if task in CLASS_TASKS and classes is not None:
            allowed = set(as_labels(classes).tolist())
            wrong = labels[[v not in allowed for v in as_labels(labels.to_numpy())]]
            what = f"not among the classes of {model} v{version} [{_shown(classes, 20)}]"
        elif task == "regression":
            wrong = labels[pd.to_numeric(labels, errors="coerce").isna()]
            what = f"not numbers ({model} v{version} is a regressor)"
        else:
            continue
        if len(wrong):
            raise StageInputError(f"{path}: column 'label': {len(wrong)} label(s) {what}: {_shown(wrong.tolist())}; "
                                  "nothing stored")


def run(model: str, labels: Path, log_dir: Path, request_id: str | None = None) -> FeedbackResult:
    """Read, check and store a labels file for `model` (nothing is stored when any check fails)."""
    frame = read_labels(Path(labels), request_id)
    registry.latest_version(model)  # a model that is not registered is named as such
    specs: dict[str, Spec] = {}

    def spec_of(version: str) -> Spec:
        if version not in specs:
            ckpt = registry.load_keel_checkpoint(model, version)
            specs[version] = (get(ckpt.family).task, ckpt.transform.classes)
        return specs[version]

    check(Path(labels), model, frame, scored_requests(log_dir, model), spec_of)
    return FeedbackResult(model=model, labels=len(frame), stored=store.write_feedback(log_dir, model, frame))
