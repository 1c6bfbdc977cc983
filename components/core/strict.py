"""The base of every config class (params sections and model families): unknown keys are errors, instances
are immutable."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


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
