"""Great Expectations suites, one builder per data kind. A builder returns the expectations for a
table's columns, plus any problem it can see without running GX (named like a check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.config import ImageValidateConfig, TabularValidateConfig, TextValidateConfig, ValidateConfig

LABEL = "label"
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]

Suite = tuple[list[Any], list[tuple[str, str]]]  # (expectations, [(check, problem)])


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
    if value_range is not None:
        exps.append(gxe.ExpectColumnValuesToBeBetween(column=LABEL, min_value=value_range[0], max_value=value_range[1]))
    return exps


def _numeric(column: str, low: float | None, high: float | None) -> list[Any]:
    import great_expectations.expectations as gxe

    exps = [gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES),
            gxe.ExpectColumnValuesToNotBeNull(column=column)]
    if low is not None or high is not None:
        exps.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
    return exps


def image_suite(cfg: ImageValidateConfig, columns: list[str], manifest: dict[str, Any], require_label: bool) -> Suite:
    """Pixel columns (numeric, not null, in [pixel_min, pixel_max]), column count = H*W (+ label)."""
    import great_expectations.expectations as gxe

    exps, problems = _rows(cfg, require_label), []
    shape = manifest.get("image_shape")
    pixels = [c for c in columns if c != LABEL]
    if shape:
        exps.append(gxe.ExpectTableColumnCountToEqual(value=shape[0] * shape[1] + (1 if require_label else 0)))
    else:
        problems.append(("image_shape", f"{len(pixels)} pixel columns is not a square; "
                                        "set ingest.image_shape: [height, width]"))
    exps += _label(require_label, cfg.labels)
    for c in pixels:
        exps += _numeric(c, cfg.pixel_min, cfg.pixel_max)
    return exps, problems


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


TEXT = "text"
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


# data kind -> suite builder; kinds added by families register here.
SUITES: dict[str, Callable[..., Suite]] = {"image": image_suite, "tabular": tabular_suite, "text": text_suite}
