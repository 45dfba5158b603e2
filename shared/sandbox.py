"""The renderers' sandbox: the repository's files, limits, and running a renderer without network.

A Tree is a repository at one commit (GitTree, read with dulwich) or a local checkout
(FolderTree, for `gitops render PATH`). A commit is materialised into a private temp folder
for the renderers that need a folder; symlinks leaving the repository are refused. Every
renderer runs through `run`: a minimal environment (no credentials, a private HOME,
HTTP(S)_PROXY pointing at a closed port on 127.0.0.1) and the time limit. The limits on
time, files, bytes and resources are in one place: LIMITS.
"""

from __future__ import annotations

import functools
import os
import posixpath
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import gitfetch
from shared.render import Finding


@dataclass(frozen=True)
class Limits:
    seconds: float = 60  # per renderer run
    files: int = 10_000  # files read from the repository
    bytes: int = 100 * 1024 * 1024  # bytes read, and bytes a renderer may print
    resources: int = 20_000  # objects rendered


LIMITS = Limits()
CLOSED_PROXY = "http://127.0.0.1:9"  # nothing listens there: a renderer reaching out fails at once


class Refused(Exception):
    """Rendering cannot go on; the finding says why (limit, sandbox, missing tool)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


# ---- the repository's files, from a commit or a local folder -------------------------

@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository root
    link: str | None  # a symlink's target as written, else None
    read: Callable[[], bytes] = field(repr=False, compare=False, default=bytes)  # read when needed

    @property
    def data(self) -> bytes:
        return self.read()


class Tree:
    """A repository's files at one commit (GitTree) or on disk (FolderTree)."""

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        raise NotImplementedError

    def materialise(self, dest: Path, budget: Budget) -> Path:
        """The repository as a folder for a renderer (written under dest); its path."""
        for entry in self.entries(""):
            data = entry.data if entry.link is None else b""
            budget.take(len(data))
            out = dest / entry.path
            out.parent.mkdir(parents=True, exist_ok=True)
            if entry.link is not None:
                link_target(entry)
                os.symlink(entry.link, out)
            else:
                out.write_bytes(data)
        dest.mkdir(parents=True, exist_ok=True)
        return dest


class GitTree(Tree):
    def __init__(self, repo: Any, commit: str) -> None:
        self.repo, self.commit = repo, commit

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        for path, mode, blob in gitfetch.entries(self.repo, self.commit, folder, recurse):
            if (mode & 0o170000) == 0o120000:
                yield Entry(path, gitfetch.blob(self.repo, blob).decode(errors="replace"))
            else:
                yield Entry(path, None, functools.partial(gitfetch.blob, self.repo, blob))


class FolderTree(Tree):
    """A local checkout (for `gitops render PATH`); root is the repository's top folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def materialise(self, dest: Path, budget: Budget) -> Path:
        return self.root  # the user's own checkout: renderers read it in place

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        top = self.root / folder.strip("/") if folder.strip("/") not in ("", ".") else self.root
        if not top.is_dir():
            raise FileNotFoundError(f"path {folder!r} is not a folder under {self.root}")
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != ".git" and not os.path.islink(os.path.join(dirpath, d)))
            names = sorted(files) + sorted(d for d in os.listdir(dirpath)
                                           if os.path.islink(os.path.join(dirpath, d))
                                           and os.path.isdir(os.path.join(dirpath, d)))
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if os.path.islink(full):
                    yield Entry(rel, os.readlink(full))
                elif os.path.isfile(full):
                    yield Entry(rel, None, Path(full).read_bytes)
            if not recurse:
                return


def link_target(entry: Entry) -> str:
    """The repository path a symlink points at; Refused when it leaves the repository."""
    target = entry.link or ""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise Refused(Finding(entry.path, 0, 0, "", f"symlink to {target!r} leaves the repository "
                                                    "(refused)"))
    return resolved


class Budget:
    """Counts files and bytes read against the limits."""

    def __init__(self, where: str, limits: Limits) -> None:
        self.where, self.limits, self.files, self.bytes = where, limits, 0, 0

    def take(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.limits.files:
            raise Refused(Finding(self.where, 0, 0, "", f"more than {self.limits.files:,} files to "
                                                        "read (limit)"))
        if self.bytes > self.limits.bytes:
            raise Refused(Finding(self.where, 0, 0, "", f"more than {self.limits.bytes:,} bytes to "
                                                        "read (limit)"))


# ---- running a renderer ---------------------------------------------------------------

def environment(tmp: Path) -> dict[str, str]:
    """A minimal environment: no credentials, no user config, any network through a closed port."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "TMPDIR": str(tmp), "KUBECONFIG": str(home / "no-kubeconfig"),
           "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "NO_PROXY": "", "no_proxy": "",
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = CLOSED_PROXY
    return env


def run(command: list[str], tmp: Path, root: Path, where: str, what: str, limits: Limits,
        stdin: bytes | None = None) -> bytes:
    """stdout of a renderer run in the sandbox (in tmp, the repository at root); Refused
    with the renderer's own message when it fails."""
    try:
        proc = subprocess.run(command, input=stdin, capture_output=True, cwd=tmp, env=environment(tmp),
                              timeout=limits.seconds, check=False)
    except subprocess.TimeoutExpired:
        raise Refused(Finding(where, 0, 0, "", f"{what} took longer than {limits.seconds:g}s "
                                               "(limit)")) from None
    if len(proc.stdout) > limits.bytes:
        raise Refused(Finding(where, 0, 0, "", f"{what} printed more than {limits.bytes:,} bytes (limit)"))
    if proc.returncode != 0:
        raise Refused(Finding(where, 0, 0, "", f"{what}: {_error_text(proc.stderr, tmp, root)}"))
    return proc.stdout


def _error_text(stderr: bytes, tmp: Path, root: Path) -> str:
    """The renderer's message (its last lines), with our folders taken out of the paths it names."""
    text = stderr.decode(errors="replace")
    for folder in (root, root.resolve(), tmp, tmp.resolve()):
        text = text.replace(str(folder) + "/", "")
    text = text.strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " ".join(lines[-3:])[:1000] if lines else "failed"
