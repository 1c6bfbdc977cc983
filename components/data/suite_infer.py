"""Infer a Great Expectations 1.x suite from a train split (GX 1.x has no profilers). `keel suite infer` writes
it (components/data/suite_file.py); `validate.suite: inferred | both` runs it.

Per column, by the family's data kind:
  numeric      exists, numeric type, not null (or `mostly` = 1 - train null share - null_slack), values within
               [min, max] widened by `range_margin` x range for `range_mostly` of the rows (a non-negative column
               stays >= 0), column min/max within +-float max (finite), quantiles within the train quantiles at
               q -+ slack, mean within mean -+ slack (both slacks: `z` standard errors of the difference between
               the train split and a batch of `min_batch_rows`);
  categorical  strings and booleans with <= max_categories values, and `label` when it has few values: value
               set, not null / mostly;
  image        the pixel columns: column count (the shape), each pixel not null and within the train split's
               global pixel range; wider than 256 pixels: range and nulls on derived row-wise min/max/null-count
               columns instead; plus the derived per-row mean intensity (quantiles, mean): brightness shifts;
  text         `text`: string type, not null, not blank, character lengths; derived token count and vocabulary
               coverage (tokens seen >= text_min_freq times in train; its lower bound is the coverage measured
               on held-out halves of train, so a clean batch passes);
  series       `timestamp` not null, unique, increasing; `value` as numeric;
  table        row count in [min_batch_rows, max_rows], the exact column set.
Every expectation's `meta.why` says where its bounds come from.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from components.config.monitor import SuiteInferConfig
from components.core.columns import LABEL, SPLIT, TEXT, TIMESTAMP
from components.data.profile import NUMERIC_TYPES, PER_COLUMN_MAX
from components.data.suite_file import (
    COVERAGE,
    PIXEL_MAX,
    PIXEL_MEAN,
    PIXEL_MIN,
    PIXEL_NULLS,
    TOKENS,
    DerivedSpec,
    InferredSuite,
    derived_frame,
    normalise,
    tokenize,
)
from components.data.suites import BLANK, GAP

FLOAT_MAX = float(np.finfo(np.float64).max)  # min/max within +-FLOAT_MAX: the column is finite


def _exp(etype: str, why: str, **kwargs: Any) -> dict[str, Any]:
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k in ("min_value", "max_value")}
    return {"type": etype, "kwargs": kwargs, "meta": {"keel_origin": "inferred", "why": why},
            "notes": f"inferred by keel suite infer: {why}"}  # Data Docs show notes


def _num(x: float) -> float | int:
    """A JSON-friendly number: integers stay integers, floats keep 10 significant digits."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else float(f"{x:.10g}")


def _floor(x: float) -> float | int:
    return _num(math.floor(x * 1e6) / 1e6)


def _ceil(x: float) -> float | int:
    return _num(math.ceil(x * 1e6) / 1e6)


def _nulls(col: str, s: pd.Series, cfg: SuiteInferConfig) -> list[dict[str, Any]]:
    share = float(s.isna().mean())
    if share == 0:
        return [_exp("expect_column_values_to_not_be_null", "no nulls in train", column=col)]
    return [_exp("expect_column_values_to_not_be_null", f"train null share {share:.4f} + slack {cfg.null_slack}",
                 column=col, mostly=round(max(0.0, 1.0 - share - cfg.null_slack), 6))]


def _numeric(col: str, s: pd.Series, cfg: SuiteInferConfig, with_range: bool = True) -> list[dict[str, Any]]:
    out = [_exp("expect_column_values_to_be_in_type_list", f"train dtype {s.dtype}", column=col,
                type_list=NUMERIC_TYPES)] + _nulls(col, s, cfg)
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return out
    lo, hi, m = float(x.min()), float(x.max()), len(x)
    if with_range:
        width = (hi - lo) if hi > lo else max(abs(hi), 1.0)
        low, high = lo - cfg.range_margin * width, hi + cfg.range_margin * width
        low = max(low, 0.0) if lo >= 0 else low
        out.append(_exp("expect_column_values_to_be_between",
                        f"train range [{lo:.6g}, {hi:.6g}] widened by {cfg.range_margin:.0%} of its width, for "
                        f"{cfg.range_mostly} of the rows (a clean batch can pass train's extremes)", column=col,
                        min_value=_floor(low), max_value=_ceil(high),
                        mostly=cfg.range_mostly if cfg.range_mostly < 1 else None))
        out += [_exp("expect_column_min_to_be_between", "finite: no -inf", column=col, min_value=-FLOAT_MAX,
                     max_value=None),
                _exp("expect_column_max_to_be_between", "finite: no +inf", column=col, min_value=None,
                     max_value=FLOAT_MAX)]
    se = math.sqrt(1.0 / m + 1.0 / cfg.min_batch_rows)
    ranges = []
    for q in cfg.quantiles:
        slack = cfg.z * math.sqrt(q * (1 - q)) * se
        ranges.append([_floor(np.quantile(x, max(q - slack, 0.0), method="lower")),
                       _ceil(np.quantile(x, min(q + slack, 1.0), method="higher"))])
    out.append(_exp("expect_column_quantile_values_to_be_within",  # GX's _between, with a result GX can store
                    f"train quantiles at q -+ {cfg.z:g} x sqrt(q(1-q)) x sqrt(1/{m} + 1/{cfg.min_batch_rows})",
                    column=col, quantile_ranges={"quantiles": [float(q) for q in cfg.quantiles],
                                                 "value_ranges": ranges}))
    mean, sd = float(x.mean()), float(x.std())
    slack = cfg.z * sd * se if sd > 0 else cfg.range_margin * max(abs(mean), 1.0)
    out.append(_exp("expect_column_mean_to_be_between",
                    f"train mean {mean:.6g} -+ {cfg.z:g} x sd {sd:.4g} x sqrt(1/{m} + 1/{cfg.min_batch_rows})",
                    column=col, min_value=_floor(mean - slack), max_value=_ceil(mean + slack)))
    return out


def _categorical(col: str, s: pd.Series, cfg: SuiteInferConfig) -> list[dict[str, Any]]:
    values = sorted(s.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    values = [v.item() if hasattr(v, "item") else v for v in values]
    return [_exp("expect_column_values_to_be_in_set", f"the {len(values)} values seen in train", column=col,
                 value_set=values)] + _nulls(col, s, cfg)


def _is_categorical(col: str, s: pd.Series, cfg: SuiteInferConfig) -> bool:
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.nunique(dropna=True) <= cfg.max_categories
    return col == LABEL and s.nunique(dropna=True) <= cfg.max_categories


def _image(train: pd.DataFrame, frame: pd.DataFrame, spec: DerivedSpec, cfg: SuiteInferConfig,
           width: int) -> list[dict[str, Any]]:
    px = train[spec.pixels].to_numpy(dtype=float)
    lo, hi = _num(np.nanmin(px)), _num(np.nanmax(px))
    exps = [_exp("expect_table_column_count_to_equal", f"{len(spec.pixels)} pixels (+ label, split)", value=width)]
    if len(spec.pixels) <= PER_COLUMN_MAX:
        for c in spec.pixels:
            exps += [_exp("expect_column_values_to_not_be_null", "pixels are never null", column=c),
                     _exp("expect_column_values_to_be_between", f"train pixel range [{lo}, {hi}] (all pixels)",
                          column=c, min_value=lo, max_value=hi)]
    else:  # wide images: the range on row-wise min/max (a failure names rows, not the pixel column)
        exps += [_exp("expect_column_values_to_be_between", f"train pixel range [{lo}, {hi}] (row minimum)",
                      column=PIXEL_MIN, min_value=lo, max_value=hi),
                 _exp("expect_column_values_to_be_between", f"train pixel range [{lo}, {hi}] (row maximum)",
                      column=PIXEL_MAX, min_value=lo, max_value=hi),
                 _exp("expect_column_values_to_be_between", "pixels are never null (per-row null count)",
                      column=PIXEL_NULLS, min_value=0, max_value=0)]
    return exps + _numeric(PIXEL_MEAN, frame[PIXEL_MEAN], cfg)


def _text(s: pd.Series, frame: pd.DataFrame, cfg: SuiteInferConfig, spec: DerivedSpec) -> list[dict[str, Any]]:
    out = [_exp("expect_column_values_to_be_of_type", f"train dtype {s.dtype}", column=TEXT, type_=str(s.dtype))]
    out += _nulls(TEXT, s, cfg)
    texts = s.dropna().astype(str)
    if not texts.str.match(BLANK).any():
        out.append(_exp("expect_column_values_to_not_match_regex", "no blank texts in train", column=TEXT,
                        regex=BLANK))
    lengths = texts.str.len()
    out.append(_exp("expect_column_value_lengths_to_be_between",
                    f"train lengths [{lengths.min()}, {lengths.max()}] chars, max widened by {cfg.range_margin:.0%}, "
                    f"for {cfg.range_mostly} of the rows", column=TEXT, min_value=1 if lengths.min() > 0 else None,
                    max_value=int(math.ceil(lengths.max() * (1 + cfg.range_margin))),
                    mostly=cfg.range_mostly if cfg.range_mostly < 1 else None))
    out += _numeric(TOKENS, frame[TOKENS], cfg)
    # A held-out batch covers less than train itself (the vocabulary was fitted on train): measure it by
    # fitting on one half and reading the other (both ways), then allow z standard errors.
    idx = np.random.default_rng(0).permutation(len(texts))
    halves = [texts.iloc[idx[: len(idx) // 2]], texts.iloc[idx[len(idx) // 2:]]]
    held = []
    for a, b in (halves, halves[::-1]):
        vocab = set(fit_vocab(a, max(1, cfg.text_min_freq // 2), spec.token_pattern))  # half the data
        for t in b:
            tok = tokenize(t, spec.token_pattern)
            if tok:
                held.append(sum(w in vocab for w in tok) / len(tok))
    if held:
        mean, sd = float(np.mean(held)), float(np.std(held))
        low = mean - cfg.z * sd / math.sqrt(cfg.min_batch_rows) - cfg.coverage_slack
        out += [_exp("expect_column_mean_to_be_between",
                     f"cross-fitted held-out coverage {mean:.4f} - {cfg.z:g} x sd {sd:.3f} / sqrt("
                     f"{cfg.min_batch_rows}) - {cfg.coverage_slack}", column=COVERAGE,
                     min_value=_floor(max(low, 0.0)), max_value=1),
                _exp("expect_column_values_to_be_between", "a share", column=COVERAGE, min_value=0, max_value=1)]
    return out


def fit_vocab(texts: Any, min_freq: int, pattern: str) -> list[str]:
    """Tokens seen at least `min_freq` times, sorted."""
    counts = Counter(w for t in texts for w in tokenize(t, pattern))
    return sorted(w for w, n in counts.items() if n >= min_freq)


def infer_suite(train: pd.DataFrame, kind: str, cfg: SuiteInferConfig, name: str,
                split_column: bool = False) -> InferredSuite:
    """Derive a suite from a train split of data kind `kind`; `split_column`: the raw data it will check also
    carries a predefined `split` column (train / test), which the splits drop."""
    train = train.drop(columns=[SPLIT], errors="ignore")
    cols = [str(c) for c in train.columns]
    spec = DerivedSpec()
    if kind == "image":
        spec.pixels = [c for c in cols if c != LABEL]
    if kind == "text":
        spec.text, spec.vocab = TEXT, fit_vocab(train[TEXT].astype(str), cfg.text_min_freq, spec.token_pattern)
    frame = derived_frame(train, spec)
    # the raw frame validate checks: a predefined split's column; the series' gap column the validator derives
    expected = cols + [SPLIT] * split_column + [GAP] * (kind == "series")
    exps = [_exp("expect_table_row_count_to_be_between", f"min_batch_rows; max {cfg.max_rows or '100 x train rows'}",
                 min_value=cfg.min_batch_rows, max_value=cfg.max_rows or 100 * len(train)),
            _exp("expect_table_columns_to_match_set", "the train split's columns", column_set=sorted(expected),
                 exact_match=True)]
    if split_column:
        exps.append(_exp("expect_column_values_to_be_in_set", "a predefined split", column=SPLIT,
                         value_set=["test", "train"]))
    if kind == "image":
        exps += _image(train, frame, spec, cfg, len(expected))
    for c in cols:
        if c in spec.pixels:
            continue
        s = train[c]
        exps.append(_exp("expect_column_to_exist", "train column", column=c))
        if kind == "text" and c == TEXT:
            exps += _text(s, frame, cfg, spec)
        elif kind == "series" and c == TIMESTAMP:
            exps += [_exp("expect_column_values_to_not_be_null", "timestamps always present", column=c),
                     _exp("expect_column_values_to_be_unique", "one row per timestamp", column=c)]
            if s.is_monotonic_increasing:
                exps.append(_exp("expect_column_values_to_be_increasing", "train is ordered in time", column=c,
                                 strictly=True))
        elif _is_categorical(c, s, cfg):
            exps += _categorical(c, s, cfg)
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            exps += _numeric(c, s, cfg)
        else:
            exps += [_exp("expect_column_values_to_be_of_type", f"train dtype {s.dtype}", column=c,
                          type_=str(s.dtype))] + _nulls(c, s, cfg)
    meta = {"keel": {"inferred_from": {"rows": len(train), "columns": len(cols), "kind": kind,
                                       "sha256": frame_sha256(train)},
                     "config": json.loads(cfg.model_dump_json()), "derived": spec.columns(),
                     "vocab_sha256": hashlib.sha256("\n".join(spec.vocab).encode()).hexdigest() if spec.vocab
                     else None}}
    return InferredSuite(suite=normalise({"name": name, "expectations": exps, "meta": meta}), derived=spec)


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a frame (columns and values)."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()
