"""The one strict params model: a section per stage, `train.<family>` subsections.

`load_params(path)` is the only YAML reader. Unknown or mistyped keys fail loudly with the dotted key
named. Config models are frozen: stages receive only their own section.

Families: `model:` selects one. Inside any stage section, a block named after a family holds that
family's settings: keys that the section also has override it, the others are the family's own
(`train.cnn.channels` is the CNN's architecture; `train.linear.lr` overrides `train.lr` for linear).
Which keys a block may hold depends on the family's data kind (image, tabular, ...). Every family's
view is validated on load, not only the selected one, so a typo anywhere fails at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from components.errors import ParamsError
from components.io import sha256_json

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class Strict(BaseModel):
    """Base for every params section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


# ---- model families (architecture blocks, `train.<family>`) ----------------------------------


class CnnConfig(Strict):
    """Conv blocks (conv-ReLU per entry of `channels`, max-pool every `pool_every` blocks) + MLP head."""

    channels: list[PositiveInt] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: PositiveInt = 3
    pool_every: PositiveInt = 1
    hidden: int = Field(128, ge=0)  # 0: no hidden layer in the head
    dropout: float = Field(0.25, ge=0.0, lt=1.0)
    batch_norm: bool = True


class LinearConfig(Strict):
    """Linear regression: one affine layer on standardised inputs (no architecture choices)."""


class RnnConfig(Strict):
    """Row-wise recurrent classifier: one image row per time step (components/models/rnn.py)."""

    cell: Literal["rnn", "gru", "lstm"] = "gru"
    hidden: PositiveInt = 128
    layers: PositiveInt = 1
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # on the last state (and between layers when layers > 1)


class ClusteringConfig(Strict):
    """Autoencoder (MLP encoder -> `embedding` -> mirrored decoder) trained on reconstruction, then KMeans on
    the embedding in `finalize`."""

    n_clusters: PositiveInt = 10
    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 128], min_length=1)
    embedding: PositiveInt = 10
    noise: float = Field(0.5, ge=0.0)  # denoising: Gaussian noise (std, standardised units) added while training
    n_init: PositiveInt = 20  # KMeans restarts
    kmeans_seed: int = 42


class ForecastConfig(Strict):
    """GRU/LSTM over the input window -> `horizon` values at once (relative to the window's last value)."""

    cell: Literal["gru", "lstm"] = "gru"
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # between stacked layers


class TextGruConfig(Strict):
    """Embedding -> (bi)GRU over packed sequences -> max/mean pooling over real tokens -> linear."""

    embedding_dim: PositiveInt = 128
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    bidirectional: bool = True
    pooling: Literal["max", "mean", "maxmean", "last"] = "maxmean"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)  # on embeddings and on the pooled vector
    token_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # training only: whole tokens zeroed


class AnomalyConfig(Strict):
    """Autoencoder (encoder `hidden` -> `latent`, mirrored decoder); score = per-row reconstruction MSE."""

    hidden: list[PositiveInt] = Field(default_factory=lambda: [64, 32], min_length=1)
    latent: PositiveInt = 4
    train_on: Literal["normal", "all"] = "normal"  # reconstruction loss over normal rows only, or all rows
    threshold: Literal["f1", "quantile"] = "f1"  # pick on validation: max F1, or a quantile of normal scores
    quantile: float = Field(0.99, gt=0.0, lt=1.0)  # for threshold: quantile


class FamilyInfo(NamedTuple):
    """What params and the light stages need to know about a family (its module lives in models/)."""

    kind: str  # data kind: image | tabular | series
    task: str  # classification | regression | clustering | forecasting
    arch: type[Strict]  # the `train.<family>` architecture block
    # The architecture's name in MODELS and in the registered name `<dataset>-<architecture>`, when a
    # family reuses another's (fashion_cnn is `cnn` on Fashion-MNIST -> fashion-mnist-cnn). None: the family.
    architecture: str | None = None


FAMILY_INFO: dict[str, FamilyInfo] = {
    "cnn": FamilyInfo("image", "classification", CnnConfig),
    "linear": FamilyInfo("tabular", "regression", LinearConfig),
    "rnn": FamilyInfo("image", "classification", RnnConfig),
    "fashion_cnn": FamilyInfo("image", "classification", CnnConfig, architecture="cnn"),
    "clustering": FamilyInfo("image", "clustering", ClusteringConfig),
    "forecasting": FamilyInfo("series", "forecasting", ForecastConfig),
    "text_gru": FamilyInfo("text", "text_classification", TextGruConfig),
    "anomaly": FamilyInfo("tabular", "anomaly", AnomalyConfig),
}
FAMILIES: tuple[str, ...] = tuple(FAMILY_INFO)


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


# ---- the whole file --------------------------------------------------------------------------

# params.yaml section -> attribute of Params (`validate` and `register` would shadow pydantic/ABC names)
SECTIONS: dict[str, str] = {"ingest": "ingest", "validate": "validation", "features": "features",
                            "train": "train", "evaluate": "evaluate", "register": "registration",
                            "promote": "promote"}


def section_schema(section: str, family: str) -> type[Strict]:
    """The config class a section resolves to for `family`."""
    kind = FAMILY_INFO[family].kind
    return {"ingest": IngestConfig, "validate": VALIDATE_CONFIGS[kind], "features": FEATURES_CONFIGS[kind],
            "train": TrainConfig, "evaluate": EvaluateConfig, "register": RegisterConfig,
            "promote": PromoteConfig}[section]


class Params(BaseModel):
    """params.yaml resolved for the selected family: each stage's config, ready to pass to it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    model: str
    kind: str
    task: str
    ingest: IngestConfig
    validation: ValidateConfig
    features: FeaturesConfig
    train: TrainConfig
    arch: Strict
    evaluate: EvaluateConfig
    registration: RegisterConfig
    promote: PromoteConfig

    def registered_name(self, dataset: str) -> str:
        """The MLflow registered-model name: `register.model_name`, else `<dataset>-<architecture or family>`."""
        return self.registration.model_name or f"{dataset}-{FAMILY_INFO[self.model].architecture or self.model}"

    def to_dict(self) -> dict[str, Any]:
        """The resolved values, in params.yaml's shape (the family's architecture under train.<family>)."""
        out: dict[str, Any] = {"model": self.model}
        for section, attr in SECTIONS.items():
            out[section] = getattr(self, attr).model_dump(mode="json")
        out["train"][self.model] = self.arch.model_dump(mode="json")
        return out

    def digest(self) -> str:
        """sha256 of the resolved params: what this family's model is actually trained with."""
        return sha256_json(self.to_dict())


def load_params(path: Path | str = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Read and validate params.yaml; `overrides` maps dotted keys to values (like `dvc exp run -S`)."""
    return parse_params(read_params_file(path, overrides), source=str(path))


def read_params_file(path: Path | str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The raw mapping in params.yaml, with dotted-key overrides applied."""
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
    return raw


def parse_params(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate a params mapping for every family; resolve it for the selected one."""
    problems: dict[str, list[str]] = {}  # message -> families it applies to
    for k in sorted(set(raw) - set(SECTIONS) - {"model"}):
        problems[f"{k}: unknown key (sections: model, {', '.join(SECTIONS)})"] = list(FAMILIES)
    model = raw.get("model", "cnn")
    if model not in FAMILY_INFO:
        problems[f"model: unknown family {model!r} (known: {', '.join(FAMILIES)})"] = list(FAMILIES)
    views: dict[str, dict[str, Strict]] = {}
    for family in FAMILIES:
        views[family] = {}
        for section in SECTIONS:
            cfg, errs = _resolve(raw.get(section) or {}, section, family)
            for e in errs:
                problems.setdefault(e, []).append(family)
            views[family].update(cfg or {})
    if problems:
        lines = [m if len(fams) == len(FAMILIES) or f".{fams[0]}." in m else f"{m} [for {', '.join(fams)}]"
                 for m, fams in problems.items()]
        raise ParamsError(f"{source}: invalid params:\n  " + "\n  ".join(lines))
    v = views[model]
    info = FAMILY_INFO[model]
    return Params(model=model, kind=info.kind, task=info.task, arch=v["arch"], **{a: v[s] for s, a in SECTIONS.items()})


def _resolve(section: Any, name: str, family: str) -> tuple[dict[str, Strict] | None, list[str]]:
    """Merge `<name>.<family>` over the shared keys of one section and validate the result."""
    if not isinstance(section, dict):
        return None, [f"{name}: must be a mapping, got {type(section).__name__}"]
    shared = {k: v for k, v in section.items() if k not in FAMILY_INFO}
    block = section.get(family) or {}
    if not isinstance(block, dict):
        return None, [f"{name}.{family}: must be a mapping, got {type(block).__name__}"]
    schema = section_schema(name, family)
    own = {k: v for k, v in block.items() if k in schema.model_fields}
    out: dict[str, Strict] = {}
    errors = _validate(schema, shared | own, name, family, set(own))
    if name == "train":
        arch = {k: v for k, v in block.items() if k not in schema.model_fields}
        errors += _validate(FAMILY_INFO[family].arch, arch, name, family, set(arch), out, "arch")
    else:
        unknown_in_block = set(block) - set(own)
        errors += [f"{name}.{family}.{k}: unknown key for a {FAMILY_INFO[family].kind} family" for k in
                   sorted(unknown_in_block)]
    if not errors:
        out[name] = schema.model_validate(shared | own)
    return (None if errors else out), errors


def _validate(schema: type[Strict], data: dict[str, Any], name: str, family: str, from_block: set[str],
              out: dict[str, Strict] | None = None, key: str | None = None) -> list[str]:
    try:
        obj = schema.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            in_block = (loc and loc[0] in from_block) or err["type"] == "missing"  # a family must supply it
            where = f"{name}.{family}" if in_block else name
            dotted = ".".join([where, *loc]) if loc else where
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            got = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {err.get('input')!r})"
            problems.append(f"{dotted}: {msg}{got}")
        return problems
    if out is not None and key is not None:
        out[key] = obj
    return []


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ParamsError(f"override {dotted}: {p} is not a section")
    node[leaf] = value
