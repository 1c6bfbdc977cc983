"""Inferred GX suites (components/data/suite_infer.py, suite_file.py) run by Keel's validator: a clean train
split and a held-out sample pass, corruption fails naming the column, hand-written expectations always win,
the JSON is stable for review, and the validate stage runs `validate.suite: both` with the suite in Data Docs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from components.config.monitor import SuiteInferConfig
from components.config.sections import ImageValidateConfig, TabularValidateConfig, TextValidateConfig
from components.data.suite_file import COVERAGE, PIXEL_MAX, InferredSuite, SuiteChoice, derived_frame, dumps, merge
from components.data.suite_infer import infer_suite
from components.data.validator import validate

TAB = TabularValidateConfig(columns=["age", "bmi", "city"], labels=[0, 1])


def _tabular(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(50, 10, n).round(), "bmi": rng.gamma(9, 3, n),
                         "city": rng.choice(["a", "b", "c"], n), "label": rng.integers(0, 2, n)})


def check(df: pd.DataFrame, suite: InferredSuite, mode: str = "inferred", cfg=TAB, kind: str = "tabular"):
    return validate(df, cfg, {"kind": kind, "image_shape": [28, 28]}, suite=SuiteChoice(mode=mode, inferred=suite))


@pytest.fixture(scope="module")
def inferred() -> InferredSuite:
    return infer_suite(_tabular(2000, 0), "tabular", SuiteInferConfig(), "tab")


def test_suite_json_is_stable_and_round_trips(inferred, tmp_path):
    path, _ = inferred.write(tmp_path / "tab.json")
    back = InferredSuite.read(path)
    assert back.suite == inferred.suite and dumps(back.suite) == path.read_text()
    again = infer_suite(_tabular(2000, 0), "tabular", SuiteInferConfig(), "tab")
    assert dumps(again.suite) == path.read_text()  # deterministic: a re-inference diff shows only what moved
    types = {(e["type"], e["kwargs"].get("column")) for e in inferred.suite["expectations"]}
    assert {("expect_column_values_to_be_in_set", "city"), ("expect_column_values_to_be_in_set", "label"),
            ("expect_column_quantile_values_to_be_within", "bmi"), ("expect_table_row_count_to_be_between", None)} \
        <= types
    assert all("id" not in e and e["meta"]["why"] for e in inferred.suite["expectations"])
    json.dumps(inferred.suite, allow_nan=False)  # plain numbers only


def test_train_and_heldout_pass_corruption_fails_naming_the_column(inferred):
    assert check(_tabular(2000, 0), inferred).success
    assert check(_tabular(500, 1), inferred).success  # a clean held-out sample
    bad = _tabular(500, 2)
    bad.loc[:9, "bmi"] = np.inf
    bad.loc[:4, "city"] = "zz"
    report = check(bad, inferred)
    assert not report.success and sorted({f.column for f in report.failures}) == ["bmi", "city"]


def test_hand_written_always_wins(inferred):
    hand = [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "bmi", "min_value": 0,
                                                                       "max_value": 1e6}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "city",
                                                                      "value_set": ["a", "b", "c", "zz"]}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "age"}, "meta": {"owner": "lead"}}]
    merged = merge(inferred.suite, hand)
    keys = [(e["type"], e["kwargs"].get("column")) for e in merged["expectations"]]
    assert len(keys) == len(set(keys))  # one expectation per (type, column)
    by_key = dict(zip(keys, merged["expectations"], strict=True))
    assert by_key[("expect_column_values_to_be_between", "bmi")]["kwargs"]["max_value"] == 1e6
    assert by_key[("expect_column_values_to_be_unique", "age")]["meta"]["owner"] == "lead"
    assert by_key[("expect_column_quantile_values_to_be_within", "bmi")]["meta"]["keel_origin"] == "inferred"
    assert merged["meta"]["keel_merge"]["inferred_overridden"] == [
        "expect_column_values_to_be_between(bmi)", "expect_column_values_to_be_in_set(city)"]
    off = merge(inferred.suite, [{"type": "expect_column_quantile_values_to_be_within", "kwargs": {"column": "bmi"},
                                  "meta": {"keel_disable": True}}])
    kept = {(e["type"], e["kwargs"].get("column")) for e in off["expectations"]}
    assert ("expect_column_quantile_values_to_be_within", "bmi") not in kept
    assert ("expect_column_quantile_values_to_be_within", "age") in kept


def test_both_mode_runs_params_checks_over_inferred_twins():
    """validate.suite: both. The params suite's bmi range replaces the inferred one; it has no age range, so
    the inferred one still refuses ages far outside the train split's."""
    numeric = infer_suite(_tabular(2000, 0).drop(columns="city"), "tabular", SuiteInferConfig(), "num")
    cfg = TabularValidateConfig(columns=["age", "bmi"], labels=[0, 1], ranges={"bmi": [0, 500]})
    df = _tabular(500, 3).drop(columns="city")
    df.loc[:9, "bmi"] = 95.0  # 2 % of rows outside the inferred range (mostly 0.99), inside the hand-written one
    assert [f.column for f in check(df, numeric, cfg=cfg).failures] == ["bmi"]
    report = check(df, numeric, mode="both", cfg=cfg)
    assert report.success, [f.describe() for f in report.failures]
    df.loc[:9, "age"] = 500.0
    assert {f.column for f in check(df, numeric, mode="both", cfg=cfg).failures} == {"age"}


def test_text_suite_checks_vocabulary_coverage():
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(300)])
    zipf = 1 / np.arange(1, 301)

    def make(n: int) -> pd.DataFrame:
        texts = [" ".join(rng.choice(words, rng.integers(3, 12), p=zipf / zipf.sum())) for _ in range(n)]
        return pd.DataFrame({"text": texts, "label": rng.choice(["pos", "neg"], n)})

    train = make(2000)
    s = infer_suite(train, "text", SuiteInferConfig(), "txt")
    cfg = TextValidateConfig(labels=["neg", "pos"])
    assert check(make(300), s, cfg=cfg, kind="text").success
    foreign = make(300).assign(text=[f"zz{i} qq{i} w0" for i in range(300)])  # 2 of 3 tokens unknown
    assert derived_frame(foreign, s.derived)[COVERAGE].mean() == pytest.approx(1 / 3)
    report = check(foreign, s, cfg=cfg, kind="text")
    assert COVERAGE in {f.column for f in report.failures}


def test_wide_images_are_checked_row_wise():
    rng = np.random.default_rng(0)
    cols = [f"px_{i}" for i in range(784)]

    def make(n: int) -> pd.DataFrame:
        return pd.DataFrame(rng.integers(0, 256, (n, 784)).astype(float), columns=cols).assign(
            label=rng.integers(0, 10, n))

    s = infer_suite(make(400), "image", SuiteInferConfig(), "wide")
    assert len(s.suite["expectations"]) < 30  # not 2 x 784 per-pixel expectations
    cfg = ImageValidateConfig(pixel_max=255)
    assert check(make(150), s, cfg=cfg, kind="image").success
    bad = make(150)
    bad.loc[:3, "px_500"] = 999.0
    assert PIXEL_MAX in {f.column for f in check(bad, s, cfg=cfg, kind="image").failures}
