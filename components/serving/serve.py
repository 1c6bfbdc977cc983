"""Online scoring of `models:/<model>@production`: a thin FastAPI app around the registered pyfunc.

Why not `mlflow models serve`: this app resolves the alias to a version once and reports it (`/version`,
and in every response), so a client always knows which model answered; it turns every bad request
(not JSON, unknown payload format, missing or unknown columns, non-numeric or missing values) into a
4xx whose message names the column and row, and keeps serving; and it starts in one process (uvicorn,
one worker) without the scoring server's extra process tree. It accepts MLflow's request formats
(`dataframe_split`, `dataframe_records`, `inputs`/`instances`), so clients can switch between the two.
"""


import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.core import paths
from components.core.errors import KeelError
from components.inference.scorelog.writer import open_log
from components.lifecycle import registry
from components.serving.upload import add_upload_routes

log = logging.getLogger(__name__)
MAX_ROWS = 100_000


class BadRequest(Exception):
    """A request the model cannot score; the message names the problem."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def parse_payload(payload: Any, columns: list[str]) -> pd.DataFrame:
    """MLflow-style JSON -> a frame with exactly `columns` (in order)."""
    if not isinstance(payload, dict):
        raise BadRequest(f"body must be a JSON object, got {type(payload).__name__}", 400)
    keys = [k for k in ("dataframe_split", "dataframe_records", "inputs", "instances") if k in payload]
    if len(keys) != 1:
        raise BadRequest("body must have exactly one of dataframe_split, dataframe_records, inputs, instances; "
                         f"got keys {sorted(payload)}", 400)
    data = payload[keys[0]]
    if isinstance(data, (list, dict)) and not data:
        raise BadRequest("no rows to score")
    try:
        if keys[0] == "dataframe_split":
            if not isinstance(data, dict) or "data" not in data:
                raise BadRequest("dataframe_split must be an object with `columns` and `data`", 400)
            df = pd.DataFrame(data["data"], columns=data.get("columns") or columns)
        elif isinstance(data, dict):  # {"column": [values...]}
            df = pd.DataFrame(data)
        elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            df = pd.DataFrame.from_records(data)
        elif isinstance(data, list) and all(isinstance(r, list) for r in data):
            widths = sorted({len(r) for r in data})
            if widths != [len(columns)]:
                raise BadRequest(f"{keys[0]}: each row must have {len(columns)} values (the columns "
                                 f"{columns[0]}..{columns[-1]}), got row lengths {widths[:5]}")
            df = pd.DataFrame(data, columns=columns)
        else:
            raise BadRequest(f"{keys[0]}: expected a list of rows or an object of columns", 400)
    except (ValueError, TypeError) as e:
        raise BadRequest(f"{keys[0]}: not a table: {e}", 400) from None
    return check_frame(df, columns)


def check_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Exactly the model's columns, numeric and present in every row."""
    if len(df) == 0:
        raise BadRequest("no rows to score")
    if len(df) > MAX_ROWS:
        raise BadRequest(f"{len(df)} rows in one request; send at most {MAX_ROWS} (use keel predict for files)", 413)
    missing = [c for c in columns if c not in df.columns]
    unknown = [str(c) for c in df.columns if c not in columns]
    if missing or unknown:
        parts = ([f"missing column(s) {missing[:8]}{' ...' if len(missing) > 8 else ''}"] if missing else []) + \
                ([f"unknown column(s) {unknown[:8]}"] if unknown else [])
        raise BadRequest("; ".join(parts) + f" (the model takes {len(columns)} columns {columns[0]}..{columns[-1]})")
    df = df[columns]
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = df[c][values.isna() & df[c].notna()]
        if len(bad):
            raise BadRequest(f"column {c}: expected a number, got {bad.iloc[0]!r} (row {bad.index[0]})")
        holes = values.index[~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))]
        if len(holes):
            raise BadRequest(f"column {c}: missing or non-finite value in row(s) {list(holes[:5])}")
    return df.astype("float64")


def create_app(model_name: str, alias: str = "production", log_dir: Path = paths.INFERENCE_LOG_DIR,
               params_path: Path = paths.PARAMS):
    """The FastAPI app serving `model_name@alias` (resolved to one version at start); what it scores goes to
    the inference log in `log_dir` (`monitor.log` of `params_path`)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from mlflow.exceptions import MlflowException

    ref = registry.require_alias(model_name, alias)
    model = registry.load_pyfunc(ref.model_uri)
    columns = [c.name for c in model.metadata.get_input_schema().inputs]
    scorelog = open_log(log_dir, model_name, ref.version, model.unwrap_python_model().ckpt, params_path, "serve")
    info = {"model": model_name, "version": ref.version, "alias": alias, "model_uri": ref.model_uri}
    app = FastAPI(title=f"keel serve {model_name}@{alias}")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error_code": "BAD_REQUEST", "message": message, **info})

    @app.get("/ping")
    def ping() -> dict:
        return {"status": "ok"}

    @app.get("/version")
    def version() -> dict:
        return info | {"columns": columns}

    @app.post("/invocations")
    async def invocations(request: Request):
        body = await request.body()
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error(400, f"body is not valid JSON: {e}")
        try:
            frame = parse_payload(payload, columns)
            out = model.predict(frame)
        except BadRequest as e:
            return error(e.status, str(e))
        except (KeelError, MlflowException, ValueError) as e:  # the model's own checks (schema, transform)
            return error(422, str(e).splitlines()[0][:1000])
        request_id = scorelog.record(frame, out, request.headers.get("x-request-id"))  # to the inference log
        return info | {"request_id": request_id, "predictions": json.loads(out.to_json(orient="records"))}

    add_upload_routes(app, model, info)  # POST /upload: a raw image or clip (media families only)
    return app


def run(model_name: str, host: str = "127.0.0.1", port: int = 5001, alias: str = "production",
        log_dir: Path = paths.INFERENCE_LOG_DIR, params_path: Path = paths.PARAMS) -> None:
    """Serve until interrupted (one uvicorn worker)."""
    import uvicorn

    app = create_app(model_name, alias, log_dir, params_path)
    log.info("serving %s@%s on http://%s:%d", model_name, alias, host, port)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning")
