"""Upload scoring for the media families (image_file, detection, video) in `keel serve`: POST a file as it is.

    POST /upload                the body is the file's bytes (a PNG/JPEG image, or an MP4 clip); any content type
         ?score_threshold=0.5   query parameters are the model's per-call options (detection: score_threshold,
         &nms_iou=0.4           nms_iou), the pyfunc's params
    -> 200 {"model", "version", "alias", "model_uri", "request_id", "predictions": [{...}]}   (one: the file)
    -> 400 empty body, an unknown or non-numeric option; 413 over --max-bytes; 422 a file that fails the
       family's checks (not a decodable image, an undecodable clip), the message naming the check

The route is serve.py's own pipeline (bearer token, size limit before reading, checks and scoring off the event
loop, timeout, inference log); this module only turns an upload into the model's input table and options.
A JSON body to /invocations may carry the same files as base64 text (components/serving/payload.py).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from components.serving.payload import BadRequest, Table

FILE_COLUMNS = ("image", "video")  # input columns that take a whole encoded file


def upload_column(schema: list[tuple[str, str]]) -> str | None:
    """The model's input column that takes a whole file, if the model has only that one."""
    return schema[0][0] if len(schema) == 1 and schema[0][0] in FILE_COLUMNS else None


def upload_table(column: str, body: bytes, query: dict[str, str],
                 allowed: dict[str, Any] | None) -> tuple[Table, dict[str, float]]:
    """One uploaded file -> (a one-row table, the per-call options), or BadRequest."""
    if not body:
        raise BadRequest(f"empty body: POST the {column} file's bytes", 400)
    unknown = sorted(set(query) - set(allowed or {}))
    if unknown:
        known = ", ".join(sorted(allowed or {})) or "none"
        raise BadRequest(f"unknown query parameter(s) {unknown}: the model's options are {known}", 400)
    try:
        options = {k: float(v) for k, v in query.items()}
    except ValueError:
        raise BadRequest(f"query parameters must be numbers, got {dict(query)}", 400) from None
    return Table(rows=1, frame=pd.DataFrame({column: pd.Series([body], dtype="object")})), options
