"""Great Expectations suites, one builder per data kind. A builder returns the expectations for a
table's columns, plus any problem it can see without running GX (named like a check).

Wide images (more than PER_COLUMN_MAX pixel columns, e.g. 28x28 = 784) would need thousands of
per-column expectations (minutes in GX); their pixels are checked on a column profile instead
(`PROFILES[kind]`: one row per pixel column with its numeric flag, null count, min and max), and a failure
names the offending pixel columns.

Every numeric column must be finite: a column without a configured range still gets a range check with the
largest float as bounds, which ±inf fails (NaN counts as a null), marked `FINITE` so the failure says so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pandas as pd

from components.config.sections import (
    ImageValidateConfig,
    SeriesValidateConfig,
    TabularValidateConfig,
    TextValidateConfig,
    ValidateConfig,
)
from components.core.columns import LABEL, SPLIT, TEXT, TIMESTAMP, VALUE
from components.data import coco, images, video

PER_COLUMN_MAX = 256  # pixel columns checked one expectation each; wider images use pixel_profile
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]

Suite = tuple[list[Any], list[tuple[str, str]]]  # (expectations, [(check, problem)])
BIG = sys.float_info.max  # the bound of a range check that only asks for finite values
FINITE = {"keel": "values must be finite (no inf or -inf)"}  # meta of such a check; named in its failure


def _finite(column: str, low: float | None = None, high: float | None = None) -> Any:
    """A range check on `column`: the configured bounds, the largest float where none is set (so ±inf fails)."""
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=-BIG if low is None else low,
                                            max_value=BIG if high is None else high,
                                            meta=FINITE if low is None or high is None else None)


def _rows(cfg: ValidateConfig, require_label: bool) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectTableRowCountToBeBetween(min_value=cfg.min_rows if require_label else 1, max_value=cfg.max_rows)]


def _label(require_label: bool, labels: list | None = None, value_range: tuple | None = None) -> list[Any]:
    import great_expectations.expectations as gxe

    if not require_label:
        return []
    exps = [gxe.ExpectColumnToExist(column=LABEL), gxe.ExpectColumnValuesToNotBeNull(column=LABEL)]
    if labels is not None:
        exps.append(gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=list(labels)))
    else:
        exps.append(gxe.ExpectColumnValuesToBeInTypeList(column=LABEL, type_list=NUMERIC_TYPES))
    if value_range is not None or labels is None:  # a numeric label: in its range, or at least finite
        exps.append(_finite(LABEL, *(value_range or (None, None))))
    return exps


def _numeric(column: str, low: float | None, high: float | None) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES),
            gxe.ExpectColumnValuesToNotBeNull(column=column), _finite(column, low, high)]


def image_suite(cfg: ImageValidateConfig, columns: list[str], manifest: dict[str, Any], require_label: bool) -> Suite:
    """Pixel columns (numeric, not null, in [pixel_min, pixel_max]), column count = H*W (+ label)."""
    import great_expectations.expectations as gxe

    exps, problems = _rows(cfg, require_label), []
    shape = manifest.get("image_shape")
    split = SPLIT in columns  # a predefined split (train / test), see components/idx.py
    pixels = [c for c in columns if c not in (LABEL, SPLIT)]
    if split:
        exps.append(gxe.ExpectColumnValuesToBeInSet(column=SPLIT, value_set=["train", "test"]))
    if shape:
        exps.append(gxe.ExpectTableColumnCountToEqual(value=shape[0] * shape[1] + int(require_label) + int(split)))
    else:
        problems.append(("image_shape", f"{len(pixels)} pixel columns is not a square; "
                                        "set ingest.image_shape: [height, width]"))
    exps += _label(require_label, cfg.labels)
    if not profiled(pixels, manifest):
        for c in pixels:
            exps += _numeric(c, cfg.pixel_min, cfg.pixel_max)
    return exps, problems


def profiled(pixels: list, manifest: dict[str, Any] | None) -> bool:
    """Pixels are checked on a column profile: wide images, or when the caller asks (`pixel_checks: profile`,
    batch scoring, where per-column expectations cost more than the model)."""
    return len(pixels) > PER_COLUMN_MAX or (manifest or {}).get("pixel_checks") == "profile"


def pixel_profile(df: pd.DataFrame, cfg: ImageValidateConfig,
                  manifest: dict[str, Any] | None = None) -> tuple[pd.DataFrame, list[Any]] | None:
    """Wide images: a frame with one row per pixel column and its checks (None when checked per column).

    Profile columns: `column` (the pixel column), `pixel_numeric`, `pixel_nulls`, `pixel_min`, `pixel_max`.
    """
    import great_expectations.expectations as gxe

    pixels = [c for c in df.columns if c not in (LABEL, SPLIT)]
    if not profiled(pixels, manifest):
        return None
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in pixels]
    values = df[[c for c, ok in zip(pixels, numeric, strict=True) if ok]]
    profile = pd.DataFrame({"column": [str(c) for c in pixels], "pixel_numeric": numeric,
                            "pixel_nulls": df[pixels].isna().sum().to_numpy()})
    profile["pixel_min"] = profile["column"].map(values.min().rename(str)).astype("float64")
    profile["pixel_max"] = profile["column"].map(values.max().rename(str)).astype("float64")
    return profile, [gxe.ExpectColumnValuesToBeInSet(column="pixel_numeric", value_set=[True]),
                     gxe.ExpectColumnValuesToBeBetween(column="pixel_nulls", min_value=0, max_value=0),
                     gxe.ExpectColumnValuesToBeBetween(column="pixel_min", min_value=cfg.pixel_min),
                     gxe.ExpectColumnValuesToBeBetween(column="pixel_max", max_value=cfg.pixel_max)]


def tabular_suite(cfg: TabularValidateConfig, columns: list[str], manifest: dict[str, Any],
                  require_label: bool) -> Suite:
    """Exactly the configured feature columns (+ label), each numeric, not null and in its range."""
    import great_expectations.expectations as gxe

    expected = list(cfg.columns) + ([LABEL] if require_label else [])
    exps = _rows(cfg, require_label) + [gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True)]
    exps += _label(require_label, cfg.labels, cfg.label_range)
    for c in cfg.columns:
        low, high = cfg.ranges.get(c, (None, None))
        exps += [gxe.ExpectColumnToExist(column=c)] + _numeric(c, low, high)
    unknown = sorted(set(cfg.ranges) - set(cfg.columns))
    problems = [("ranges", f"validate.ranges names columns that are not in validate.columns: {unknown}")] \
        if unknown else []
    return exps, problems


GAP = "days_since_last_value"  # derived column of the series suite


def series_gaps(df: pd.DataFrame, cfg: SeriesValidateConfig) -> pd.DataFrame:
    """Add `days_since_last_value`: per row, the time since the previous row that has a value (NaN on the
    first row). Its maximum is the longest stretch imputation would have to bridge."""
    if TIMESTAMP not in df.columns or VALUE not in df.columns \
            or not pd.api.types.is_datetime64_any_dtype(df[TIMESTAMP]):
        return df  # the suite then fails on the columns themselves
    observed = df[TIMESTAMP].where(pd.to_numeric(df[VALUE], errors="coerce").notna())
    previous = observed.shift(1).ffill()
    return df.assign(**{GAP: (df[TIMESTAMP] - previous) / pd.Timedelta(days=1)})


def series_suite(cfg: SeriesValidateConfig, columns: list[str], manifest: dict[str, Any],
                 require_label: bool) -> Suite:
    """`timestamp` + `value`: timestamps present, unique and strictly increasing; values numeric and mostly
    present; no stretch without a value longer than `max_gap` (checked on the derived `days_since_last_value`)."""
    import great_expectations.expectations as gxe

    max_days = pd.Timedelta(cfg.max_gap) / pd.Timedelta(days=1)
    exps = _rows(cfg, True) + [
        gxe.ExpectTableColumnsToMatchSet(column_set=[TIMESTAMP, VALUE, GAP], exact_match=True),
        gxe.ExpectColumnToExist(column=TIMESTAMP),
        gxe.ExpectColumnValuesToNotBeNull(column=TIMESTAMP),
        gxe.ExpectColumnValuesToBeUnique(column=TIMESTAMP),
        gxe.ExpectColumnValuesToBeIncreasing(column=TIMESTAMP, strictly=True),
        gxe.ExpectColumnToExist(column=VALUE),
        gxe.ExpectColumnValuesToBeInTypeList(column=VALUE, type_list=NUMERIC_TYPES),
        gxe.ExpectColumnValuesToNotBeNull(column=VALUE, mostly=cfg.min_observed),
        _finite(VALUE),
        gxe.ExpectColumnValuesToBeBetween(column=GAP, max_value=max_days),
    ]
    problems = []
    if TIMESTAMP in columns and GAP not in columns:
        problems.append(("timestamp_type", f"column {TIMESTAMP!r} is not a datetime column"))
    return exps, problems


BLANK = r"^\s*$"  # an empty or whitespace-only text


def text_suite(cfg: TextValidateConfig, columns: list[str], manifest: dict[str, Any], require_label: bool) -> Suite:
    """Exactly `text` (+ label); `text` is a string, never null, never empty or blank, at most max_chars long."""
    import great_expectations.expectations as gxe

    expected = [TEXT] + ([LABEL] if require_label else [])
    exps = _rows(cfg, require_label) + [gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True),
                                        gxe.ExpectColumnToExist(column=TEXT),
                                        gxe.ExpectColumnValuesToBeOfType(column=TEXT, type_="str"),
                                        gxe.ExpectColumnValuesToNotBeNull(column=TEXT),
                                        gxe.ExpectColumnValuesToNotMatchRegex(column=TEXT, regex=BLANK)]
    if cfg.max_chars is not None:
        exps.append(gxe.ExpectColumnValueLengthsToBeBetween(column=TEXT, max_value=cfg.max_chars))
    return exps + _label(require_label, cfg.labels), []


def media_suite(cfg: Any, columns: list[str], manifest: dict[str, Any], require_label: bool) -> Suite:
    """Encoded files (image_file, detection, video), checked on the table `DERIVED` makes, one row per file
    (`MEDIA_INDEX` names it in a failure): every file decodes; images have allowed channels and sides within
    bounds, and (detection) boxes inside the image with a positive area and known labels; clips have fps, frame
    count and frame size within bounds and enough frames for the decode settings."""
    import great_expectations.expectations as gxe

    def holds(column: str):
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[True])

    def between(column: str, low: float | None, high: float | None = None):
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)

    kind = manifest.get("kind")
    exps = _rows(cfg, require_label) + [holds("decodable")]
    if kind == "video":
        (h_low, h_high), (w_low, w_high) = ((s, s) for s in cfg.frame_size) if cfg.frame_size else \
            ((cfg.min_side, cfg.max_side),) * 2
        exps += [between("fps", *cfg.fps), between("frame_count", cfg.min_frames), between("width", w_low, w_high),
                 between("height", h_low, h_high), holds("long_enough")]
    else:
        exps += [gxe.ExpectColumnValuesToBeInSet(column="channels", value_set=list(cfg.channels)),
                 between("width", cfg.min_side, cfg.max_side), between("height", cfg.min_side, cfg.max_side)]
    if kind == "detection":
        exps += [holds(c) for c in ("box_inside_image", "box_positive_area", "box_label_known") if c in columns]
    else:
        exps += _label(require_label, cfg.labels)
    if SPLIT in columns:
        exps.append(gxe.ExpectColumnValuesToBeInSet(column=SPLIT, value_set=["train", "val", "test"]))
    return exps, []


# data kind -> suite builder; kinds added by families register here.
SUITES: dict[str, Callable[..., Suite]] = {"image": image_suite, "tabular": tabular_suite, "series": series_suite,
                                           "text": text_suite, "image_file": media_suite, "detection": media_suite,
                                           "video": media_suite}
# data kind -> profile builder (df, cfg) -> (profile frame, its expectations) or None; run beside the suite.
PROFILES: dict[str, Callable[..., tuple[pd.DataFrame, list[Any]] | None]] = {"image": pixel_profile}
# data kind -> derived columns added before the suite runs (checks GX cannot express on the raw columns).
# Media kinds: the table of per-file check values (decoded here, or at ingest for clips) replaces the rows.
DERIVED: dict[str, Callable[[pd.DataFrame, Any], pd.DataFrame]] = {
    "series": series_gaps, "image_file": images.image_checks, "detection": coco.box_checks, "video": video.clip_checks}
# data kind -> the column naming each row's file in a failure
MEDIA_INDEX = {"image_file": images.FILE, "detection": images.FILE, "video": video.VIDEO}
