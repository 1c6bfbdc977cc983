"""Great Expectations suites, one builder per data kind. A builder returns the expectations for a
table's columns, any problem it can see without running GX (named like a check), and its per-column checks.

The per-column checks run on a column profile (components/data/profile.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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
from components.data.profile import FINITE, NUMERIC_TYPES, ColumnChecks, finite_bounds, hint


def _finite(column: str, low: float | None = None, high: float | None = None) -> Any:
    """A GX range check on `column` (`finite_bounds`), marked `FINITE` where a bound is the largest float."""
    import great_expectations.expectations as gxe

    low, high = finite_bounds(low, high)
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high,
                                            meta=FINITE if hint((low, high)) else None)


class Suite(NamedTuple):
    expectations: list[Any]  # GX expectations on the table itself
    problems: list[tuple[str, str]]  # (check, problem) seen without running GX
    columns: ColumnChecks | None = None  # per-column checks, run on the column profile


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
    bounds = finite_bounds(cfg.pixel_min, cfg.pixel_max)
    return Suite(exps, problems, ColumnChecks(tuple(pixels), dict.fromkeys(pixels, bounds), prefix="pixel"))


def tabular_suite(cfg: TabularValidateConfig, columns: list[str], manifest: dict[str, Any],
                  require_label: bool) -> Suite:
    """Exactly the configured feature columns (+ label), each numeric, not null and in its range."""
    import great_expectations.expectations as gxe

    expected = list(cfg.columns) + ([LABEL] if require_label else [])
    exps = _rows(cfg, require_label) + [gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True)]
    exps += _label(require_label, cfg.labels, cfg.label_range)
    unknown = sorted(set(cfg.ranges) - set(cfg.columns))
    problems = [("ranges", f"validate.ranges names columns that are not in validate.columns: {unknown}")] \
        if unknown else []
    bounds = {c: finite_bounds(*cfg.ranges.get(c, (None, None))) for c in cfg.columns}  # at least finite
    return Suite(exps, problems, ColumnChecks(tuple(cfg.columns), bounds, exist=True))


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
    return Suite(exps, problems)


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
    return Suite(exps + _label(require_label, cfg.labels), [])


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
    return Suite(exps, [])


# data kind -> suite builder; kinds added by families register here.
SUITES: dict[str, Callable[..., Suite]] = {"image": image_suite, "tabular": tabular_suite, "series": series_suite,
                                           "text": text_suite, "image_file": media_suite, "detection": media_suite,
                                           "video": media_suite}
# data kind -> derived columns added before the suite runs (checks GX cannot express on the raw columns), from
# (df, validate settings, manifest). Media kinds: the table of per-file check values (decoded here, or at ingest
# for clips) replaces the rows; clips not decoded at ingest are decoded with `manifest["decode"]`: the settings
# ingest used, recorded in the model (`suite_manifest`).
DERIVED: dict[str, Callable[[pd.DataFrame, Any, dict[str, Any]], pd.DataFrame]] = {
    "series": lambda df, cfg, manifest: series_gaps(df, cfg),
    "image_file": lambda df, cfg, manifest: images.image_checks(df, cfg),
    "detection": lambda df, cfg, manifest: coco.box_checks(df, cfg),
    "video": lambda df, cfg, manifest: video.clip_checks(df, cfg, manifest.get("decode"))}


def derive(kind: str, df: pd.DataFrame, cfg: Any, manifest: dict[str, Any]) -> pd.DataFrame:
    """`df` as the kind's suite sees it: DERIVED's columns (none for other kinds)."""
    return DERIVED[kind](df, cfg, manifest) if kind in DERIVED else df


# data kind -> the column naming each row's file in a failure
MEDIA_INDEX = {"image_file": images.FILE, "detection": images.FILE, "video": video.VIDEO}
