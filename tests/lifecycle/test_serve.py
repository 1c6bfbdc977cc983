"""Serving the registered digits-cnn: `keel serve` as a real process on 127.0.0.1 (good requests answered by
@production; bad ones of every kind a 4xx naming the problem; the body limit before the body is read; /ping
answers while a large request is scored), and the registered model loaded by MLflow alone, in a clean
virtual environment without Keel (tests/cleanenv.py), and served by `mlflow models serve` from there."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.serving.serve import TOKEN_ENV
from tests import cleanenv
from tests.helpers import ROOT
from tests.lifecycle.pipeline import register_version
from tests.lifecycle.serving import call, free_port, running

pytestmark = pytest.mark.slow
TOKEN = "serve-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def registered(project):
    from components.lifecycle import promote

    assert register_version(project).version == "1"
    assert promote.run("digits-cnn", "1").promoted
    return project


def wait_until_up(proc: subprocess.Popen, url: str, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        try:
            if call(f"{url}/ping", timeout=5)[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer /ping within {seconds} s")


@pytest.fixture(scope="module")
def server(registered):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), TOKEN_ENV: TOKEN}  # this checkout's Keel
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "digits-cnn", "--port", str(port)],
                            cwd=registered, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, url)
    yield url, proc.pid
    proc.terminate()
    proc.wait(timeout=30)


def child_cpu_s() -> float:
    """CPU seconds of this process's finished children (wall time on the shared machine says little)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_server_answers_from_production_and_rejects_bad_requests(server, digits_frame):
    url, _ = server
    pixels = digits_frame.drop(columns="label").head(20)
    assert call(f"{url}/version")[0] == 401 and call(f"{url}/ping")[0] == 200  # the token guards all but /ping
    denied = call(f"{url}/invocations", {"inputs": [[0.0] * 64]})
    assert denied[0] == 401 and set(denied[1]) == {"error_code", "message"}  # no model, version or URI either
    status, info = call(f"{url}/version", headers=AUTH)
    assert status == 200 and info["version"] == "1" and len(info["columns"]) == 64
    good = {"dataframe_split": {"columns": list(pixels.columns), "data": pixels.values.tolist()}}
    status, out = call(f"{url}/invocations", good, AUTH)
    assert status == 200 and out["version"] == "1" and len(out["predictions"]) == 20
    predicted = [p["prediction"] for p in out["predictions"]]
    assert sum(p == y for p, y in zip(predicted, digits_frame["label"].head(20), strict=True)) >= 16
    assert call(f"{url}/docs")[0] == 404  # off unless --docs

    row = pixels.iloc[0].tolist()
    record = dict(zip(pixels.columns, row, strict=True))
    bad = {
        b"{not json": (400, "body is not valid JSON"),
        b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}": (400, "nested too deeply"),
        json.dumps({"rows": [row]}).encode(): (400, "exactly one of dataframe_split"),
        json.dumps({"inputs": [row[:10]]}).encode(): (422, "each row must be a list of 64 values"),
        json.dumps({"dataframe_split": {"columns": ["px_0", *pixels.columns[:-1]], "data": [row]}}).encode():
            (422, "duplicate column(s) ['px_0']"),
        json.dumps({"dataframe_records": [{k: v for k, v in record.items() if k != "px_7"}]}).encode():
            (422, "missing column(s) ['px_7']"),
        json.dumps({"dataframe_records": [record | {"px_3": "abc"}]}).encode(): (422, "column px_3: expected a number"),
        json.dumps({"dataframe_records": [record | {"px_4": True}]}).encode(): (422, "column px_4: expected a number"),
        json.dumps({"dataframe_records": [record | {"colour": 1}]}).encode(): (422, "unknown column(s) ['colour']"),
        json.dumps({"inputs": [row[:5] + [float("nan")] + row[6:]]}).encode(): (400, "column px_5, row 0: NaN"),
        # the family's value checks, as `keel predict` runs them: range and presence
        json.dumps({"dataframe_records": [record | {"px_5": 1e9}]}).encode(): (422, "px_5"),
        json.dumps({"dataframe_records": [record | {"px_9": None}]}).encode(): (422, "px_9"),
    }
    for body, (code, message) in bad.items():
        status, out = call(f"{url}/invocations", body, AUTH)
        assert (status, message in out.get("message", "")) == (code, True), (body[:80], status, out)
    assert call(f"{url}/invocations", good, {"Authorization": "Bearer wrong"})[0] == 401
    assert call(f"{url}/invocations", good, AUTH)[0] == 200  # still serving


def raw_post(url: str, headers: str, body: bytes) -> tuple[int, bytes]:
    """POST with hand-made headers over a socket; send what the server takes of `body`; the status line."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(f"POST /invocations HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"Authorization: Bearer {TOKEN}\r\n{headers}\r\n".encode())
        try:
            for i in range(0, len(body), 2**20):
                s.sendall(body[i:i + 2**20])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        answer = s.recv(65536)
    return int(answer.split()[1]), answer


def test_a_body_over_the_limit_is_refused_before_it_is_read(server, digits_frame):
    url, pid = server
    rows = digits_frame.drop(columns="label").astype(int).values.tolist()
    body = json.dumps({"inputs": (rows * 56)[:100_001]}).encode()  # ~19 MB, over the 8 MiB default
    before = rss_mb(pid)
    status, answer = raw_post(url, f"Content-Length: {len(body)}\r\n", body)
    assert status == 413 and b"over the limit of 8388608 bytes" in answer
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 2**20]), body[i:i + 2**20])
                       for i in range(0, len(body), 2**20)) + b"0\r\n\r\n"
    status, answer = raw_post(url, "Transfer-Encoding: chunked\r\n", chunked)  # no length: counted while read
    assert status == 413 and b"body is over the limit" in answer
    grew = rss_mb(pid) - before
    print(f"\nRSS of keel serve: {before:.0f} MB before two 19 MB bodies, grew {grew:.0f} MB")
    assert grew < 60, grew  # the body is not held whole (parsing it took ~400 MB)
    assert call(f"{url}/ping")[0] == 200


def test_ping_answers_while_a_large_request_is_scored(server, digits_frame):
    url, _ = server
    rows = digits_frame.drop(columns="label").astype(int).values.tolist()
    body = json.dumps({"inputs": (rows * 17)[:30_000]}).encode()  # ~6 MB
    result = {}
    worker = threading.Thread(target=lambda: result.update(answer=call(f"{url}/invocations", body, AUTH)))
    worker.start()
    pings = []
    while worker.is_alive():
        start = time.perf_counter()
        assert call(f"{url}/ping", timeout=10)[0] == 200
        pings.append(time.perf_counter() - start)
        time.sleep(0.02)
    status, out = result["answer"]
    assert status == 200 and len(out["predictions"]) == 30_000
    pings.sort()
    p50, p99 = pings[len(pings) // 2], pings[int(len(pings) * 0.99)]
    print(f"\n/ping during a 30,000-row request: {len(pings)} pings, p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
          f"max {pings[-1] * 1e3:.1f} ms (machine under load)")
    # scoring on the event loop answered one or two pings, each after the whole request
    assert len(pings) >= 10 and p50 < 0.1, pings


def test_scoring_has_a_timeout(registered, digits_frame):
    from components.serving.serve import ServeConfig, create_app

    app = create_app(ServeConfig(model="digits-cnn", timeout_s=1e-4, params=registered / "params.yaml"))
    rows = digits_frame.drop(columns="label").head(2000).values.tolist()
    with running(app) as url:
        status, out = call(f"{url}/invocations", {"inputs": rows})
        assert status == 503 and "did not finish within 0.0001 s" in out["message"], out
        assert call(f"{url}/ping")[0] == 200


CLEAN_LOAD = """
import importlib.util, json, sys, warnings
import pandas as pd
assert all(importlib.util.find_spec(m) is None for m in {keel}), "Keel source is importable"
import mlflow.pyfunc
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    model = mlflow.pyfunc.load_model("models:/digits-cnn@production")
assert not [w for w in seen if w.category.__name__ == "KeelCodeWarning"], "code version warning"
out = model.predict(pd.read_parquet("rows.parquet"))
import components
print(json.dumps({{"predictions": out["prediction"].tolist(), "components": components.__file__,
                  "path": sys.path}}))
"""


@pytest.fixture(scope="module")
def clean_venv(registered, tmp_path_factory):
    import mlflow.pyfunc

    requirements = Path(mlflow.pyfunc.get_model_dependencies("models:/digits-cnn@production")).read_text()
    wanted = [r for r in requirements.splitlines() if r.strip() and not r.startswith("#")]
    assert not any(r.split("==")[0].lower() in ("keel", "components") for r in wanted), wanted
    venv = tmp_path_factory.mktemp("clean-venv")
    cleanenv.build(venv, wanted)
    return venv


def test_registered_model_loads_and_predicts_without_keel(registered, clean_venv, digits_frame, tmp_path):
    import mlflow.pyfunc

    rows = digits_frame.drop(columns="label").head(50)
    rows.to_parquet(tmp_path / "rows.parquet")
    env = cleanenv.environment(clean_venv, MLFLOW_TRACKING_URI=os.environ["MLFLOW_TRACKING_URI"])
    cpu = child_cpu_s()
    done = subprocess.run([str(clean_venv / "bin" / "python"), "-I", "-c", CLEAN_LOAD.format(keel=cleanenv.KEEL)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"\nclean venv: load + predict took {child_cpu_s() - cpu:.1f} CPU s")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any(p.startswith(str(ROOT)) for p in out["path"] + [out["components"]]), out
    assert "/code/components/" in out["components"]  # the model's packaged copy
    here = mlflow.pyfunc.load_model("models:/digits-cnn@production").predict(rows)["prediction"].tolist()
    assert out["predictions"] == here


def test_mlflow_models_serve_answers_from_the_clean_venv(registered, clean_venv, digits_frame, tmp_path):
    port = free_port()
    env = cleanenv.environment(clean_venv, MLFLOW_TRACKING_URI=os.environ["MLFLOW_TRACKING_URI"])
    cpu = child_cpu_s()
    proc = subprocess.Popen([str(clean_venv / "bin" / "mlflow"), "models", "serve", "-m",
                             "models:/digits-cnn@production", "--env-manager", "local", "-p", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(proc, url)
        pixels = digits_frame.drop(columns="label").head(5)
        status, out = call(f"{url}/invocations", {"dataframe_split": {"columns": list(pixels.columns),
                                                                      "data": pixels.values.tolist()}})
        assert status == 200 and len(out["predictions"]) == 5, out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        print(f"\nmlflow models serve (clean venv): {child_cpu_s() - cpu:.1f} CPU s")
