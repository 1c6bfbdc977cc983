"""The `monitor` params section: what `keel serve` / `keel predict` log, how `keel suite infer` widens the
bounds it infers, and the drift thresholds of `keel monitor` (their defaults were measured with
bench/drift.py; docs/monitoring.md says how). Not a pipeline stage: no stage reads it, so changing it re-runs
nothing in DVC."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.core.strict import PositiveInt, Strict, check_duration

Share = Annotated[float, Field(gt=0.0, lt=1.0)]


class InferenceLogConfig(Strict):
    """The inference log: what each scored row leaves behind (components/inference/scorelog)."""

    enabled: bool = True
    sample: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0  # fraction of scored rows logged
    max_rows_per_call: PositiveInt = 10_000  # a larger request or chunk: a random sample of this many rows
    max_pending_rows: PositiveInt = 200_000  # rows in the write-ahead buffer; more are dropped, and counted
    flush_s: Annotated[float, Field(gt=0.0)] = 5.0  # the buffer becomes Parquet at least this often
    max_mb: PositiveInt = 1024  # per model; beyond it the oldest days are deleted
    max_input_columns: PositiveInt = 256  # wider inputs (Fashion-MNIST's 784 pixels) are logged as a summary
    embeddings: bool = True  # log the model's embedding of each row (images, text), for the MMD test


class SuiteInferConfig(Strict):
    """`keel suite infer`: how wide the bounds inferred from the train split are. A clean batch of
    `min_batch_rows` rows should pass: quantile and mean bounds allow `z` standard errors of the difference
    between the train split and such a batch."""

    range_margin: Annotated[float, Field(ge=0.0)] = 0.1  # numeric min/max widened by this share of the range
    range_mostly: Annotated[float, Field(gt=0.0, le=1.0)] = 0.99  # rows that must lie in the widened range
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    z: Annotated[float, Field(gt=0.0)] = 4.0
    min_batch_rows: PositiveInt = 100  # the smallest batch the suite is meant for (row-count minimum)
    max_rows: PositiveInt | None = None  # row-count maximum; null: 100 x the train rows
    null_slack: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01  # allowed null share above the train split's
    max_categories: PositiveInt = 20  # strings (and the label) with at most this many values: a value set
    text_min_freq: PositiveInt = 2  # the vocabulary whose coverage is checked: tokens seen this often
    coverage_slack: Annotated[float, Field(ge=0.0)] = 0.02  # extra slack on the mean vocabulary coverage



def check_window(window: str) -> None:
    """`new`, `all` or a duration such as 24h (ValueError naming the setting otherwise)."""
    if window not in ("new", "all"):
        check_duration(window, "window", "new, all or a duration such as 24h or 7D")

class MonitorConfig(Strict):
    """Drift checks (`keel monitor`, monitor_flow). A test fires only when its p-value, corrected within its
    family (the per-column tests; the multivariate tests), is below the family's share of `alpha` AND its
    effect size reaches its threshold: large clean windows do not alarm, small noisy ones neither."""

    window: str = "new"  # new: rows logged since the last check | all | a duration (24h, 7D) back from now
    min_rows: PositiveInt = 100  # a smaller window is reported as too small, never as drift
    reference_rows: PositiveInt = 5000  # test-split rows kept as the version's reference (a seeded sample)
    alpha: Share = 0.05  # false-alarm rate of one whole check
    correction: Literal["holm", "bh"] = "holm"
    columns_alpha_share: Share = 0.5  # the per-column family's share of alpha; the rest: multivariate tests
    # effect-size thresholds: a test fires only at or above its threshold
    ks_min: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1  # numeric column: KS statistic D
    wasserstein_min: Annotated[float, Field(ge=0.0)] = 0.1  # numeric column: W1 / reference std
    psi_min: Annotated[float, Field(ge=0.0)] = 0.1  # numeric column: population stability index
    numeric_effect: Literal["ks", "wasserstein", "psi"] = "ks"  # which one decides numeric columns
    js_min: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1  # categorical column: Jensen-Shannon distance
    domain_auc_min: Annotated[float, Field(ge=0.5, le=1.0)] = 0.6  # domain classifier: cross-validated ROC-AUC
    mmd_min: Annotated[float, Field(ge=0.0)] = 0.005  # the model's embeddings: unbiased MMD^2 (RBF kernel)
    prediction_js_min: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05  # predicted labels: JS distance
    prediction_ks_min: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1  # numeric predictions: KS D
    performance_drop_min: Annotated[float, Field(ge=0.0)] = 0.05  # labelled window: test score - window score
    # test settings
    psi_bins: Annotated[int, Field(ge=2)] = 10
    psi_eps: Annotated[float, Field(gt=0.0)] = 1e-4  # floor of empty-bin shares in PSI
    domain_max_rows: Annotated[int, Field(ge=20)] = 2000  # rows per side for the domain classifier
    domain_folds: Annotated[int, Field(ge=2)] = 5
    mmd_max_rows: Annotated[int, Field(ge=10)] = 500  # rows per side for the MMD test
    mmd_permutations: Annotated[int, Field(ge=20)] = 500
    bootstrap: Annotated[int, Field(ge=100)] = 1000  # performance test on labelled windows
    max_categories: Annotated[int, Field(ge=2)] = 50  # predictions with at most this many values are labels
    seed: int = 0
    log: InferenceLogConfig = InferenceLogConfig()
    suite: SuiteInferConfig = SuiteInferConfig()

    @model_validator(mode="after")
    def _window(self):
        check_window(self.window)
        return self
