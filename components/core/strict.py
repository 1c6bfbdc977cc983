"""The base of every config class (params sections and model families): unknown keys are errors, instances
are immutable."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class Strict(BaseModel):
    """Base for every config: `extra="forbid"`, `frozen=True`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
