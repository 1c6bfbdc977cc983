"""A request body -> the model's input table, or a `BadRequest` naming what is wrong (and its HTTP status).

Accepted bodies are MLflow's: `dataframe_split` ({columns, data}), `dataframe_records` (a list of objects),
`inputs` / `instances` (a list of rows, a list of objects, or an object of columns). Every column must be
the model's, once; each value must have its column's type: `double` a JSON number (not a boolean, not a
string), `string` a JSON string, `datetime` an ISO 8601 string, `binary` (an encoded image or clip) base64
text, as MLflow sends bytes in JSON (for an image also an (H, W[, 3]) array of 0..255 values): never a file
path, so a client cannot make the server read its files; null is a missing value, left to the family's checks
(the GX suite) to accept or not. Bodies of only numbers take a lean path (one numpy
conversion, no pandas); anything that does not fit it is diagnosed value by value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")
CHUNK_ROWS = 2048  # rows converted to numpy at a time


class BadRequest(Exception):
    """A request the model cannot score; the message names the problem."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass
class Table:
    """The request's rows in the model's column order: a float matrix when every column is a double, else
    a frame with each column's dtype."""

    rows: int
    matrix: np.ndarray | None = None
    frame: pd.DataFrame | None = None

    def to_frame(self, columns: list[str]) -> pd.DataFrame:
        return self.frame if self.frame is not None else pd.DataFrame(self.matrix, columns=columns)


def _names(values: list[Any], what: str) -> str:
    shown = ", ".join(repr(v) for v in values[:8])
    return f"{what} [{shown}{', ...' if len(values) > 8 else ''}]"


def columns_against(given: list[Any], columns: list[str]) -> None:
    """The given column names must be the model's, each once."""
    if not all(isinstance(c, str) for c in given):
        raise BadRequest(f"column names must be strings, got {next(c for c in given if not isinstance(c, str))!r}")
    seen: set[str] = set()
    duplicated = [c for c in given if c in seen or seen.add(c)]
    missing = [c for c in columns if c not in seen]
    unknown = [c for c in given if c not in set(columns)]
    problems = ([_names(sorted(set(duplicated)), "duplicate column(s)")] if duplicated else []) + \
        ([_names(missing, "missing column(s)")] if missing else []) + ([_names(unknown, "unknown column(s)")]
                                                                        if unknown else [])
    if problems:
        raise BadRequest("; ".join(problems) + f" (the model takes {len(columns)} columns "
                         f"{columns[0]}..{columns[-1]})")


def _rows_of(payload: Any, columns: list[str], max_rows: int) -> tuple[list[list[Any]] | dict[str, list[Any]], str]:
    """The body's rows (model column order) as a list of rows, or its columns as a dict; and its format."""
    if not isinstance(payload, dict):
        raise BadRequest(f"body must be a JSON object, got {type(payload).__name__}", 400)
    keys = [k for k in FORMATS if k in payload]
    if len(keys) != 1 or len(payload) != 1:
        raise BadRequest(f"body must have exactly one of {', '.join(FORMATS)}; got keys {sorted(payload)[:8]}", 400)
    fmt, data = keys[0], payload[keys[0]]
    if fmt == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list) or set(data) - {"columns", "data",
                                                                                                 "index"}:
            raise BadRequest("dataframe_split must be an object with `data` (a list of rows) and optionally "
                             "`columns` and `index`", 400)
        given = data.get("columns", columns)
        if not isinstance(given, list):
            raise BadRequest("dataframe_split.columns must be a list of column names", 400)
        columns_against(given, columns)
        data, positions = data["data"], [given.index(c) for c in columns] if given != columns else None
    elif isinstance(data, dict) and fmt in ("inputs", "instances"):  # {"column": [values...]}
        columns_against(list(data), columns)
        if not all(isinstance(v, list) for v in data.values()) or len({len(v) for v in data.values()}) != 1:
            raise BadRequest(f"{fmt}: an object of columns needs a list of values per column, all of one length")
        if len(next(iter(data.values()))) > max_rows:
            raise BadRequest(f"{len(next(iter(data.values())))} rows in one request; send at most {max_rows}", 413)
        return {c: data[c] for c in columns}, fmt
    elif not isinstance(data, list):
        raise BadRequest(f"{fmt}: expected a list of rows", 400)
    else:
        positions = None
    if len(data) > max_rows:
        raise BadRequest(f"{len(data)} rows in one request; send at most {max_rows} (use keel predict for files)", 413)
    if not data:
        raise BadRequest("no rows to score")
    if isinstance(data[0], dict) or fmt == "dataframe_records":
        if not all(isinstance(r, dict) for r in data):
            raise BadRequest(f"{fmt}: every row must be an object of column: value")
        wanted = set(columns)
        for i, record in enumerate(data):
            if record.keys() != wanted:
                try:
                    columns_against(list(record), columns)
                except BadRequest as e:
                    raise BadRequest(f"row {i}: {e}") from None
        return [[r[c] for c in columns] for r in data], fmt
    width = len(columns)
    bad = next((i for i, r in enumerate(data) if not isinstance(r, list) or len(r) != width), None)
    if bad is not None:
        row = data[bad]
        got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
        raise BadRequest(f"{fmt}: each row must be a list of {width} values (the columns "
                         f"{columns[0]}..{columns[-1]}); row {bad} is {got}")
    if positions is not None:
        data = [[r[p] for p in positions] for r in data]
    return data, fmt


def _column(name: str, kind: str, values: list[Any]) -> pd.Series:
    """One column's values, type-checked, as a Series of the column's dtype."""
    if kind == "double":
        bad = next(((i, v) for i, v in enumerate(values)
                    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))), None)
        if bad is not None:
            raise BadRequest(f"column {name}: expected a number, got {_shown(bad[1])} (row {bad[0]})")
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64", name=name)
    if kind == "binary":
        return pd.Series([_encoded(name, i, v) for i, v in enumerate(values)], dtype="object", name=name)
    bad = next(((i, v) for i, v in enumerate(values) if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        want = "an ISO 8601 date/time string" if kind == "datetime" else "a string"
        raise BadRequest(f"column {name}: expected {want}, got {_shown(bad[1])} (row {bad[0]})")
    if kind == "datetime":
        try:
            stamps = pd.to_datetime(pd.Series(values, dtype="object"), format="ISO8601")
        except (ValueError, TypeError, OverflowError) as e:
            raise BadRequest(f"column {name}: not an ISO 8601 date/time: {str(e).splitlines()[0][:200]}") from None
        return (stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps).rename(name)
    return pd.Series(values, dtype="str", name=name)


def _encoded(name: str, row: int, value: Any) -> Any:
    """A binary column's value: base64 text -> bytes (a data: URL's prefix dropped); an array as it is."""
    if value is None:
        return None
    if isinstance(value, list):
        try:
            return np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise BadRequest(f"column {name}: row {row} is not a rectangular array of numbers") from None
    if not isinstance(value, str):
        raise BadRequest(f"column {name}: expected base64 text of the file, got {_shown(value)} (row {row})")
    try:
        return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"column {name}: row {row} is not base64 text of an encoded file") from None


def _shown(value: Any) -> str:
    return f"a {type(value).__name__}" if isinstance(value, (list, dict)) else repr(value)


def _numbers(rows: list[list[Any]], body: bytes, width: int) -> np.ndarray | None:
    """The lean path: rows of plain JSON numbers -> float64 (n, width), or None to diagnose value by value."""
    parts = []
    for start in range(0, len(rows), CHUNK_ROWS):  # in pieces: each conversion holds the GIL, /ping waits on it
        try:
            part = np.array(rows[start:start + CHUNK_ROWS])
        except (ValueError, TypeError, OverflowError):
            return None
        if part.dtype.kind not in "iuf" or part.shape != (min(CHUNK_ROWS, len(rows) - start), width):
            return None
        parts.append(part.astype(np.float64, copy=False))
    matrix = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if (b"true" in body or b"false" in body) and any(type(v) is bool for r in rows for v in r):  # noqa: E721
        return None  # numpy reads booleans as numbers
    return matrix


def _not_json(body: bytes, e: orjson.JSONDecodeError, columns: list[str], max_rows: int) -> BadRequest:
    """orjson's error; for a NaN or Infinity (not JSON, though Python's json.dumps and JavaScript libraries
    write them) the column and row that hold it, when the body is otherwise readable."""
    text = body.decode("utf-8", "replace")  # orjson's pos counts characters, not bytes
    start = e.pos - 1 if text[e.pos - 1:e.pos] == "-" else e.pos
    token = re.match(r"(NaN|-?Infinity)(?![A-Za-z0-9])", text[start:start + 12])
    if token is None:
        return BadRequest(f"body is not valid JSON: {e}", 400)
    where = f"line {e.lineno} column {e.colno}"
    try:  # the error path only: Python's json reads NaN and Infinity
        data, _ = _rows_of(json.loads(body), columns, max_rows)
        cells = ((c, i, v) for c, values in data.items() for i, v in enumerate(values)) if isinstance(data, dict) \
            else ((c, i, v) for i, row in enumerate(data) for c, v in zip(columns, row, strict=True))
        where = next(f"column {c}, row {i}" for c, i, v in cells if isinstance(v, float) and not math.isfinite(v))
    except (ValueError, RecursionError, BadRequest, StopIteration):
        pass
    return BadRequest(f"{where}: {token.group()} is not valid JSON (JSON has no NaN or Infinity; send null "
                      "for a missing value)", 400)


def parse(body: bytes, schema: list[tuple[str, str]], max_rows: int) -> Table:
    """A request body -> the model's input table (columns in `schema` order), or BadRequest."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        deep = "recursion" in str(e).lower() or "depth" in str(e).lower()
        raise BadRequest("body is nested too deeply (more than 1024 levels)", 400) if deep \
            else _not_json(body, e, [c for c, _ in schema], max_rows) from None
    columns = [c for c, _ in schema]
    data, _ = _rows_of(payload, columns, max_rows)
    if isinstance(data, list) and all(kind == "double" for _, kind in schema):
        matrix = _numbers(data, body, len(columns))
        if matrix is not None:
            return Table(rows=len(data), matrix=matrix)
    by_column = data if isinstance(data, dict) else {c: [r[j] for r in data] for j, c in enumerate(columns)}
    series = [_column(c, kind, by_column[c]) for c, kind in schema]
    if not series[0].size:
        raise BadRequest("no rows to score")
    frame = pd.concat(series, axis=1)
    if all(kind == "double" for _, kind in schema):
        return Table(rows=len(frame), matrix=frame.to_numpy(dtype=np.float64))
    return Table(rows=len(frame), frame=frame)
