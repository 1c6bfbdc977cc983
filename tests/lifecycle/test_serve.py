"""`keel serve` as a real server on 127.0.0.1: good requests answered by @production, bad ones get a
4xx naming the problem, and the server keeps serving."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.lifecycle.pipeline import register_version

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def server(project):
    from components.lifecycle import promote

    assert register_version(project).version == "1"
    assert promote.run("digits-cnn", "1").promoted
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "digits-cnn", "--port", str(port)],
                            cwd=project, env={**os.environ, "PYTHONPATH": os.getcwd()},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        try:
            if call(f"{url}/ping")[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_server_answers_from_production_and_rejects_bad_requests(server, digits_frame):
    pixels = digits_frame.drop(columns="label").head(20)
    status, info = call(f"{server}/version")
    assert status == 200 and info["version"] == "1" and len(info["columns"]) == 64
    good = json.dumps({"dataframe_split": {"columns": list(pixels.columns), "data": pixels.values.tolist()}}).encode()
    status, out = call(f"{server}/invocations", good)
    assert status == 200 and out["version"] == "1" and len(out["predictions"]) == 20
    predicted = [p["prediction"] for p in out["predictions"]]
    assert sum(p == y for p, y in zip(predicted, digits_frame["label"].head(20), strict=True)) >= 16

    row = pixels.iloc[0].tolist()
    record = dict(zip(pixels.columns, row, strict=True))
    bad = {
        b"{not json": (400, "body is not valid JSON"),
        json.dumps({"rows": [row]}).encode(): (400, "exactly one of dataframe_split"),
        json.dumps({"inputs": [row[:10]]}).encode(): (422, "each row must have 64 values"),
        json.dumps({"dataframe_records": [{k: v for k, v in record.items() if k != "px_7"}]}).encode():
            (422, "missing column(s) ['px_7']"),
        json.dumps({"dataframe_records": [record | {"px_3": "abc"}]}).encode(): (422, "column px_3: expected a number"),
        json.dumps({"dataframe_records": [record | {"px_9": None}]}).encode(): (422, "column px_9: missing"),
        json.dumps({"dataframe_records": [record | {"colour": 1}]}).encode(): (422, "unknown column(s) ['colour']"),
    }
    for body, (code, message) in bad.items():
        status, out = call(f"{server}/invocations", body)
        assert (status, message in out["message"]) == (code, True), (body[:80], status, out)
    assert call(f"{server}/invocations", good)[0] == 200  # still serving
