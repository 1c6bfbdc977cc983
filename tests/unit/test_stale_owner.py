"""`stale_runs.gone` on crafted owner tags: a run is its dead owner's only when the owner's host, pid namespace
and boot are this one's and its pid is absent or now another process's; anything it cannot judge stays."""

import os
import socket
import subprocess

import pytest

from components.lifecycle import stale_runs as sr

pytestmark = pytest.mark.skipif(sr.boot_id() is None or sr.pid_namespace() is None, reason="needs Linux /proc")


def tags(**over: str) -> dict[str, str]:
    """This process's owner tags, with `over` (keys without the `keel.owner.` prefix) replaced."""
    return sr.owner_tags() | {f"keel.owner.{k}": v for k, v in over.items()}


def dead_pid() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: the pid is free
    return str(proc.pid)


def test_own_process_is_alive_even_after_a_clock_step():
    assert sr.gone(tags()) is None
    assert sr.gone(tags(started=f"{sr.started(os.getpid()) - 3600:.3f}")) is None  # NTP stepped the clock an hour


def test_dead_pid_and_reused_pid_are_gone():
    assert sr.gone(tags(pid=dead_pid())).endswith("is not running")
    ticks = int(sr.owner_tags()[sr.OWNER_TICKS])
    assert "now belongs to a process started at tick" in sr.gone(tags(ticks=str(ticks + 1)))


def test_another_boot_is_gone_another_pid_namespace_or_host_is_left_alone():
    assert "rebooted" in sr.gone(tags(boot="00000000-0000-0000-0000-000000000000"))
    assert sr.gone(tags(pid=dead_pid(), pidns="1")) is None  # a container sharing the hostname
    assert sr.gone(tags(pid=dead_pid(), host=socket.gethostname() + "-other")) is None
    assert sr.gone({sr.OWNER_HOST: socket.gethostname()}) is None  # no pid: cannot tell


def test_a_pid_hidden_from_proc_is_alive_unless_signal_0_says_it_does_not_exist(monkeypatch):
    monkeypatch.setattr(sr, "proc_stat", lambda pid: None)  # /proc mounted with hidepid=2: others' pids invisible
    assert sr.gone(tags(pid="1")) is None  # pid 1 exists (signal 0: allowed as root, EPERM otherwise)
    assert sr.gone(tags(pid=dead_pid())).endswith("is not running")

    def eperm(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sr.os, "kill", eperm)  # another user's process, as a non-root sweeper sees it
    assert sr.gone(tags(pid=dead_pid())) is None


def test_runs_tagged_before_boot_ids_are_gone_only_when_the_pid_is_plainly_absent():
    old = {sr.OWNER_HOST: socket.gethostname(), sr.OWNER_STARTED: "1000.0"}
    assert sr.gone(old | {sr.OWNER_PID: str(os.getpid())}) is None  # maybe reused: left alone
    assert sr.gone(old | {sr.OWNER_PID: dead_pid()}).endswith("is not running")
