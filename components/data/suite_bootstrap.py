"""`validate.suite: inferred | both` in a pipeline run that has no `suites/<dataset>.json` yet: the validate stage
infers it from the train split the features stage will make of the same raw data (same split function, same
seed), writes it where `keel suite infer` would, and validates with it. From then on the file is the suite: later
data versions are checked against it until someone re-infers it (`keel suite infer`) or edits it. Track it with
`dvc add suites/<dataset>.json suites/<dataset>.derived.json` (docs/monitoring.md).

Why in validate and not a stage of its own: the train split exists only after validate (features splits the
validated data), so a stage reading it cannot feed validate without a cycle in dvc.yaml; and a stage that
re-inferred the suite from every new data version would check each version against itself. Inferring once, when
the file is absent, gives a first version's suite that later versions must meet.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from components.config.monitor import SuiteInferConfig
from components.config.sections import FeaturesConfig
from components.core.columns import LABEL, SPLIT
from components.core.errors import StageInputError
from components.core.io import read_parquet
from components.data.series import chronological_split
from components.data.split import split
from components.data.suite_file import suite_path
from components.data.suite_infer import infer_suite
from components.data.transforms.tabular import require_numeric

log = logging.getLogger(__name__)


class Bootstrapped(BaseModel):
    """The suite validate inferred because none was there."""

    suite: Path
    derived: Path
    expectations: int
    train_rows: int


def train_split(df: pd.DataFrame, policy: str, cfg: FeaturesConfig) -> pd.DataFrame:
    """The train split the features stage makes of `df` under a task's split policy (stratified, random,
    chronological) and the features settings (shares, seed; freq/input_len/horizon for series)."""
    if policy == "chronological":
        return chronological_split(df, cfg.freq, cfg.input_len, cfg.horizon)["train"]  # type: ignore[attr-defined]
    return split(df, cfg, stratify=policy == "stratified")["train"]


def infer_missing(raw: Path, manifest: dict, suites_dir: Path, policy: str, features: FeaturesConfig,
                  cfg: SuiteInferConfig) -> Bootstrapped | None:
    """Write `suites/<dataset>.json` from the train split of `raw` (a Parquet file) unless it exists; None: it did."""
    target = suite_path(suites_dir, manifest["dataset"])
    if target.is_file():
        return None
    df = read_parquet(raw)
    train = train_split(df, policy, features)
    try:
        if manifest.get("kind") == "tabular":  # its transform needs numbers; an inferred string check would pass
            require_numeric(train, [c for c in train.columns if c not in (LABEL, SPLIT)])
        inferred = infer_suite(train, manifest.get("kind", "image"), cfg, manifest["dataset"],
                               split_column=SPLIT in df.columns)
    except StageInputError as e:
        raise StageInputError(f"{raw} ({manifest['source']}): no suite inferred: {e}") from e
    written, side = inferred.write(target)
    log.warning("validate: no %s: inferred it from the train split of %s (%d rows) -- THE DATA IS CHECKED AGAINST "
                "A SUITE MADE FROM ITSELF, so it passes by construction; review the suite and track it: "
                "dvc add %s %s", target, raw, len(train), written, side)
    return Bootstrapped(suite=written, derived=side, expectations=len(inferred.suite["expectations"]),
                        train_rows=len(train))
