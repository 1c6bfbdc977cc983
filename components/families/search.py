"""A family's hyperparameter search space, declared beside its defaults (`Family(search={...})`).

Keys are `train` keys as a family block in params.yaml spells them (`lr`, `batch_size`, or an architecture
key such as `dropout`); `keel tune <family>` (components/tuning) samples each trial's values from these
ranges and proposes the best as `train.<family>.<key>` overrides. Plain data: no Optuna here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Float:
    """A real value in [low, high]; `log`: sampled on a log scale (learning rates, weight decay)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    """An integer in [low, high] in steps of `step` (log: on a log scale; step must be 1 then)."""

    low: int
    high: int
    step: int = 1
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a few values (numbers, strings, or lists such as conv channel widths)."""

    values: tuple[Any, ...]


Dim = Float | Int | Choice


def check(space: dict[str, Any]) -> list[str]:
    """What is wrong with a search space (empty: nothing)."""
    problems = []
    for key, dim in space.items():
        if not isinstance(dim, (Float, Int, Choice)):
            problems.append(f"search[{key!r}] must be a Float, Int or Choice (components/families/search.py)")
        elif isinstance(dim, Choice) and not dim.values:
            problems.append(f"search[{key!r}]: Choice needs at least one value")
        elif not isinstance(dim, Choice) and (dim.low > dim.high or (dim.log and dim.low <= 0)):
            problems.append(f"search[{key!r}]: need low <= high (and low > 0 on a log scale)")
    return problems
