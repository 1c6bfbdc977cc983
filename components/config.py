"""The one strict params model: a section per stage, `train.<family>` subsections.

`load_params(path)` is the only YAML reader. Unknown or mistyped keys fail loudly with the
dotted key named. Config models are frozen: stages receive only their own section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from components.errors import ParamsError
from components.io import sha256_json

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class Strict(BaseModel):
    """Base for every params section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- ingest / validate / features -------------------------------------------------------------


class IngestConfig(Strict):
    """Where the raw data comes from. See README, "Data sources"."""

    source: str = "sklearn:digits"
    label_column: str = "label"
    # (height, width) of each image; inferred as a square from the pixel-column count when null.
    image_shape: tuple[PositiveInt, PositiveInt] | None = None


class ValidateConfig(Strict):
    """The expectations the raw data must meet before anything downstream runs."""

    min_rows: PositiveInt = 100
    max_rows: PositiveInt | None = None
    pixel_min: float = 0.0
    pixel_max: float = 16.0
    labels: list[int | str] = Field(default_factory=lambda: list(range(10)), min_length=2)

    @model_validator(mode="after")
    def _ranges(self) -> ValidateConfig:
        if self.pixel_min >= self.pixel_max:
            raise ValueError(f"pixel_min ({self.pixel_min}) must be below pixel_max ({self.pixel_max})")
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError(f"max_rows ({self.max_rows}) must be at least min_rows ({self.min_rows})")
        return self


class FeaturesConfig(Strict):
    """Seeded stratified split; the transform is fitted on the train split only."""

    seed: int = 42
    val_size: Fraction = 0.15
    test_size: Fraction = 0.15

    @model_validator(mode="after")
    def _sizes(self) -> FeaturesConfig:
        if self.val_size + self.test_size >= 0.9:
            raise ValueError("val_size + test_size must leave at least 10% for training")
        return self


# ---- model families --------------------------------------------------------------------------


class CnnConfig(Strict):
    """Conv blocks (conv-ReLU per entry of `channels`, max-pool every `pool_every` blocks) + MLP head."""

    channels: list[PositiveInt] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: PositiveInt = 3
    pool_every: PositiveInt = 1
    hidden: int = Field(128, ge=0)  # 0: no hidden layer in the head
    dropout: float = Field(0.25, ge=0.0, lt=1.0)
    batch_norm: bool = True


FAMILIES: tuple[str, ...] = ("cnn",)
Family = Literal["cnn"]


# ---- train / evaluate / register -------------------------------------------------------------


class TrainConfig(Strict):
    """Optimisation settings shared by all families, plus one architecture block per family."""

    seed: int = 42
    device: Literal["auto", "cpu", "cuda"] = "auto"
    optimizer: Literal["sgd", "momentum", "rmsprop", "adam"] = "adam"
    lr: Annotated[float, Field(gt=0.0)] = 1e-3
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9  # used by `momentum` and `rmsprop`
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    batch_size: PositiveInt = 32
    epochs: PositiveInt = 40
    patience: PositiveInt = 8  # early stopping: epochs without a val-loss improvement
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    progress: bool = True
    cnn: CnnConfig = CnnConfig()


class EvaluateConfig(Strict):
    """Scoring of the held-out test split."""

    batch_size: PositiveInt = 1024


class RegisterConfig(Strict):
    """Registration in the MLflow model registry and the absolute gate for the `staging` alias."""

    model_name: str | None = None  # default: "<dataset>-<family>", e.g. digits-cnn
    alias: str = "staging"
    # metric -> bound, from reports/metrics.json; `min` for higher-is-better, `max` for lower-is-better.
    min: dict[str, float] = Field(default_factory=lambda: {"accuracy": 0.97})
    max: dict[str, float] = Field(default_factory=dict)


class Params(Strict):
    """All of params.yaml."""

    model: Family = "cnn"
    ingest: IngestConfig = IngestConfig()
    # `validate` and `register` would shadow BaseModel/ABC attributes, so they are aliases.
    validation: ValidateConfig = Field(ValidateConfig(), alias="validate")
    features: FeaturesConfig = FeaturesConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    registration: RegisterConfig = Field(RegisterConfig(), alias="register")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def family_config(self) -> Strict:
        """The architecture block of the selected family (`train.<model>`)."""
        return getattr(self.train, self.model)

    def registered_name(self, dataset: str) -> str:
        """The MLflow registered-model name: `register.model_name`, else `<dataset>-<family>`."""
        return self.registration.model_name or f"{dataset}-{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in params.yaml's shape (section names as written in the file)."""
        return self.model_dump(mode="json", by_alias=True)

    def digest(self) -> str:
        """sha256 of the resolved params: what the model was actually trained with."""
        return sha256_json(self.to_dict())


def load_params(path: Path | str = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Read and validate params.yaml; `overrides` maps dotted keys to values (like `dvc exp run -S`)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    return parse_params(raw, source=str(path))


def parse_params(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate a params mapping, turning pydantic errors into one message naming every bad key."""
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<top level>"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            got = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {err.get('input')!r})"
            problems.append(f"{key}: {msg}{got}")
        raise ParamsError(f"{source}: invalid params:\n  " + "\n  ".join(problems)) from None


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ParamsError(f"override {dotted}: {p} is not a section")
    node[leaf] = value
