"""The renderers' OS sandbox: every program that reads a tenant's files runs here.

A render runs helm, kustomize (or kubectl kustomize) or the Jsonnet evaluator on a
materialised tree (shared/render/tree.py) inside bubblewrap, with:

- new user, mount, PID, network, IPC and UTS namespaces (`--unshare-all`): only loopback,
  a fresh /proc showing the sandbox's own processes, no capabilities;
- nothing of the host but /usr (read-only), the binary it runs, the checked tree at /src
  (read-only), our own inputs at /in (read-only) and a size-limited tmpfs at /tmp, the only
  place it can write (the root bwrap builds is remounted read-only);
- an empty environment: bwrap itself starts with none (PID 1 inside is bwrap, and its
  /proc/1/environ would show ours), the renderer gets only PATH, HOME and the like;
- a real uid of its own per run, so RLIMIT_NPROC counts only its processes; rlimits on
  writable memory (RLIMIT_DATA: Go and Python heaps), CPU seconds, file size, processes and
  open files, set between fork and exec, before anything tenant-controlled runs;
- output read as it arrives and capped there; on the deadline or a cap the whole process
  group is killed, and the PID namespace dies with its first process (no orphans).

Rendering fails closed: when bwrap is missing or cannot start, the render ends with a
finding saying so. GITOPS_RENDER_SANDBOX=off runs renderers without the namespaces (for a
development machine without bubblewrap only); every such run logs an error saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import itertools
import os
import re
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.platform import config, logs
from shared.render.tree import LIMITS, Limits, Refused, refused

__all__ = ["LIMITS", "Binary", "Limits", "Refused", "binary", "places", "problem", "python_binary", "run"]

TREE, INPUTS, SCRATCH = "/src", "/in", "/tmp"  # where the sandbox sees them
_STDERR_KEPT = 64 * 1024
_SCRATCH_BYTES = 64 * 1024 * 1024
_UIDS = itertools.count()
_UID_LOCK = threading.Lock()
_UID_BASE, _UID_SPAN = 200_000, 100_000


@dataclass(frozen=True)
class Binary:
    """A program to run in the sandbox: its host path, where it is mounted, and what else
    of the host it needs (read-only)."""

    host: str
    inside: str
    needs: tuple[tuple[str, str], ...] = ()  # (host path, path inside)


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A private folder for one render (removed after), under a root-owned folder that any uid
    may traverse but not list: the sandbox's own uid must be able to reach what it mounts,
    whatever TMPDIR's parents allow. GITOPS_RENDER_TMP sets where (default /tmp/gitops-render)."""
    top = Path(config.render_tmp_root())
    top.mkdir(mode=0o711, parents=True, exist_ok=True)
    top.chmod(0o711)
    folder = Path(tempfile.mkdtemp(prefix="render-", dir=top))
    try:
        folder.chmod(0o711)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def disabled() -> bool:
    return config.render_sandbox_off()


def problem() -> str | None:
    """Why the sandbox cannot run here, or None."""
    if disabled():
        return None
    if shutil.which("bwrap") is None:
        return "the renderer sandbox cannot start: bwrap is not installed (Debian: bubblewrap)"
    return None


def _reachable(path: str) -> bool:
    """Whether any uid may read path: every folder above it searchable, the file readable."""
    folder = os.path.dirname(path)
    while folder not in ("/", ""):
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
        folder = os.path.dirname(folder)
    return bool(os.stat(path).st_mode & stat.S_IROTH)


_staged: dict[str, str] = {}


def _stage(path: str) -> str:
    """A copy of a file the sandbox's uid may read (a binary under /root, say), made once in a
    root-owned folder: bwrap runs as that uid and must be able to look its mounts up."""
    real = os.path.realpath(path)
    if _reachable(real):
        return real
    st = os.stat(real)
    key = f"{real}:{st.st_size}:{st.st_mtime_ns}"
    if key not in _staged:
        folder = config.sandbox_stage_root()
        os.makedirs(folder, mode=0o755, exist_ok=True)
        os.chmod(folder, 0o755)
        name = hashlib.sha256(key.encode()).hexdigest()[:12] + "-" + os.path.basename(real)
        target = os.path.join(folder, name)
        if not os.path.exists(target):
            tmp = target + f".{os.getpid()}.tmp"
            shutil.copyfile(real, tmp)
            os.chmod(tmp, 0o755)
            os.replace(tmp, target)
        _staged[key] = target
    return _staged[key]


def binary(path: str) -> Binary:
    """A static binary (helm, kustomize, kubectl): from /usr as it is, else mounted alone
    at /opt/bin."""
    real = os.path.realpath(path)
    if real.startswith("/usr/"):
        return Binary(real, real)
    return Binary(_stage(real), "/opt/bin/" + os.path.basename(path))


def python_binary() -> Binary:
    """A Python of this version from /usr (the system's, read-only with /usr) and the Jsonnet
    binding alone at /opt/py; else this Python's own install prefix."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    spec = importlib.util.find_spec("_gojsonnet")
    needs: list[tuple[str, str]] = []
    if spec is not None and spec.origin:
        needs.append((_stage(spec.origin), "/opt/py/" + os.path.basename(spec.origin)))
    system = f"/usr/bin/{version}"
    if os.access(system, os.X_OK):
        return Binary(system, system, tuple(needs))
    prefix = os.path.realpath(sys.base_prefix)
    exe = os.path.join(prefix, "bin", version)
    return Binary(exe, exe, ((prefix, prefix), *needs))


def _uid() -> int:
    with _UID_LOCK:
        return _UID_BASE + (os.getpid() * 131 + next(_UIDS)) % _UID_SPAN


def _limiter(limits: Limits) -> Callable[[], None]:
    """Set the run's rlimits in the child between fork and exec (before anything of the
    tenant's runs; inherited through bwrap). A plain syscall each: no lock, no allocation
    of note, so it is safe in a threaded parent."""
    values = (
        (resource.RLIMIT_DATA, limits.memory),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_NOFILE, 1024),
        (resource.RLIMIT_CORE, 0),
    )

    def limit() -> None:
        for which, value in values:
            # CPU: SIGXCPU at the soft limit (named as such), SIGKILL a second later
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))

    return limit


def _environment() -> dict[str, str]:
    home = f"{SCRATCH}/home"
    env = {
        "PATH": "/opt/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "TMPDIR": SCRATCH,
        "KUBECONFIG": f"{home}/no-kubeconfig",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HELM_CACHE_HOME": f"{home}/cache",
        "HELM_CONFIG_HOME": f"{home}/config",
        "HELM_DATA_HOME": f"{home}/data",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = "http://127.0.0.1:9"  # a second wall: there is no network to reach anyway
    return env


def _bwrap_argv(prog: Binary, tree: Path, inputs: Path | None, fds: list[int]) -> list[str]:
    """bwrap's argv. Host paths are opened here (we may traverse folders the sandbox's uid
    may not) and bound by fd, so the sandbox never needs to look a host path up."""

    def bind(host: str, inside: str) -> list[str]:
        fd = os.open(host, os.O_PATH | os.O_CLOEXEC)
        fds.append(fd)
        return ["--ro-bind-fd", str(fd), inside]

    argv = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "render",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        *_proc(),
        "--dev",
        "/dev",
        "--size",
        str(_SCRATCH_BYTES),
        "--tmpfs",
        SCRATCH,
        "--dir",
        f"{SCRATCH}/home",
        *bind(str(tree), TREE),
    ]
    if inputs is not None:
        argv += bind(str(inputs), INPUTS)
    if not prog.inside.startswith("/usr/"):
        argv += bind(prog.host, prog.inside)
    for host, inside in prog.needs:
        argv += bind(host, inside)
    for name, value in _environment().items():
        argv += ["--setenv", name, value]
    # the root bwrap builds is a tmpfs of no set size: read-only, so only /tmp (sized) is writable
    return [*argv, "--remount-ro", "/", "--chdir", SCRATCH, "--uid", "65534", "--gid", "65534", "--"]


_PROC_PROBE = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
    "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true",
]  # fmt: skip
_proc_args: list[str] | None = None
_proc_lock = threading.Lock()


def _proc() -> list[str]:
    """A fresh /proc for the renderer's PID namespace, or none at all where the kernel refuses
    to mount one: inside a container runtime that masks parts of its /proc (Docker's default
    covers /proc/kcore, /proc/sys and others), a nested proc mount is "too revealing" and
    fails. Helm, kubectl and Python need no /proc; the host's is never mounted in its place.
    Probed once per process, as the sandbox's own kind of uid."""
    global _proc_args
    with _proc_lock:
        if _proc_args is None:
            try:
                probe = subprocess.run(
                    _PROC_PROBE, capture_output=True, text=True, timeout=30, check=False, **_identity()
                )
            except (OSError, subprocess.SubprocessError):
                return ["--proc", "/proc"]  # the run itself then fails closed, with the reason
            if probe.returncode == 0:
                _proc_args = ["--proc", "/proc"]
            elif "mount proc" in probe.stderr:
                _proc_args = ["--dir", "/proc"]
                logs.warning(
                    "renderers run with no /proc: this runtime refuses a nested proc mount",
                    detail=probe.stderr.strip()[:300],
                )
            else:
                _proc_args = ["--proc", "/proc"]  # the run itself then fails closed, with bwrap's reason
        return _proc_args


def places(tree: Path, inputs: Path | None) -> tuple[str, str]:
    """Where a renderer sees the tree and our inputs: /src and /in, or their host paths when
    the sandbox is off."""
    if disabled():
        return str(tree), str(inputs or tree)
    return TREE, INPUTS


def command_line(
    prog: Binary, args: list[str], tree: Path, inputs: Path | None, fds: list[int]
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run `prog args` in the sandbox (fds: opened for it,
    to pass to it and close after)."""
    if disabled():
        env = _environment() | {"HOME": str(tree.parent / "home"), "TMPDIR": str(tree.parent)}
        Path(env["HOME"]).mkdir(exist_ok=True)
        return [prog.host, *args], env
    return [*_bwrap_argv(prog, tree, inputs, fds), prog.inside, *args], {}


def _identity() -> dict[str, Any]:
    """A real uid and gid of the run's own (when we are root), so RLIMIT_NPROC counts only its
    processes and nothing of ours is its to signal."""
    if os.geteuid() != 0 or disabled():
        return {}
    uid = _uid()
    return {"user": uid, "group": uid, "extra_groups": []}


def run(
    prog: Binary,
    args: list[str],
    *,
    tree: Path,
    inputs: Path | None,
    where: str,
    what: str,
    limits: Limits = LIMITS,
) -> bytes:
    """stdout of `prog args` run in the sandbox over the checked tree (at /src) and our own
    inputs (at /in). Refused with the renderer's message when it fails, with the limit when
    one is hit, and with the reason when the sandbox cannot start."""
    reason = problem()
    if reason:
        raise refused(where, reason)
    if disabled():
        logs.error(
            "RENDER SANDBOX DISABLED (GITOPS_RENDER_SANDBOX=off): a renderer runs with the "
            "function's filesystem and network; never do this outside development",
            what=what,
        )
    fds: list[int] = []
    try:
        argv, env = command_line(prog, args, tree, inputs, fds)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            pass_fds=fds,
            cwd="/" if not disabled() else str(tree.parent),
            preexec_fn=_limiter(limits),
            **_identity(),
        )
    except OSError as exc:
        raise refused(where, f"the renderer sandbox cannot start: {exc.strerror}") from None
    finally:
        for fd in fds:
            os.close(fd)
    out, err, over = _collect(proc, limits)
    if over:
        raise refused(where, f"{what} {over} (limit)")
    if proc.returncode != 0:
        if _OUT_OF_MEMORY.search(err):
            raise refused(where, f"{what} needed more than {limits.memory:,} bytes of memory (limit)")
        if proc.returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            raise refused(where, f"{what} used more than {limits.cpu_seconds}s of CPU (limit)")
        if proc.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL):
            raise refused(where, f"{what} was killed by the kernel (a CPU or memory limit)")
        if proc.returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
            raise refused(where, f"{what} wrote a file larger than {limits.file_size:,} bytes (limit)")
        text = _error_text(err, tree, inputs)
        if text.startswith("bwrap:"):
            raise refused(where, f"the renderer sandbox cannot start: {text}")
        raise refused(where, f"{what}: {text}")
    return out


_OUT_OF_MEMORY = re.compile(
    rb"fatal error: out of memory|runtime: out of memory|cannot allocate memory|"
    rb"\bMemoryError\b|std::bad_alloc"
)


def _collect(proc: subprocess.Popen[bytes], limits: Limits) -> tuple[bytes, bytes, str]:
    """(stdout, the tail of stderr, why it was stopped or ''), reading both as they come."""
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + limits.seconds
    out: list[bytes] = []
    size, err, over = 0, b"", ""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                over = f"took longer than {limits.seconds:g}s"
                break
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    size += len(chunk)
                    if size > limits.output:
                        over = f"printed more than {limits.output:,} bytes"
                        break
                    out.append(chunk)
                else:
                    err = (err + chunk)[-_STDERR_KEPT:]
            if over:
                break
    finally:
        sel.close()
        if over:
            _kill(proc)
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            over = over or f"took longer than {limits.seconds:g}s"
            _kill(proc)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return b"".join(out), err, over


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The whole sandbox: its process group (bwrap), and with it the PID namespace it holds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _error_text(stderr: bytes, tree: Path, inputs: Path | None) -> str:
    """The renderer's message (its last lines), with our folders taken out of the paths it names."""
    text = stderr.decode(errors="replace")
    for folder in (TREE, INPUTS, str(tree), str(inputs or TREE)):
        text = text.replace(folder + "/", "")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " ".join(lines[-3:])[:1000] if lines else "failed"
