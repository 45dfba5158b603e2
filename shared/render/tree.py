"""A repository's files as a validated tree: what a renderer may ever see of a push.

Anyone who can push to a registered repository is untrusted, and so is every name, mode,
link and byte of a commit (a tenant's own git server can serve a crafted one). Before
anything touches the disk or a parser:

- every path passes git's own checkout rules (fsck `verify_path`, read from dulwich): no
  empty, `.` or `..` element, no `.git` in any case nor its NTFS and HFS+ aliases, no NUL,
  no `/` inside a name; we also refuse control characters, names that are not UTF-8,
  elements over 255 bytes and paths over 4,096 bytes;
- a symlink is judged by where it resolves, element by element with the tree as root
  (the way the kernel walks it, links inside links included), never by its string; one
  that leaves the tree at any step is refused, naming the file;
- a blob's size is read from its header and counted against the byte limit before its
  content is read.

`materialise` writes the checked tree into a private folder for the renderers (files
first, with O_EXCL|O_NOFOLLOW relative to their folder, links last), then verifies that
every path lies under the root. A Tree is a commit (GitTree) or a local checkout
(FolderTree, for `gitops render PATH`): both go through the same checks.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dulwich.errors import ObjectFormatException
from dulwich.index import validate_path_element_hfs, validate_path_element_ntfs

from shared.adapters import git, gitpack
from shared.core.findings import Finding

MAX_ELEMENT_BYTES = 255  # NAME_MAX
MAX_PATH_BYTES = 4096  # PATH_MAX
MAX_LINK_HOPS = 40  # the kernel's own limit on links followed in one lookup


@dataclass(frozen=True)
class Limits:
    """What one render may take. Renderer limits (memory, CPU, processes) are in the sandbox."""

    seconds: float = 60  # per renderer run
    files: int = 10_000  # files read from the repository
    bytes: int = 100 * 1024 * 1024  # bytes read from the repository
    output: int = 64 * 1024 * 1024  # bytes a renderer may print
    resources: int = 20_000  # objects rendered
    memory: int = 256 * 1024 * 1024  # a renderer's writable memory (RLIMIT_DATA, per process)
    cpu_seconds: int = 60  # a renderer's CPU time (RLIMIT_CPU, per process)
    file_size: int = 64 * 1024 * 1024  # the largest file a renderer may write (RLIMIT_FSIZE)
    processes: int = 64  # processes and threads of one renderer run (RLIMIT_NPROC, own uid)


LIMITS = Limits()


class Refused(Exception):
    """Rendering cannot go on; the finding says why (a name, a link, a limit, the sandbox)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


def refused(path: str, message: str, field: str = "") -> Refused:
    return Refused(Finding(path, 0, 0, field, message))


# ---- names ----------------------------------------------------------------------------


def shown(name: bytes | str) -> str:
    """A name as it may appear in a message: printable, bounded (never a raw control byte)."""
    text = name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= 120 else text[:117] + "..."


def element_problem(element: bytes) -> str | None:
    """Why git (or we) would refuse this path element, or None."""
    if element in (b"", b".", b".."):
        return f"the name {shown(element)!r} is not allowed in a path"
    if b"\0" in element or b"/" in element:
        return "a name holds a NUL byte or a slash"
    if any(c < 0x20 or c == 0x7F for c in element):
        return "a name holds a control character"
    if len(element) > MAX_ELEMENT_BYTES:
        return f"a name is longer than {MAX_ELEMENT_BYTES} bytes"
    try:
        element.decode("utf-8")
    except UnicodeDecodeError:
        return "a name is not UTF-8"
    if not (validate_path_element_ntfs(element) and validate_path_element_hfs(element)):
        return "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"
    return None


def path_problem(path: bytes) -> str | None:
    """Why this tree path would be refused (git's verify_path and ours), or None."""
    if len(path) > MAX_PATH_BYTES:
        return f"a path is longer than {MAX_PATH_BYTES} bytes"
    if path.startswith(b"/"):
        return "an absolute path"
    for element in path.split(b"/"):
        problem = element_problem(element)
        if problem:
            return problem
    return None


# ---- entries and links ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository root, checked
    link: str | None  # a symlink's target as written, else None
    size: int = 0  # a file's size, known before its content is read
    read: Callable[[], bytes] = field(repr=False, compare=False, default=bytes)

    @property
    def data(self) -> bytes:
        return self.read()


_FILE, _DIR, _LINK = "file", "dir", "link"


def resolve(path: str, lookup: Callable[[str], tuple[str, str | None] | None]) -> str | None:
    """Where the symlink at `path` leads inside the tree, walked element by element with the
    tree as root (links met on the way are followed too). Refused when any step leaves the
    tree; None when it leads nowhere (a missing name). `lookup(p)` answers (kind, link target)
    for a tree path, or None."""
    hops = 0

    def walk(start: list[str], target: str) -> list[str] | None:
        nonlocal hops
        if target.startswith("/"):
            raise refused(path, f"symlink to {shown(target)!r} leaves the repository (refused)")
        parts = list(start)
        pending = [p for p in target.split("/") if p not in ("", ".")]
        while pending:
            element = pending.pop(0)
            if element == "..":
                if not parts:
                    raise refused(path, f"symlink to {shown(target)!r} leaves the repository (refused)")
                parts.pop()
                continue
            found = lookup("/".join([*parts, element]))
            if found is None:
                return None
            kind, link = found
            if kind == _LINK:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise refused(
                        path,
                        f"symlink to {shown(target)!r}: more than {MAX_LINK_HOPS} links followed (refused)",
                    )
                resolved = walk(parts, link or "")
                if resolved is None:
                    return None
                parts = resolved
            else:
                if pending and kind != _DIR:
                    return None
                parts.append(element)
        return parts

    found = lookup(path)
    if found is None or found[0] != _LINK:
        return path
    start = path.split("/")[:-1]
    result = walk(start, found[1] or "")
    return None if result is None else "/".join(result)


# ---- trees ----------------------------------------------------------------------------


class Tree:
    """A repository's files at one commit (GitTree) or on disk (FolderTree), checked."""

    def check(self) -> None:
        """Refuse the whole tree (Refused) if any path or link in it would be refused."""

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        raise NotImplementedError

    def lookup(self, path: str) -> tuple[str, str | None] | None:
        """(file|dir|link, link target) of a tree path, or None when it is not there."""
        raise NotImplementedError

    def resolve(self, entry: Entry) -> str | None:
        """The tree path a symlink entry leads to (Refused when it leaves; None if nowhere)."""
        return resolve(entry.path, self.lookup)

    def read_link(self, entry: Entry) -> Entry:
        """A symlinked file read from its target inside the tree."""
        target = self.resolve(entry)
        found = self.lookup(target) if target is not None else None
        if target is None or found is None or found[0] != _FILE:
            raise refused(entry.path, f"symlink to {shown(entry.link or '')!r}: not a file in the repository")
        folder = posixpath.dirname(target)
        for candidate in self.entries(folder, recurse=False):
            if candidate.path == target and candidate.link is None:
                return Entry(entry.path, None, candidate.size, candidate.read)
        raise refused(entry.path, f"symlink to {shown(entry.link or '')!r}: not a file in the repository")

    def materialise(self, dest: Path, budget: Budget) -> Path:
        """The whole tree as a folder for a renderer (under dest, which must not exist); its path.

        Files and folders are written first, without following anything; links last, and
        only those that resolve inside the tree (one leading nowhere is left out, as a
        checkout would leave it dangling). Then every path is verified to lie under dest."""
        dest.mkdir(mode=0o755)
        root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
        links: list[Entry] = []
        try:
            for entry in self.entries(""):
                if entry.link is not None:
                    links.append(entry)
                    continue
                budget.take(entry.size)
                _write(root_fd, entry.path, entry.data, entry.size)
            for entry in links:
                target = self.resolve(entry)
                if target is None:
                    continue
                budget.take(0)
                parent_fd = _folder(root_fd, posixpath.dirname(entry.path))
                try:
                    os.symlink(entry.link or "", posixpath.basename(entry.path), dir_fd=parent_fd)
                finally:
                    os.close(parent_fd)
        finally:
            os.close(root_fd)
        verify_inside(dest)
        return dest


def _folder(root_fd: int, folder: str) -> int:
    """An fd of folder (created as needed) under root_fd, never through a symlink."""
    fd = os.dup(root_fd)
    for element in folder.split("/") if folder else []:
        with contextlib.suppress(FileExistsError):
            os.mkdir(element, 0o755, dir_fd=fd)
        try:
            child = os.open(element, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def _write(root_fd: int, path: str, data: bytes, size: int) -> None:
    if len(data) != size:
        raise refused(path, "a file's content does not match its recorded size")
    parent_fd = _folder(root_fd, posixpath.dirname(path))
    try:
        fd = os.open(
            posixpath.basename(path),
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
            0o644,
            dir_fd=parent_fd,
        )
    except FileExistsError:
        raise refused(path, "the same path twice in one tree (refused)") from None
    finally:
        os.close(parent_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def verify_inside(root: Path) -> None:
    """Defence in depth: every path under root really lies under it once resolved."""
    top = os.path.realpath(root)
    for dirpath, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full)
            if real != top and not real.startswith(top + os.sep):
                rel = os.path.relpath(full, top)
                raise refused(rel, "a materialised path resolves outside the repository (refused)")


_CHECKED: OrderedDict[bytes, Refused | None] = OrderedDict()  # root tree id -> verdict
_CHECKED_LOCK = threading.Lock()


class GitTree(Tree):
    """A commit read from dulwich's object store; every entry checked as it is read.

    `check` walks the whole commit once per root tree (the verdict is remembered): a commit
    holding a path git refuses to check out, or a symlink leaving the repository, is refused
    as a whole whatever the source kind, as a checkout of it would be."""

    def __init__(self, repo: Any, commit: str) -> None:
        self.repo, self.commit = repo, commit

    def check(self) -> None:
        root = self.repo[self.commit.encode()].tree
        with _CHECKED_LOCK:
            seen, verdict = root in _CHECKED, _CHECKED.get(root)
        if not seen:
            try:
                self._check_all()
            except Refused as exc:
                verdict = exc
            with _CHECKED_LOCK:
                _CHECKED[root] = verdict
                while len(_CHECKED) > 512:
                    _CHECKED.popitem(last=False)
        if verdict is not None:
            raise verdict

    def _check_all(self) -> None:
        """Every name of the commit, and where every link leads (no content read)."""
        with _reading("."):
            for path, mode, blob in self._walk("", True):
                if stat.S_ISLNK(mode):
                    self.resolve(Entry(path, self._link(path, blob), 0))

    def _walk(self, folder: str, recurse: bool) -> Iterator[tuple[str, int, bytes]]:
        """(path, mode, object id) under folder, each path checked before anything uses it."""
        for raw, mode, blob in git.entries(self.repo, self.commit, folder, recurse):
            problem = path_problem(raw)
            if problem:
                raise refused(shown(raw), f"{problem} (refused)")
            yield raw.decode(), mode, blob

    def _link(self, path: str, blob: bytes) -> str:
        if git.blob_size(self.repo, blob) > MAX_PATH_BYTES:
            raise refused(path, f"a symlink target longer than {MAX_PATH_BYTES} bytes (refused)")
        try:
            target = git.blob(self.repo, blob)
        except ObjectFormatException:
            raise refused(path, "a symlink whose target is not a blob (refused)") from None
        if any(c < 0x20 or c == 0x7F for c in target):
            raise refused(path, "a symlink target holds a NUL or control character (refused)")
        return target.decode("utf-8", errors="replace")

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        with _reading(folder or "."):
            for path, mode, blob in self._walk(folder, recurse):
                if stat.S_ISLNK(mode):
                    yield Entry(path, self._link(path, blob), 0)
                else:
                    yield Entry(path, None, git.blob_size(self.repo, blob), _reader(self.repo, blob))

    def lookup(self, path: str) -> tuple[str, str | None] | None:
        found = git.lookup(self.repo, self.commit, path)
        if found is None:
            return None
        mode, blob = found
        if stat.S_ISDIR(mode):
            return _DIR, None
        if stat.S_ISLNK(mode):
            return _LINK, git.blob(self.repo, blob).decode("utf-8", errors="replace")
        if stat.S_ISREG(mode):
            return _FILE, None
        return None


@contextlib.contextmanager
def _reading(where: str) -> Iterator[None]:
    """What dulwich raises on a malformed or incomplete commit, as a refusal naming the place."""
    try:
        yield
    except git.MalformedEntry as exc:
        raise refused(shown(exc.path), f"{exc} (refused)") from None
    except (ObjectFormatException, gitpack.TooLarge) as exc:
        raise refused(where, f"a malformed git object ({shown(str(exc))}) (refused)") from None
    except KeyError as exc:
        raise refused(
            where, f"the commit refers to an object it does not hold ({shown(str(exc))}) (refused)"
        ) from None


def _reader(repo: Any, blob: bytes) -> Callable[[], bytes]:
    return lambda: git.blob(repo, blob)


class FolderTree(Tree):
    """A local checkout (for `gitops render PATH`), read with the same checks as a commit:
    names checked, links resolved inside root, nothing outside root ever read."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _real(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/")) if path not in ("", ".") else str(self.root)

    def lookup(self, path: str) -> tuple[str, str | None] | None:
        full = self._real(path)
        try:
            st = os.lstat(full)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return _LINK, os.readlink(full)
        if stat.S_ISDIR(st.st_mode):
            return _DIR, None
        return (_FILE, None) if stat.S_ISREG(st.st_mode) else None

    def entries(self, folder: str, recurse: bool = True) -> Iterator[Entry]:
        folder = folder.strip("/")
        top = self._real(folder)
        if folder not in ("", ".") and (
            path_problem(folder.encode()) or not os.path.isdir(top) or os.path.islink(top)
        ):
            raise FileNotFoundError(f"path {folder!r} is not a folder under {self.root}")
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != ".git" and not os.path.islink(os.path.join(dirpath, d)))
            names = sorted(files) + sorted(
                d
                for d in os.listdir(dirpath)
                if os.path.islink(os.path.join(dirpath, d)) and os.path.isdir(os.path.join(dirpath, d))
            )
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                problem = path_problem(os.fsencode(rel))
                if problem:
                    raise refused(shown(rel), f"{problem} (refused)")
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    yield Entry(rel, os.readlink(full), 0)
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(rel, None, st.st_size, _file_reader(full, st.st_size))
            if not recurse:
                return


def _file_reader(full: str, size: int) -> Callable[[], bytes]:
    def read() -> bytes:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            return f.read(size)

    return read


class Budget:
    """Counts files and bytes read against the limits (before the bytes are read)."""

    def __init__(self, where: str, limits: Limits) -> None:
        self.where, self.limits, self.files, self.bytes = where, limits, 0, 0

    def take(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.limits.files:
            raise refused(self.where, f"more than {self.limits.files:,} files to read (limit)")
        if self.bytes > self.limits.bytes:
            raise refused(self.where, f"more than {self.limits.bytes:,} bytes to read (limit)")
