"""`keel worker` stops on ONE SIGTERM or SIGINT, as a process manager sends it.

The child is a real process that behaves as `prefect worker start` does when a flow run is in progress: the
first stop signal does not end it, the second does. It stands in for `prefect` on PATH (a real worker on an
idle pool stops on one signal; one busy with a flow run waits for the run, which a unit test cannot host).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_PREFECT = f"""#!{sys.executable}
import os, signal, sys, time
log = open(os.environ["WORKER_LOG"], "a", buffering=1)
def stop(signum, frame):
    log.write(signal.Signals(signum).name + "\\n")
    if log.tell() and open(os.environ["WORKER_LOG"]).read().count("SIG") >= 2:
        sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
log.write(f"started {{os.getpid()}} {{' '.join(sys.argv[1:])}}\\n")
while True:
    time.sleep(0.05)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_one_signal_stops_the_worker_and_says_so(tmp_path, signum):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "prefect").write_text(FAKE_PREFECT)
    (bin_dir / "prefect").chmod(0o755)
    log = tmp_path / "worker.log"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", WORKER_LOG=str(log),
               PREFECT_API_URL="http://127.0.0.1:9/api")
    keel = subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--pool", "cpu", "--grace", "1"],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    child = None
    try:
        deadline = time.time() + 60
        while not (log.exists() and "started" in log.read_text()):
            if time.time() > deadline or keel.poll() is not None:
                pytest.fail(f"keel worker did not start the (fake) prefect worker within 60 s (exit code "
                            f"{keel.poll()})")
            time.sleep(0.1)
        started = log.read_text().splitlines()[0].split()
        child = int(started[1])
        assert started[2:] == ["worker", "start", "--pool", "cpu", "--type", "process"]
        keel.send_signal(signum)  # once
        try:
            status = keel.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"keel worker still running 15 s after one {signum.name}")
        assert status == -signum  # ended by the signal: a shell shows 128+N, systemd a clean stop
        assert log.read_text().splitlines()[1:] == [signum.name, signum.name]  # forwarded, repeated after grace
        assert f"after {signum.name}; sending {signum.name}" in keel.stderr.read()
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)  # the child is gone, not orphaned
    finally:  # whatever failed: neither process outlives the test
        if keel.poll() is None:
            keel.kill()
            keel.wait(timeout=30)
        keel.stderr.close()
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


FLOW_RUN = f"""import os, subprocess, sys
run = subprocess.Popen([{sys.executable!r}, "-c", "import time; time.sleep(600)"], start_new_session=True)
open(os.environ["WORKER_LOG"], "a").write(f"flow-run {{run.pid}}\\n")
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])  # SIGHUP: the terminal closed
def test_one_signal_also_stops_flow_runs_in_their_own_session(tmp_path, signum):
    """Prefect's process worker starts each flow run with start_new_session=True: a signal to the worker's group
    misses it; keel must reach it, or the run outlives the worker."""
    import psutil

    bin_dir, log = tmp_path / "bin", tmp_path / "worker.log"
    bin_dir.mkdir()
    fake = FAKE_PREFECT.replace("while True:", FLOW_RUN + "while True:")  # a worker busy with one flow run
    (bin_dir / "prefect").write_text(fake)
    (bin_dir / "prefect").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", WORKER_LOG=str(log),
               PREFECT_API_URL="http://127.0.0.1:9/api")
    keel = subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--grace", "1"], cwd=ROOT, env=env,
                            stderr=subprocess.DEVNULL)
    run = None
    try:
        deadline = time.time() + 60
        while not (log.exists() and "flow-run" in log.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        run = psutil.Process(int(log.read_text().split("flow-run ")[1].split()[0]))
        assert os.getsid(run.pid) == run.pid  # its own session, as Prefect starts it
        keel.send_signal(signum)  # once
        assert keel.wait(timeout=15) == -signum
        deadline = time.time() + 5

        def ended() -> bool:  # reaped, or a zombie not reaped yet
            try:
                return not run.is_running() or run.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        while not ended() and time.time() < deadline:
            time.sleep(0.05)
        assert ended(), "the flow run outlived keel worker"
    finally:
        keel.kill()
        keel.wait()
        if run is not None and run.is_running():
            run.kill()
