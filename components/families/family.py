"""The family declaration: one object per model family, built-in or from an installed package.

A family is a model file (its config class + nn.Module + `build`) and one `Family` naming it. Keel reads
nothing else about a family: its data kind picks the transform and the GX suite, its task the split,
metrics, plots and baseline, and `defaults` fill its params sections (params.yaml's `<section>.<family>`
blocks override them). See docs/adding-a-family.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.core.strict import Strict
from components.families import search as _search

# the data kinds Keel can ingest, check and transform (image: pixel columns; image_file: encoded image files)
KINDS = ("image", "tabular", "series", "text", "image_file", "detection", "video")
TASKS = ("classification", "regression", "clustering", "forecasting", "text_classification", "anomaly", "detection")
SECTIONS = ("ingest", "validate", "features", "train", "evaluate", "register", "promote", "monitor")


@dataclass(frozen=True)
class Family:
    """What Keel needs to know to run a model family.

    build(config, input_shape, n_outputs, **transform.model_kwargs()) -> nn.Module with
    forward(x, y=None) -> (output, loss or None).
    """

    name: str
    kind: str  # data kind: one of KINDS
    task: str  # one of TASKS
    config: type[Strict]  # the architecture block `train.<name>`
    build: Callable[..., Any]
    # The model's name in the registered name `<dataset>-<architecture>` when the family reuses another's
    # architecture (fashion_cnn is the cnn on Fashion-MNIST -> fashion-mnist-cnn). None: the family's name.
    architecture: str | None = None
    # params.yaml-shaped defaults, per section: {"ingest": {"source": ...}, "train": {"lr": ..., <arch keys>},
    # "register": {"min": {"accuracy": 0.9}}}. params.yaml's `<section>.<name>` block overrides them.
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Bundled data sets the family brings, by `ingest.source` name: name -> () -> raw DataFrame.
    sources: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    # The hyperparameter search space of `keel tune <name>`: train key -> Float | Int | Choice
    # (components/families/search.py). Empty: the family cannot be tuned (keel tune says so).
    search: Mapping[str, _search.Dim] = field(default_factory=dict)
    # A neural baseline trained in the same run by the same loop on the same data: build(config, input_shape,
    # n_outputs, **extra) like `build`; evaluate scores it next to the model (`baseline_<metric>`).
    baseline: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        problems = [f"kind {self.kind!r} is not one of {KINDS}"] if self.kind not in KINDS else []
        problems += [f"task {self.task!r} is not one of {TASKS}"] if self.task not in TASKS else []
        problems += [f"defaults has unknown section(s) {sorted(set(self.defaults) - set(SECTIONS))}"] \
            if set(self.defaults) - set(SECTIONS) else []
        problems += _search.check(dict(self.search))
        if not (isinstance(self.config, type) and issubclass(self.config, Strict)):
            problems.append("config must be a Strict subclass (components.core.strict)")
        if problems:
            raise ValueError(f"family {self.name!r}: " + "; ".join(problems))

    @property
    def registered_as(self) -> str:
        """The model part of the registered name (the architecture's, when the family reuses one)."""
        return self.architecture or self.name
