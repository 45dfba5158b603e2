"""Start, track and stop the processes the local stack owns (by pid and start time)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Proc:
    name: str
    pid: int
    started: str  # /proc/<pid>/stat start time: guards against a reused pid
    port: int = 0

    def alive(self) -> bool:
        return _start_time(self.pid) == self.started

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return "" if fields[0] in ("Z", "X") else fields[19]  # a zombie is not alive
    except (OSError, IndexError):
        return ""


_given: set[int] = set()
_given_lock = threading.Lock()


def free_port() -> int:
    """A port free now, and never one this process handed out before: the kernel may give a
    just-released port again, and components started together bind theirs only later (two
    functions once got the same one, and the second never started)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with _given_lock:
            if port not in _given:
                _given.add(port)
                return port


def start(
    name: str,
    argv: list[str],
    log_path: str,
    env: dict[str, str] | None = None,
    port: int = 0,
    cwd: str | None = None,
) -> Proc:
    """Start a process in its own session (so its whole group can be stopped)."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    popen = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    log.close()
    for _ in range(100):
        started = _start_time(popen.pid)
        if started:
            return Proc(name, popen.pid, started, port)
        time.sleep(0.01)
    raise RuntimeError(f"{name} did not start (see {log_path})")


def stop(proc: Proc, timeout: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL what is left."""
    if not proc.alive():
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        _reap(proc.pid)
        time.sleep(0.05)
    if proc.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    _reap(proc.pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, proc: Proc | None = None, log_path: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and not proc.alive():
            break
        time.sleep(0.1)
    tail = ""
    if log_path and os.path.exists(log_path):
        with open(log_path, errors="replace") as f:
            tail = "".join(f.readlines()[-15:])
    state = "exited" if proc is not None and not proc.alive() else f"not ready after {timeout:.0f}s"
    raise RuntimeError(f"{what} {state}; last log lines:\n{tail}")


def http_ok(url: str, headers: dict[str, str] | None = None, context: object = None) -> bool:
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=2, context=context) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Launch:
    """How a running process was started (read back from /proc), to start it again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    port: int


def launch_of(proc: Proc) -> Launch:
    """The command line, environment and folder of one of our running processes."""
    with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    with open(f"/proc/{proc.pid}/environ", "rb") as f:
        env = dict(e.decode(errors="replace").split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return Launch(proc.name, argv, env, os.readlink(f"/proc/{proc.pid}/cwd"), proc.port)


def relaunch(launch: Launch, log_path: str, env: dict[str, str] | None = None) -> Proc:
    """Start a process again exactly as it was (same port), with optional env overrides."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    popen = subprocess.Popen(
        launch.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**launch.env, **(env or {})},
        cwd=launch.cwd,
        start_new_session=True,
    )
    log.close()
    for _ in range(100):
        started = _start_time(popen.pid)
        if started:
            return Proc(launch.name, popen.pid, started, launch.port)
        time.sleep(0.01)
    raise RuntimeError(f"{launch.name} did not start again (see {log_path})")
