"""Online scoring of `models:/<model>@production` (`keel serve`): a small ASGI app around the registered model.

Why not `mlflow models serve`: this app resolves the alias to a version once and names it (`/version`, and
in every response), so a client always knows which model answered; it checks every request with the
family's GX suite (the one `keel predict` runs on files); it answers every bad request with a 4xx whose
message names the problem, and keeps serving. It accepts MLflow's request bodies, so clients can switch.

Hardening: the body's size is checked before it is read (Content-Length) and while it is read; parsing and
checks run off the event loop (but for small bodies of numbers that pass the quick check: microseconds, see
components/data/matrixgate.py), scoring runs off it with a timeout, so `/ping` answers while the model works;
requests that arrive together are scored and logged together (components/serving/scorer.py);
an optional bearer token guards `/invocations` and `/version` (`KEEL_SERVE_TOKEN`); `/docs` is off unless
asked for. Several worker processes (`--workers`) each load the model. A media model (image_file, detection,
video) also takes a file as it is at `POST /upload` (components/serving/upload.py), through the same steps.
"""


import asyncio
import hmac
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field

from components.core import paths
from components.core.errors import KeelError
from components.inference.scorelog.writer import open_log
from components.lifecycle.pyfunc import task_options
from components.serving.loaded import load
from components.serving.payload import BadRequest, Table, parse
from components.serving.scorer import Checks, Overloaded, Scorer
from components.serving.upload import upload_column, upload_table

log = logging.getLogger(__name__)
TOKEN_ENV = "KEEL_SERVE_TOKEN"  # set: every call but /ping needs `Authorization: Bearer <token>`
CONFIG_ENV = "KEEL_SERVE_CONFIG"  # how `run` hands the settings to worker processes
INLINE_BYTES = 16 * 2**10  # bodies up to this size are parsed on the event loop (~0.2 ms for 32 digits rows), and
# checked there when the quick check passes them (components/data/matrixgate.py); the full checks run off it
INLINE_VALUES = 10_000  # smaller answers are rendered on the event loop


class ServeConfig(BaseModel):
    """`keel serve`'s settings."""

    model: str
    alias: str = "production"
    host: str = "127.0.0.1"
    port: int = 5001
    workers: int = Field(1, ge=1)  # processes, each with the model loaded
    threads: int = Field(1, ge=1)  # torch threads per worker (latency: 1; see docs/lifecycle.md)
    max_bytes: int = Field(8 * 2**20, ge=1024)  # request body limit, checked before parsing
    max_rows: int = Field(100_000, ge=1)
    max_batch_rows: int = Field(2048, ge=1)  # rows of queued requests scored in one call
    timeout_s: float = Field(30.0, gt=0)  # a request's wait for its scores
    docs: bool = False  # /docs, /redoc and /openapi.json
    params: Path = paths.PARAMS  # validation settings for versions that do not record theirs; monitor.log
    log_dir: Path = paths.INFERENCE_LOG_DIR  # the inference log (what keel monitor checks for drift)


def _json(status: int, content: Any, headers: dict[str, str] | None = None):
    """A JSON response of `content` (bytes: already rendered)."""
    from starlette.responses import Response

    body = content if isinstance(content, bytes) else orjson.dumps(content)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def read_body(request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed `limit` bytes: from Content-Length before
    reading, else while streaming (chunked uploads)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadRequest(f"body of {declared} bytes is over the limit of {limit} bytes (--max-bytes)"
                         if declared.isdigit() else f"bad Content-Length {declared!r}", 413 if declared.isdigit()
                         else 400)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"body is over the limit of {limit} bytes (--max-bytes)", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(cfg: ServeConfig):
    """The app serving `cfg.model@cfg.alias` (resolved to one version at start); what it scores goes to the
    inference log in `cfg.log_dir` (`monitor.log` of `cfg.params`)."""
    import torch
    from fastapi import FastAPI, Request

    torch.set_num_threads(cfg.threads)
    loaded = load(cfg.model, cfg.alias, cfg.params)
    scorelog = open_log(cfg.log_dir, cfg.model, loaded.ref.version, loaded.model.ckpt, loaded.log, "serve")
    checks, scorer = Checks(loaded), Scorer(loaded, cfg.max_batch_rows, cfg.timeout_s, scorelog=scorelog)
    parsing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keel-parse")
    info = {"model": cfg.model, "version": loaded.ref.version, "alias": cfg.alias, "model_uri": loaded.ref.model_uri,
            "backend": loaded.backend}
    token = os.environ.get(TOKEN_ENV) or None

    def answer(out: dict[str, list[Any]], request_id: str | None) -> bytes:
        """The response body: the version's info, the request id (in the inference log) and one object per row."""
        names = list(out)
        rows = [dict(zip(names, row, strict=True)) for row in zip(*out.values(), strict=True)]
        return orjson.dumps(info | {"request_id": request_id, "predictions": rows})

    def prepare(body: bytes) -> tuple[Table, dict[str, float]]:
        table = parse(body, loaded.schema, cfg.max_rows)
        checks.require(table)
        return table, {}

    column = upload_column(loaded.schema)
    options = task_options(loaded.ckpt)

    def prepare_upload(body: bytes, query: dict[str, str]) -> tuple[Table, dict[str, float]]:
        table, given = upload_table(column, body, query, options)
        checks.require(table)
        return table, given

    @asynccontextmanager
    async def lifespan(app):
        scorer.start()
        yield
        await scorer.stop()
        parsing.shutdown(wait=False, cancel_futures=True)
        scorelog.close()  # what was acknowledged is on disk

    hidden = {} if cfg.docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title=f"keel serve {cfg.model}@{cfg.alias}", lifespan=lifespan, **hidden)

    def error(status: int, message: str, headers: dict[str, str] | None = None):
        code = {401: "UNAUTHENTICATED", 413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
                503: "TEMPORARILY_UNAVAILABLE"}.get(status, "BAD_REQUEST")
        known = info if status != 401 else {}  # without the token, not even which model and version answer
        return _json(status, {"error_code": code, "message": message, **known}, headers)

    def refused(request: Request):
        """401 unless the request carries the bearer token (when one is set)."""
        given = request.headers.get("authorization", "")
        if token is None or hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return error(401, "missing or wrong bearer token (Authorization: Bearer ...)", {"WWW-Authenticate": "Bearer"})

    @app.get("/ping")
    async def ping():
        return _json(200, {"status": "ok"})

    @app.get("/version")
    async def version(request: Request):
        return refused(request) or _json(200, info | {"columns": loaded.columns,
                                                      "types": dict(loaded.schema)})

    @app.post("/invocations")
    async def invocations(request: Request):
        if (denied := refused(request)) is not None:
            return denied
        kind = request.headers.get("content-type", "application/json")
        if "json" not in kind:
            return error(415, f"Content-Type {kind!r}: send application/json"
                         + (f" (or POST the {column} file to /upload)" if column else ""))
        return await scored(request, prepare, inline=True)

    if column is not None:
        @app.post("/upload")
        async def upload(request: Request):
            if (denied := refused(request)) is not None:
                return denied
            query = dict(request.query_params)
            return await scored(request, lambda body: prepare_upload(body, query))

    async def scored(request: Request, prepare_body, inline: bool = False):
        """Read the body (size-limited), make it the model's checked input (a small body of numbers that passes
        the quick check on the event loop, any other off it), score it on the scorer's thread (which logs it),
        answer (4xx naming the problem)."""
        loop = asyncio.get_running_loop()
        try:
            body = await read_body(request, cfg.max_bytes)
            if inline and len(body) <= INLINE_BYTES:  # small: a thread hop costs more than parsing
                table, given = parse(body, loaded.schema, cfg.max_rows), {}
                if not checks.passes(table):
                    await loop.run_in_executor(parsing, checks.verify, table)  # the quick check ran just above
            else:
                table, given = await loop.run_in_executor(parsing, prepare_body, body)
            out, request_id = await scorer.score(table, given, request.headers.get("x-request-id"))
        except BadRequest as e:
            return error(e.status, str(e), {"Connection": "close"} if e.status == 413 else None)
        except Overloaded as e:
            return error(503, str(e))
        except (KeelError, ValueError) as e:  # the model's own checks (a series history shorter than its window)
            return error(422, str(e).splitlines()[0][:1000])
        if table.rows * len(out) <= INLINE_VALUES:
            return _json(200, answer(out, request_id))  # small: a thread hop costs more than rendering
        return _json(200, await loop.run_in_executor(parsing, answer, out, request_id))

    return app


def app_from_env():
    """The app for a worker process started by `run` (settings in KEEL_SERVE_CONFIG)."""
    return create_app(ServeConfig.model_validate_json(os.environ[CONFIG_ENV]))


def check_port(host: str, port: int) -> None:
    """Bind `host:port` once (as uvicorn will, SO_REUSEADDR) and let go, so that a port already in use or an
    address this machine does not have is named before the model loads, not after."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family):
            pass
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else str(e)
        raise KeelError(f"cannot listen on {host}:{port}: {why} (--host/--port)") from e


def run(cfg: ServeConfig) -> None:
    """Serve until interrupted (a port that cannot be bound fails at once, before the model loads)."""
    import uvicorn

    check_port(cfg.host, cfg.port)
    log.info("serving %s@%s on http://%s:%d (%d worker(s))", cfg.model, cfg.alias, cfg.host, cfg.port, cfg.workers)
    common = {"host": cfg.host, "port": cfg.port, "log_level": "warning", "timeout_graceful_shutdown": 5,
              "access_log": False}
    if cfg.workers == 1:
        uvicorn.run(create_app(cfg), **common)
    else:
        os.environ[CONFIG_ENV] = cfg.model_dump_json()
        uvicorn.run("components.serving.serve:app_from_env", factory=True, workers=cfg.workers, **common)
