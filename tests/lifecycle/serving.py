"""Calling a server from a test: a free port, JSON calls that return (status, body), and a `keel serve` app
run by uvicorn on 127.0.0.1 in a thread of the test process."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, dict]:
    """GET (no body) or POST a JSON body (bytes sent as they are); the status and the JSON answer."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, _json(r.read())
    except urllib.error.HTTPError as e:
        return e.code, _json(e.read())


def _json(raw: bytes) -> dict:
    """The JSON answer; a body that is not JSON (MLflow's /ping: a newline) as {"text": ...}."""
    try:
        return json.loads(raw)
    except ValueError:
        return {"text": raw.decode(errors="replace")}


@contextmanager
def running(app) -> Iterator[str]:
    """Serve the ASGI `app` on 127.0.0.1 (its lifespan run) until the block ends; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serving(store: Path, model: str, alias: str, params: Path) -> Iterator[str]:
    """`keel serve`'s app for `model@alias` from the sqlite registry in `store`, on 127.0.0.1; yields its URL."""
    import pytest

    from components.serving.serve import ServeConfig, create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        app = create_app(ServeConfig(model=model, alias=alias, params=params))
    with running(app) as url:
        yield url
