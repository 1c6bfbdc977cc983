"""The base of every config class (params sections and model families): unknown keys are errors, instances
are immutable."""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


def _alias(value: str) -> str:
    """MLflow's rule for a model-version alias (mlflow.utils.validation, not imported here: it loads MLflow)."""
    if not re.fullmatch(r"[\w-]{1,255}", value) or value.lower() == "latest" or re.fullmatch(r"[vV]\d+", value):
        raise ValueError(f"{value!r} is not an MLflow alias: letters, digits, _ and -, not 'latest' or v<N>")
    return value


AliasName = Annotated[str, AfterValidator(_alias)]  # checked with the params, before anything is registered


class Strict(BaseModel):
    """Base for every config: `extra="forbid"`, `frozen=True`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_duration(value: str, what: str, expected: str) -> None:
    """A ValueError naming `what` unless `value` is a positive pandas Timedelta ("24h", "140D")."""
    import pandas as pd

    try:
        ok = pd.Timedelta(value) > pd.Timedelta(0)
    except ValueError as e:
        raise ValueError(f"{what} {value!r} is not {expected}") from e
    if not ok:
        raise ValueError(f"{what} {value!r} must be positive")
