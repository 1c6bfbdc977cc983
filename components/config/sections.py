"""Params sections, one per stage (`params.yaml` section -> class). A data kind may extend a section
(`VALIDATE_CONFIGS`, `FEATURES_CONFIGS`); a family's architecture block `train.<family>` is the config class
in its model file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.config.backtest import BacktestConfig
from components.config.monitor import MonitorConfig
from components.core.strict import AliasName, Fraction, PositiveInt, Strict, check_duration

BACKBONE = r"^(ets|snaive|ar[1-9][0-9]?)$"  # a member of features.backbone (components/data/classical.py)

# ---- ingest ----------------------------------------------------------------------------------


class IngestConfig(Strict):
    """Where the raw data comes from. See README, "Data sources"."""

    source: str = "sklearn:digits"
    label_column: str = "label"  # renamed to `label` on ingest
    # Images: (height, width); inferred as a square from the pixel-column count when null.
    image_shape: tuple[PositiveInt, PositiveInt] | None = None
    text_column: str = "text"  # text kind: renamed to `text` on ingest


# ---- validate (one schema per data kind) -----------------------------------------------------


PiiKind = Literal["email", "phone", "card", "iban", "ipv4", "ipv6"]


class PiiConfig(Strict):
    """Personal data in text and string columns (components/data/pii.py): what validate does when it finds
    some. block: fail, naming column, kind and count (never the values); redact: replace each match by
    <EMAIL>, <PHONE>, ... before features (and in the registered model's transform, so serving matches);
    report: record the counts only."""

    action: Literal["block", "redact", "report"] = "block"
    kinds: list[PiiKind] = Field(default_factory=lambda: ["email", "phone", "card", "iban", "ipv4", "ipv6"])
    allow_columns: list[str] = Field(default_factory=list)  # columns that may hold personal data: not scanned


class ValidateConfig(Strict):
    """Checks shared by every data kind."""

    min_rows: PositiveInt = 100
    max_rows: PositiveInt | None = None
    # params: the suite built from this section | inferred: the one `keel suite infer` wrote
    # (suites/<dataset>.json) | both: the two merged, a hand-written expectation replacing its inferred twin
    suite: Literal["params", "inferred", "both"] = "params"
    # inferred | both and no suites/<dataset>.json: infer it in the validate stage from the train split features
    # will make (components/data/suite_bootstrap.py); false: fail, naming the missing file
    infer_missing: bool = True
    pii: PiiConfig = Field(default_factory=PiiConfig)

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
        check_duration(self.max_gap, "max_gap", "a pandas Timedelta (e.g. '140D', '20W')")
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
            raise ValueError(f"val_size ({self.val_size}) + test_size ({self.test_size}) must leave 10% to train")
        return self


class SeriesFeaturesConfig(FeaturesConfig):
    """Series: resampled to `freq` (mean), gaps interpolated; chronological split (val_size/test_size unused):
    the test split is the last `horizon` periods (with `input_len` periods of lead-in), the rest trains."""

    freq: str = "MS"  # pandas offset alias of the model's time step
    input_len: PositiveInt = 36  # periods the model sees (window length)
    horizon: PositiveInt = 24  # periods it forecasts at once
    season: PositiveInt = 12  # seasonal period, for MASE's scale and the seasonal-naive / ETS / ARIMA baselines
    # the hybrid forecaster's classical backbone, fitted on the train split (components/data/classical.py): the
    # mean of these members' paths; ets | snaive | ar<p> (AR(p) by least squares)
    backbone: list[Annotated[str, Field(pattern=BACKBONE)]] = Field(default_factory=lambda: ["ets"], min_length=1)
    value_transform: Literal["none", "sqrt"] = "none"  # sqrt: model sqrt(y) (counts); quantiles map back exactly


class TextFeaturesConfig(FeaturesConfig):
    """Tokenizer + vocabulary, fitted on the train split only and saved with the model."""

    min_freq: PositiveInt = 2  # a token enters the vocabulary when it occurs this often in train
    max_vocab: PositiveInt | None = None  # keep the most frequent tokens only; null: no cap
    max_len: PositiveInt = 64  # tokens kept per text (the rest is cut)


FEATURES_CONFIGS: dict[str, type[FeaturesConfig]] = {"image": FeaturesConfig, "tabular": FeaturesConfig,
                                                     "series": SeriesFeaturesConfig, "text": TextFeaturesConfig}



# ---- train / evaluate / register -------------------------------------------------------------


class PrivacyConfig(Strict):
    """Differentially private training (DP-SGD through Opacus, components/training/privacy.py): per-sample
    gradients clipped to `max_grad_norm`, Gaussian noise calibrated so that `train.epochs` epochs of
    Poisson-sampled batches spend at most (`target_epsilon`, `target_delta`)."""

    enabled: bool = False
    target_epsilon: Annotated[float, Field(gt=0.0)] = 8.0
    target_delta: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-5  # must be below 1 / (training rows)
    max_grad_norm: Annotated[float, Field(gt=0.0)] = 1.0  # per-sample L2 clipping bound C
    accountant: Literal["rdp", "prv", "gdp"] = "rdp"


class TrainConfig(Strict):
    """Optimisation settings shared by all families (a family block may override any of them)."""

    seed: int = 42
    device: Literal["auto", "cpu", "cuda"] = "auto"
    optimizer: Literal["sgd", "momentum", "rmsprop", "adam", "adamw"] = "adam"  # adamw: decoupled decay
    lr: Annotated[float, Field(gt=0.0)] = 1e-3
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9  # used by `momentum` and `rmsprop`
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    batch_size: PositiveInt = 32
    epochs: PositiveInt = 40
    patience: PositiveInt = 8  # early stopping: epochs without a val-loss improvement
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    # Learning-rate schedule, stepped per batch: none (constant `lr`) | onecycle (warm up to `lr` over the first
    # `warmup` share of the steps, then anneal; Smith 2018) | cosine (from `lr` down to 0 over all epochs).
    schedule: Literal["none", "onecycle", "cosine"] = "none"
    warmup: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25  # onecycle: share of the steps spent warming up
    channels_last: bool = False  # image batches in NHWC memory order (faster conv + pool on CPU, same values)
    progress: bool = True
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype; fp16 adds a GradScaler
    compile: bool = False  # torch.compile the model
    nproc: PositiveInt = 1  # > 1: DDP in that many processes per node, through torchrun
    # train in one child process (torchrun) even when nproc is 1: a killed trainer then fails only the flow's
    # task, whose retry resumes. Off: the flow trains in its own process (no re-import, no process start)
    isolate: bool = False
    resume: bool = True  # continue from the state a killed run left (train --resume-dir)
    fp32_reference: bool = False  # bf16/fp16 runs: also train (or find) an fp32 run and log fp32_delta_* against it
    clip_grad_norm: Annotated[float, Field(gt=0.0)] | None = None  # clip the global gradient norm; null: no clipping
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)  # DP-SGD; a family block replaces it whole


class RobustnessConfig(Strict):
    """Perturbed copies of the test split (components/trust/robustness.py): `robust_<metric>_<perturbation>`.
    A strength of 0 leaves that perturbation out; only those of the family's data kind apply."""

    enabled: bool = True
    seeds: PositiveInt = 3  # each figure is the mean over this many seeded draws
    image_noise: Annotated[float, Field(ge=0.0)] = 0.5  # Gaussian sigma, in train pixel stds
    image_shift: Annotated[float, Field(ge=0.0)] = 1.0  # up to this many pixels along each axis
    image_rotation: Annotated[float, Field(ge=0.0)] = 15.0  # up to this many degrees either way
    text_typos: Fraction = 0.1  # share of words given one character typo
    text_word_drop: Fraction = 0.2  # share of words dropped
    tabular_noise: Annotated[float, Field(ge=0.0)] = 0.1  # Gaussian sigma, in each column's train std


class EvaluateConfig(Strict):
    """Scoring of the held-out test split: metrics with bootstrap CIs, robustness, membership inference."""

    batch_size: PositiveInt = 1024
    robustness: RobustnessConfig = Field(default_factory=RobustnessConfig)
    membership_inference: bool = True  # loss-threshold attack, train rows vs test rows: mia_auc, mia_advantage
    ci_samples: Annotated[int, Field(ge=0)] = 200  # bootstrap resamples for the 95% CIs in details.json (0: none)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)  # forecasting families only


class ExplainConfig(Strict):
    """Explanations computed at registration (components/trust/explain.py) on a probe set drawn from the test
    split: seeded and class-balanced, so every version of a model is explained on the same rows."""

    enabled: bool = True
    rows: PositiveInt = 64  # probe rows (a series explains the windows of its test split)
    seed: int = 0
    n_steps: PositiveInt = 32  # Integrated Gradients steps to start with; doubled while the error is too large
    tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01  # relative IG completeness error accepted
    second_method: Literal["saliency", "occlusion"] = "saliency"  # images: the method beside IG
    deletion_k: PositiveInt | None = None  # inputs deleted in the deletion test; null: 8 pixels, 3 tokens/features
    per_class: PositiveInt = 3  # images: probe images per class PNG


class RegisterConfig(Strict):
    """Registration in the MLflow model registry and the absolute gate for the `staging` alias."""

    model_name: str | None = None  # default: "<dataset>-<family>", e.g. digits-cnn
    alias: AliasName = "staging"
    # metric -> bound, from reports/metrics.json; `min` for higher-is-better, `max` for lower-is-better.
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    # Also export the network to ONNX and attach it to the version (scored with onnxruntime where installed),
    # after checking it against PyTorch on the test split: a largest absolute difference of the raw outputs
    # over `onnx_tolerance` fails registration (components/inference/onnxrt.py).
    onnx: bool = False
    onnx_tolerance: float = Field(default=1.0e-4, gt=0.0)


class PromoteConfig(Strict):
    """The champion/challenger gate for moving `production` (keel promote, promotion_flow).

    The metric and its absolute bar default to the family's `register` bound (first `min` key: higher is
    better; else first `max` key: lower is better), so each task gates on its own headline metric.
    """

    alias: AliasName = "production"
    source_alias: AliasName = "staging"  # the version `keel promote <model>` takes when --version is not given
    metric: str | None = None  # null: the family's register bound metric
    higher_is_better: bool | None = None  # null: from where the metric sits (register.min / register.max)
    min_absolute: float | None = None  # null: the register bound; the bar a first production version must meet
    min_improvement: Annotated[float, Field(ge=0.0)] = 0.0  # over production, in metric units
    test: Literal["auto", "bootstrap", "mcnemar"] = "auto"  # auto: McNemar for classification accuracy
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    bootstrap_samples: Annotated[int, Field(ge=100)] = 1000
    seed: int = 0
    # Trust floors: robust_<metric>_<perturbation> -> minimum, re-measured by the gate on the frozen test split
    # (perturbations as in evaluate.robustness); a challenger below one is refused whatever its accuracy.
    robustness: dict[str, float] = Field(default_factory=dict)
    max_epsilon: Annotated[float, Field(gt=0.0)] | None = None  # set: only DP-trained versions spending <= this
    approval_required: bool = False  # promotion_flow pauses for a human decision before moving the alias
    approval_timeout_s: PositiveInt = 3600


# ---- sections --------------------------------------------------------------------------------

# params.yaml section -> attribute of Params (`validate` and `register` would shadow pydantic/ABC names)
SECTIONS: dict[str, str] = {"ingest": "ingest", "validate": "validation", "features": "features",
                            "train": "train", "evaluate": "evaluate", "register": "registration",
                            "promote": "promote", "monitor": "monitor"}


def section_schema(section: str, kind: str) -> type[Strict]:
    """The config class of `section` for a family of data kind `kind` (media kinds: components/config/media.py)."""
    from components.config.media import MEDIA  # imported here: media.py extends this module's classes

    if section in MEDIA.get(kind, {}):
        return MEDIA[kind][section]
    if section in ("validate", "features"):
        return (VALIDATE_CONFIGS if section == "validate" else FEATURES_CONFIGS)[kind]
    return {"ingest": IngestConfig, "train": TrainConfig, "evaluate": EvaluateConfig, "register": RegisterConfig,
            "promote": PromoteConfig, "monitor": MonitorConfig}[section]
