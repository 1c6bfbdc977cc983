"""MatrixGate (a request of numbers decided on a float matrix) says yes only where SuiteCheck passes the same
rows, and passes the good requests; where it cannot decide it says no (the server then runs SuiteCheck)."""

import numpy as np
import pandas as pd
import pytest

from components.config.sections import ImageValidateConfig, TabularValidateConfig
from components.data.matrixgate import MatrixGate
from components.data.suitecheck import SuiteCheck

DIGITS = {"kind": "image", "image_shape": [8, 8], "pixel_checks": "profile"}  # as keel serve runs them
TAB = TabularValidateConfig(columns=["age", "bmi", "income"], ranges={"age": [0, 120], "bmi": [10, 60]}, min_rows=1)


def both(check: SuiteCheck, gate: MatrixGate, matrix: np.ndarray) -> tuple[bool, bool]:
    """The gate's answer and the suite's verdict on the same rows."""
    return gate(matrix), check(pd.DataFrame(matrix, columns=gate.columns)).success


def broken(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The matrix with one value made NaN, ±inf, huge, negative or just past a bound."""
    out = matrix.copy()
    i, j = rng.integers(len(out)), rng.integers(out.shape[1])
    out[i, j] = rng.choice([np.nan, np.inf, -np.inf, 1e9, -1.0, -1e-12, 16.000001, 121.0, 9.99, 60.5])
    return out


@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_the_gate_passes_only_what_the_suite_passes(digits_frame, kind):
    rng = np.random.default_rng(0)
    if kind == "image":
        cfg, manifest = ImageValidateConfig(min_rows=1), DIGITS
        columns = [c for c in digits_frame.columns if c != "label"]
        good = digits_frame[columns].to_numpy(dtype=np.float64)
    else:
        cfg, manifest, columns = TAB, {"kind": "tabular"}, list(TAB.columns)
        good = np.column_stack([rng.uniform(0, 120, 500), rng.uniform(10, 60, 500), rng.normal(0, 1e6, 500)])
    check = SuiteCheck(cfg, manifest)
    gate = MatrixGate(check, columns)
    assert gate.enabled, gate.why
    for n in (1, 1, 32, 32, 300):
        rows = good[rng.choice(len(good), n, replace=False)]
        assert both(check, gate, rows) == (True, True)
        bad = broken(rows, rng)
        said, truth = both(check, gate, bad)
        assert said == truth, bad
    assert not gate(good[:0])  # no rows: the suite's row count fails
    assert not gate(good[:3, :-1])  # not the model's columns: never decided here


def test_a_suite_it_cannot_decide_turns_the_gate_off():
    cfg = TAB.model_copy(update={"ranges": {"nope": [0, 1]}})  # a problem of the suite's own
    gate = MatrixGate(SuiteCheck(cfg, {"kind": "tabular"}), list(TAB.columns))
    assert not gate.enabled and not gate(np.ones((2, 3)))
    series = MatrixGate(SuiteCheck(TAB, {"kind": "series"}), ["value"])
    assert not series.enabled and "derived" in series.why
