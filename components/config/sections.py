"""Params sections, one per stage (`params.yaml` section -> class). A data kind may extend a section
(`VALIDATE_CONFIGS`, `FEATURES_CONFIGS`); a family's architecture block `train.<family>` is the config class
in its model file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.core.strict import Fraction, PositiveInt, Strict

# ---- ingest ----------------------------------------------------------------------------------


class IngestConfig(Strict):
    """Where the raw data comes from. See README, "Data sources"."""

    source: str = "sklearn:digits"
    label_column: str = "label"  # renamed to `label` on ingest
    # Images: (height, width); inferred as a square from the pixel-column count when null.
    image_shape: tuple[PositiveInt, PositiveInt] | None = None
    text_column: str = "text"  # text kind: renamed to `text` on ingest


# ---- validate (one schema per data kind) -----------------------------------------------------


class ValidateConfig(Strict):
    """Checks shared by every data kind."""

    min_rows: PositiveInt = 100
    max_rows: PositiveInt | None = None

    @model_validator(mode="after")
    def _rows(self):
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError(f"max_rows ({self.max_rows}) must be at least min_rows ({self.min_rows})")
        return self


class ImageValidateConfig(ValidateConfig):
    """Pixel columns + `label`."""

    pixel_min: float = 0.0
    pixel_max: float = 16.0
    labels: list[int | str] = Field(default_factory=lambda: list(range(10)), min_length=2)

    @model_validator(mode="after")
    def _pixels(self):
        if self.pixel_min >= self.pixel_max:
            raise ValueError(f"pixel_min ({self.pixel_min}) must be below pixel_max ({self.pixel_max})")
        return self


class TabularValidateConfig(ValidateConfig):
    """Named numeric feature columns + `label` (a class, or a number for regression)."""

    columns: list[str] = Field(min_length=1)  # the feature columns, exactly
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)  # column -> [min, max]
    labels: list[int | str] | None = None  # allowed classes; null: `label` is a number
    label_range: tuple[float, float] | None = None  # for a numeric label


class SeriesValidateConfig(ValidateConfig):
    """`timestamp` + `value`: timestamps strictly increasing and unique, values numeric, gaps bridgeable."""

    # Longest time without an observed value that imputation may bridge (a pandas Timedelta: "140D", "20W").
    max_gap: str = "140D"
    min_observed: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9  # fraction of rows with a value

    @model_validator(mode="after")
    def _gap(self):
        import pandas as pd

        try:
            ok = pd.Timedelta(self.max_gap) > pd.Timedelta(0)
        except ValueError as e:
            raise ValueError(f"max_gap {self.max_gap!r} is not a pandas Timedelta (e.g. '140D', '20W')") from e
        if not ok:
            raise ValueError(f"max_gap {self.max_gap!r} must be positive")
        return self


class TextValidateConfig(ValidateConfig):
    """A `text` column (string, non-null, non-empty) + `label` within `labels`."""

    labels: list[int | str] = Field(min_length=2)
    max_chars: PositiveInt | None = None  # longest text accepted; null: no limit


VALIDATE_CONFIGS: dict[str, type[ValidateConfig]] = {"image": ImageValidateConfig, "tabular": TabularValidateConfig,
                                                     "series": SeriesValidateConfig, "text": TextValidateConfig}


# ---- features --------------------------------------------------------------------------------


class FeaturesConfig(Strict):
    """Seeded split (stratified for classes); the transform is fitted on the train split only."""

    seed: int = 42
    val_size: Fraction = 0.15  # 0: no validation split (early stopping then watches the train loss)
    test_size: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15

    @model_validator(mode="after")
    def _sizes(self):
        if self.val_size + self.test_size >= 0.9:
            raise ValueError("val_size + test_size must leave at least 10% for training")
        return self


class SeriesFeaturesConfig(FeaturesConfig):
    """Series: resampled to `freq` (mean), gaps interpolated; chronological split (val_size/test_size unused):
    the test split is the last `horizon` periods (with `input_len` periods of lead-in), the rest trains."""

    freq: str = "MS"  # pandas offset alias of the model's time step
    input_len: PositiveInt = 36  # periods the model sees (window length)
    horizon: PositiveInt = 24  # periods it forecasts at once
    season: PositiveInt = 12  # seasonal period, for MASE's scale and the seasonal-naive / ETS / ARIMA baselines


class TextFeaturesConfig(FeaturesConfig):
    """Tokenizer + vocabulary, fitted on the train split only and saved with the model."""

    min_freq: PositiveInt = 2  # a token enters the vocabulary when it occurs this often in train
    max_vocab: PositiveInt | None = None  # keep the most frequent tokens only; null: no cap
    max_len: PositiveInt = 64  # tokens kept per text (the rest is cut)


FEATURES_CONFIGS: dict[str, type[FeaturesConfig]] = {"image": FeaturesConfig, "tabular": FeaturesConfig,
                                                     "series": SeriesFeaturesConfig, "text": TextFeaturesConfig}



# ---- train / evaluate / register -------------------------------------------------------------


class TrainConfig(Strict):
    """Optimisation settings shared by all families (a family block may override any of them)."""

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
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype; fp16 adds a GradScaler
    compile: bool = False  # torch.compile the model
    nproc: PositiveInt = 1  # > 1: DDP in that many processes per node, through torchrun
    resume: bool = True  # continue from the state a killed run left (train --resume-dir)
    fp32_reference: bool = False  # bf16/fp16 runs: also train (or find) an fp32 run and log fp32_delta_* against it
    schedule: Literal["constant", "cosine"] = "constant"  # lr per step: constant, or cosine decay to 0 after warm-up
    warmup_epochs: Annotated[int, Field(ge=0)] = 0  # linear warm-up from 0 (both schedules)
    clip_grad_norm: Annotated[float, Field(gt=0.0)] | None = None  # clip the global gradient norm; null: no clipping


class EvaluateConfig(Strict):
    """Scoring of the held-out test split."""

    batch_size: PositiveInt = 1024


class RegisterConfig(Strict):
    """Registration in the MLflow model registry and the absolute gate for the `staging` alias."""

    model_name: str | None = None  # default: "<dataset>-<family>", e.g. digits-cnn
    alias: str = "staging"
    # metric -> bound, from reports/metrics.json; `min` for higher-is-better, `max` for lower-is-better.
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)


class PromoteConfig(Strict):
    """The champion/challenger gate for moving `production` (keel promote, promotion_flow).

    The metric and its absolute bar default to the family's `register` bound (first `min` key: higher is
    better; else first `max` key: lower is better), so each task gates on its own headline metric.
    """

    alias: str = "production"
    source_alias: str = "staging"  # the version `keel promote <model>` takes when --version is not given
    metric: str | None = None  # null: the family's register bound metric
    higher_is_better: bool | None = None  # null: from where the metric sits (register.min / register.max)
    min_absolute: float | None = None  # null: the register bound; the bar a first production version must meet
    min_improvement: Annotated[float, Field(ge=0.0)] = 0.0  # over production, in metric units
    test: Literal["auto", "bootstrap", "mcnemar"] = "auto"  # auto: McNemar for classification accuracy
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    bootstrap_samples: Annotated[int, Field(ge=100)] = 1000
    seed: int = 0
    approval_required: bool = False  # promotion_flow pauses for a human decision before moving the alias
    approval_timeout_s: PositiveInt = 3600


# ---- sections --------------------------------------------------------------------------------

# params.yaml section -> attribute of Params (`validate` and `register` would shadow pydantic/ABC names)
SECTIONS: dict[str, str] = {"ingest": "ingest", "validate": "validation", "features": "features",
                            "train": "train", "evaluate": "evaluate", "register": "registration",
                            "promote": "promote"}


def section_schema(section: str, kind: str) -> type[Strict]:
    """The config class of `section` for a family of data kind `kind` (media kinds: components/config/media.py)."""
    from components.config.media import MEDIA  # imported here: media.py extends this module's classes

    if section in MEDIA.get(kind, {}):
        return MEDIA[kind][section]
    if section in ("validate", "features"):
        return (VALIDATE_CONFIGS if section == "validate" else FEATURES_CONFIGS)[kind]
    return {"ingest": IngestConfig, "train": TrainConfig, "evaluate": EvaluateConfig, "register": RegisterConfig,
            "promote": PromoteConfig}[section]
