"""`keel serve` against `mlflow models serve` on the same registered model and the same requests, side by side.

    python bench/serve_load.py [--clients 16] [--rows 32] [--seconds 20] [--malformed 0.05] [--workers 1]

For each server (started here, on 127.0.0.1, one worker each): first one client sends one-row requests, one after
another; then `--clients` threads send requests of `--rows` raw digits rows over keep-alive connections for
`--seconds`, `--malformed` of them broken (bad JSON, a missing column, a string value, a duplicate column), while a
pinger calls `/ping` every 50 ms. Printed per server: throughput (req/s), p50 and p99 latency, answers by status
class, `/ping` p50/p99 while loaded, one-row p50, peak RSS of the server's processes, the server's CPU time per
request in both phases (what load on a shared machine does not inflate much), and the HTTP stack's floor: one
client calling `/ping` (an empty endpoint) one call after another. Goals (issue 11): no 5xx, `/ping` p99 < 50 ms
while scoring, one-row p50 <= 5 ms, keel throughput >= 3x the 31 req/s keel served before and >= MLflow's. The
model is the default digits CNN with random weights (bench/batch_vs_raw.py's setup), registered as
bench-cnn@production in a temp store; `keel serve` logs what it scores (params.yaml's monitor.log), as deployed. Run it
on a quiet machine: wall-clock figures measured while other work shares the cores mean little (the CPU per request
and the keel/mlflow ratios of one run say more).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from batch_vs_raw import setup

ROOT = Path(__file__).resolve().parents[1]
OLD_KEEL_REQ_S = 31.0  # 16 clients x 32 rows, keel serve before the lean path (issue 11, quiet machine)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_usage(pid: int) -> tuple[float, float]:
    """Resident memory (MB) and CPU seconds so far (user + system) of `pid` and its children (uvicorn workers)."""
    rss, cpu, tick = 0.0, 0.0, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # the fields after the command name
            if entry.name == str(pid) or stat[1] == str(pid):
                cpu += (int(stat[11]) + int(stat[12])) / tick
                status = (entry / "status").read_text().splitlines()
                rss += next((int(x.split()[1]) for x in status if x.startswith("VmRSS:")), 0) / 1024  # 0: a zombie
        except (OSError, ValueError, IndexError):
            continue
    return rss, cpu


def bodies(pixels, rows: int, n: int) -> tuple[list[bytes], list[bytes]]:
    """`n` good request bodies of `rows` rows each, and broken ones of each kind."""
    columns = list(pixels.columns)
    good = []
    for i in range(n):
        chunk = pixels.iloc[(i * rows) % (len(pixels) - rows):][:rows]
        good.append(json.dumps({"dataframe_split": {"columns": columns, "data": chunk.values.tolist()}}).encode())
    row = pixels.iloc[0].tolist()
    bad = [b'{"dataframe_split": {"columns": [',
           json.dumps({"dataframe_split": {"columns": columns[1:], "data": [row[1:]]}}).encode(),
           json.dumps({"dataframe_split": {"columns": columns, "data": [["x", *row[1:]]]}}).encode(),
           json.dumps({"dataframe_split": {"columns": [columns[0], *columns[:-1]], "data": [row]}}).encode()]
    return good, bad


def post(conn: http.client.HTTPConnection, path: str, body: bytes | None) -> int:
    conn.request("POST" if body is not None else "GET", path, body=body,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def load(port: int, good: list[bytes], bad: list[bytes], clients: int, seconds: float, malformed: float,
         pid: int) -> dict:
    latencies, statuses, pings, peak = [], [], [], [0.0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng, conn = random.Random(seed), http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < stop:
            body = rng.choice(bad) if rng.random() < malformed else rng.choice(good)
            start = time.perf_counter()
            try:
                status = post(conn, "/invocations", body)
            except (OSError, http.client.HTTPException):
                status, conn = 599, http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses.append(status)

    def pinger() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            post(conn, "/ping", None)
            pings.append(time.perf_counter() - start)
            peak[0] = max(peak[0], tree_usage(pid)[0])
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)] + [threading.Thread(target=pinger)]
    began, cpu = time.perf_counter(), tree_usage(pid)[1]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - began, tree_usage(pid)[1] - cpu
    return {"req_s": len(statuses) / wall, "cpu_ms_per_req": cpu / max(len(statuses), 1) * 1e3,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99),
            "2xx": sum(200 <= s < 300 for s in statuses), "4xx": sum(400 <= s < 500 for s in statuses),
            "5xx": sum(s >= 500 for s in statuses), "ping_p50_ms": pct(pings, 50), "ping_p99_ms": pct(pings, 99),
            "peak_rss_mb": peak[0]}


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1e3 if len(values) > 1 else float("nan")


def sequential(port: int, path: str, body: bytes | None, pid: int, n: int = 200) -> tuple[float, float]:
    """One client, one call after another: p50 latency (ms) and the server's CPU per call (ms)."""
    conn, times, cpu = http.client.HTTPConnection("127.0.0.1", port, timeout=60), [], tree_usage(pid)[1]
    for _ in range(n):
        start = time.perf_counter()
        status = post(conn, path, body)
        assert status == 200, f"{path}: HTTP {status}"
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, (tree_usage(pid)[1] - cpu) / n * 1e3


def start(kind: str, port: int, env: dict, log: Path, workers: int = 1) -> subprocess.Popen:
    cmd = ([sys.executable, "-m", "flows.cli", "serve", "bench-cnn", "--port", str(port), "--workers", str(workers)]
           if kind == "keel serve"
           else [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/bench-cnn@production",
                 "--env-manager", "local", "-p", str(port), "--host", "127.0.0.1"])
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            if post(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/ping", None) == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{kind} did not start on port {port} ({' '.join(cmd)}):\n{log.read_text()[-3000:]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rows", type=int, default=32)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--malformed", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=1, help="keel serve's worker processes (mlflow: its default)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/serve_load.json")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        pixels = setup(Path(tmp), 2000)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true",
               "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # mlflow runs `uvicorn` from PATH
        good, bad = bodies(pixels, args.rows, 64)
        one = json.dumps({"dataframe_split": {"columns": list(pixels.columns),
                                              "data": pixels.head(1).values.tolist()}}).encode()
        for kind in ("keel serve", "mlflow models serve"):
            port = free_port()
            proc = start(kind, port, env, Path(tmp) / f"{kind.split()[0]}.log", args.workers)
            try:
                sequential(port, "/invocations", one, proc.pid, 20)  # warm up
                alone = {}  # before the load: its log's conversion would be counted against one-row requests
                for name, path, body in (("one_row", "/invocations", one), ("empty_ping", "/ping", None)):
                    try:
                        p50, cpu = sequential(port, path, body, proc.pid)
                    except (OSError, AssertionError, http.client.HTTPException) as e:
                        print(f"{kind}: {name} failed: {e}", file=sys.stderr)
                        p50 = cpu = float("nan")
                    alone |= {f"{name}_p50_ms": p50, f"{name}_cpu_ms": cpu}
                results[kind] = load(port, good, bad, args.clients, args.seconds, args.malformed, proc.pid) | alone
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"{args.clients} clients x {args.rows} rows, {args.seconds:g} s, {args.malformed:.0%} malformed")
    print(f"{'':22}" + "".join(f"{k:>22}" for k in results))
    for metric in next(iter(results.values())):
        print(f"{metric:22}" + "".join(f"{r[metric]:>22.1f}" for r in results.values()))
    keel, mlflow = results["keel serve"], results["mlflow models serve"]
    print(f"throughput keel/mlflow: {keel['req_s'] / mlflow['req_s']:.2f}x (goal >= 1); keel/old keel: "
          f"{keel['req_s'] / OLD_KEEL_REQ_S:.2f}x (goal >= 3, old {OLD_KEEL_REQ_S:g} req/s); keel 5xx: {keel['5xx']} "
          f"(goal 0); keel /ping p99 while scoring: {keel['ping_p99_ms']:.1f} ms (goal < 50)")
    print(f"one row: keel p50 {keel['one_row_p50_ms']:.1f} ms (goal <= 5), mlflow {mlflow['one_row_p50_ms']:.1f} ms; "
          f"keel/mlflow latency {keel['one_row_p50_ms'] / mlflow['one_row_p50_ms']:.2f}x; HTTP floor (empty /ping, "
          f"one client): keel {keel['empty_ping_p50_ms']:.2f} ms, mlflow {mlflow['empty_ping_p50_ms']:.2f} ms")
    print(f"server CPU per request: loaded keel {keel['cpu_ms_per_req']:.2f} ms vs mlflow "
          f"{mlflow['cpu_ms_per_req']:.2f} ms ({mlflow['cpu_ms_per_req'] / keel['cpu_ms_per_req']:.1f}x less); one row "
          f"keel {keel['one_row_cpu_ms']:.2f} ms vs mlflow {mlflow['one_row_cpu_ms']:.2f} ms; load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(vars(args) | {"out": str(args.out), "results": results}, indent=2))


if __name__ == "__main__":
    main()
