"""Upload scoring for the media families (image_file, detection, video) in `keel serve`: POST a file as it is.

    POST /upload                the body is the file's bytes (a PNG/JPEG image, or an MP4 clip); any content type
         ?score_threshold=0.5   query parameters are the model's per-call options (detection: score_threshold,
         &nms_iou=0.4           nms_iou), passed to the pyfunc as its params
    -> 200 {"model", "version", "alias", "model_uri", "predictions": [{...}]}   (one prediction: the file)
    -> 400 empty body or a non-numeric option; 422 a file the model cannot read (not an image, an undecodable
       clip), the message naming the check

Kept apart from serve.py's JSON route: `add_upload_routes(app, model, info)` adds the route when the model
takes an encoded file (its input column is `image` or `video`), and nothing otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from components.core.errors import KeelError

FILE_COLUMNS = ("image", "video")


def upload_column(model) -> str | None:
    """The model's input column that takes a whole file, if it has one."""
    names = [c.name for c in model.metadata.get_input_schema().inputs]
    return names[0] if len(names) == 1 and names[0] in FILE_COLUMNS else None


def score_upload(model, column: str, body: bytes, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """(status, payload) for one uploaded file."""
    from mlflow.exceptions import MlflowException

    if not body:
        return 400, {"message": f"empty body: POST the {column} file's bytes"}
    try:
        params = {k: float(v) for k, v in query.items()}
    except ValueError:
        return 400, {"message": f"query parameters must be numbers, got {dict(query)}"}
    try:
        out = model.predict(pd.DataFrame({column: [body]}), params=params or None)
    except (KeelError, MlflowException, ValueError) as e:
        return 422, {"message": str(e).splitlines()[0][:1000]}
    return 200, {"predictions": json.loads(out.to_json(orient="records"))}


def add_upload_routes(app, model, info: dict[str, Any]) -> None:
    """POST /upload on `app` for a model that takes encoded files."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    column = upload_column(model)
    if column is None:
        return

    @app.post("/upload")
    async def upload(request: Request):
        status, payload = score_upload(model, column, await request.body(), dict(request.query_params))
        code = {} if status == 200 else {"error_code": "BAD_REQUEST"}
        return JSONResponse(status_code=status, content=code | payload | info)
