"""Fetch exactly one commit of a repository with dulwich, and read a folder of it.

Repositories are cached as bare repos under a temp folder, keyed by URL, so a warm
function instance only fetches what is new. Files are read straight from the
object store (no checkout on disk).

The remote is untrusted (a tenant may run its own git server): the pack it sends is
spooled to disk within MAX_PACK_BYTES and screened (shared/adapters/gitpack.py: every object's
inflated size, deltas included, read from its header) before dulwich inflates anything,
so a small pack holding a 1 GB sparse blob never reaches memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dulwich.client import get_transport_and_path
from dulwich.diff_tree import tree_changes
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository, ObjectFormatException
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.repo import Repo

from shared.adapters import credentials, gitpack
from shared.core import repourl
from shared.core.failures import Kind
from shared.platform import config

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_listings: dict[str, tuple[float, dict[str, str]]] = {}  # url -> (monotonic time asked, refs)


MAX_REFS_BYTES = 16 * 1024 * 1024  # a ref advertisement
SOCKET_SECONDS = 30.0  # one read from a remote
LIST_SECONDS = 60.0  # a whole ref listing
FETCH_SECONDS = 300.0  # a whole fetch


class FetchError(RuntimeError):
    """The repository or commit could not be fetched (retryable unless the commit is gone)."""


class CommitNotFound(FetchError):
    """The repository answered but does not have the commit: retrying cannot help."""


class MalformedEntry(ObjectFormatException):
    """A tree entry git's fsck refuses (an empty name, or one holding '/' or NUL)."""

    def __init__(self, path: bytes, message: str) -> None:
        super().__init__(message)
        self.path = path


class Refused(CommitNotFound):
    """The repository sent what we refuse to take (an object over the size limit, too many
    bytes, a malformed pack): retrying cannot help; the render records why."""


def classify(exc: BaseException) -> Kind | None:
    """A git error's kind; None when it is not one.

    The repository answered without the commit (CommitNotFound: force-pushed away, or never
    pushed), or sent what we refuse (Refused): permanent. Anything else fetching (the network,
    the server, credentials not registered yet) is transient: the next delivery fetches again.
    """
    if isinstance(exc, CommitNotFound):
        return Kind.PERMANENT
    if isinstance(exc, FetchError | HangupException | GitProtocolError):
        return Kind.TRANSIENT
    return None


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    message: str
    committed_at: int  # unix seconds, committer time


def _cache_dir(url: str) -> str:
    root = config.git_cache_root()
    return os.path.join(root, hashlib.sha256(url.encode()).hexdigest()[:24])


def _lock(url: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(url, threading.Lock())


def _open_cache(url: str) -> Repo:
    path = _cache_dir(url)
    try:
        return Repo(path)
    except NotGitRepository:
        os.makedirs(path, exist_ok=True)
        return Repo.init_bare(path)


class Budget:
    """What one conversation with a remote may take: bytes read and wall time. The remote is
    untrusted: an endless ref advertisement or a one-byte-a-minute drip must end."""

    def __init__(self, what: str, max_bytes: int, seconds: float) -> None:
        self.what, self.max_bytes, self.left = what, max_bytes, max_bytes
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.watchdogs: list[threading.Timer] = []

    def close(self) -> None:
        """The conversation is over: no watchdog thread outlives it."""
        for watchdog in self.watchdogs:
            watchdog.cancel()

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise gitpack.TooLarge(f"{self.what} took longer than {self.seconds:g}s (limit)")

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise gitpack.TooLarge(
                f"{self.what}: the repository sent more than {self.max_bytes:,} bytes (limit)"
            )


def _guard(client: Any, budget: Budget) -> None:
    """Every HTTP read of the client counted against the budget (dulwich reads refs and packs
    through the read function its request returns)."""
    inner = getattr(client, "_http_request", None)
    if inner is None:
        return

    def request(url: str, headers: Any = None, data: Any = None, raise_for_status: bool = True) -> Any:
        budget.check()
        resp, read = inner(url, headers, data, raise_for_status)
        # a read blocked on a drip-fed socket is interrupted at the deadline (urllib3's shutdown)
        watchdog = threading.Timer(max(0.0, budget.deadline - time.monotonic()), _shutdown, (resp,))
        watchdog.daemon = True
        budget.watchdogs.append(watchdog)
        watchdog.start()

        def limited(n: int | None = -1) -> bytes:
            if n is None or n < 0:  # everything to the end, still counted chunk by chunk
                chunks = []
                while chunk := limited(1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks)
            budget.check()
            try:
                chunk = read(n)
            except Exception:
                budget.check()  # the deadline's shutdown, named as such
                raise
            budget.check()  # a read the deadline's shutdown cut short
            budget.take(len(chunk))
            if not chunk:
                watchdog.cancel()
            return chunk

        return resp, limited

    client._http_request = request


def _shutdown(resp: Any) -> None:
    with contextlib.suppress(Exception):
        resp.shutdown()


def _client(url: str, budget: Budget | None = None) -> tuple[Any, str, credentials.Credential | None]:
    """A dulwich client for the URL, with the repository's credential if one is registered."""
    problem = repourl.problem(url)
    if problem:
        raise Refused(f"repository URL {url!r} {problem}")
    cred = credentials.for_url(url)
    kwargs: dict[str, Any] = {}
    if cred is not None and cred.ssh_private_key:
        kwargs["key_filename"], kwargs["ssh_command"] = _ssh_files(url, cred)
    elif cred is not None:
        kwargs["username"], kwargs["password"] = cred.username, cred.password
    client, path = get_transport_and_path(url, **kwargs)
    if hasattr(client, "_timeout"):  # dulwich's HTTP client: each request's socket timeout
        client._timeout = SOCKET_SECONDS
    if type(client).__name__ in ("LocalGitClient", "SubprocessGitClient"):
        raise Refused(f"repository URL {url!r} is not a network repository")
    if budget is not None:
        _guard(client, budget)
    return client, path, cred


def _ssh_files(url: str, cred: credentials.Credential) -> tuple[str, str]:
    """Key and known-hosts files (0600, in a private folder) and an ssh command that checks them."""
    folder = os.path.join(tempfile.gettempdir(), "gitops-ssh", hashlib.sha256(url.encode()).hexdigest()[:16])
    os.makedirs(folder, mode=0o700, exist_ok=True)
    key, hosts = os.path.join(folder, "key"), os.path.join(folder, "known_hosts")
    for path, content in ((key, cred.ssh_private_key), (hosts, cred.known_hosts)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(content if content.endswith("\n") else content + "\n")
    return key, (
        f"ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile={hosts} -o IdentitiesOnly=yes "
        "-o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
    )


def ls_remote(url: str, max_age: float = 0) -> dict[str, str]:
    """The remote's refs: name -> sha (e.g. {'refs/heads/main': '3f2a...', 'HEAD': ...}).

    `max_age`: a listing this process made at most that many seconds ago will do (a push to a
    repository of many applications fans out to as many applies, each asking for the head)."""
    if max_age > 0:
        with _locks_guard:
            listed = _listings.get(url)
        if listed is not None and time.monotonic() - listed[0] <= max_age:
            return dict(listed[1])
    budget = Budget(f"listing refs of {url}", MAX_REFS_BYTES, LIST_SECONDS)
    client, path, cred = _client(url, budget)
    started = time.monotonic()
    try:
        result = client.get_refs(path)
        refs = getattr(result, "refs", result)
        # names that are not UTF-8 are left out: no branch or tag can be targeted by one
        out = {k.decode(): v.decode() for k, v in refs.items() if v is not None and _utf8(k) and _utf8(v)}
    except Exception as exc:
        raise FetchError(credentials.redact(f"listing refs of {url}: {exc}", cred)) from None
    finally:
        budget.close()
    with _locks_guard:
        _listings[url] = (started, out)
    return dict(out)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def fetch(url: str, sha: str, ref: str | None = None) -> Repo:
    """Make sure `sha` is in the local cache of `url`; return the cache repo."""
    with _lock(url):
        repo = _open_cache(url)
        if ObjectID(sha.encode()) in repo.object_store:
            return repo
        budget = Budget(f"fetching {url}", gitpack.MAX_PACK_BYTES + MAX_REFS_BYTES, FETCH_SECONDS)
        client, path, cred = _client(url, budget)

        def wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
            if ref and ref.encode() in refs:
                return [refs[ref.encode()]]
            return [v for k, v in refs.items() if k.startswith((b"refs/heads/", b"refs/tags/"))]

        try:
            with tempfile.TemporaryFile(prefix="incoming-", dir=repo.controldir()) as pack:
                sink = gitpack.CappedWriter(pack, gitpack.MAX_PACK_BYTES)
                client.fetch_pack(path, wants, repo.get_graph_walker(), sink.write)
                if pack.tell():
                    gitpack.screen(pack)
                    pack.seek(0)
                    repo.object_store.add_thin_pack(pack.read, None)
        except gitpack.TooLarge as exc:
            raise Refused(credentials.redact(f"the repository's commit was refused: {exc}", cred)) from None
        except (ObjectFormatException, ValueError, TypeError, AttributeError, AssertionError) as exc:
            # dulwich could not read what the remote sent (a malformed commit, a corrupt pack):
            # the same bytes would come again on a retry
            message = f"the repository sent a malformed object: {exc}"
            raise Refused(credentials.redact(message, cred)) from None
        except Exception as exc:
            raise FetchError(credentials.redact(f"fetching {url}: {exc}", cred)) from None
        finally:
            budget.close()
        if ObjectID(sha.encode()) not in repo.object_store:
            raise CommitNotFound(f"commit {sha} is not reachable from {ref or 'any branch'} of {url}")
        return repo


def commit_info(repo: Repo, sha: str) -> CommitInfo:
    try:
        commit = _commit(repo, sha)
        return CommitInfo(
            sha=sha,
            author=(commit.author or b"").decode(errors="replace"),
            message=(commit.message or b"").decode(errors="replace").strip(),
            committed_at=int(commit.commit_time or 0),
        )
    except (ObjectFormatException, ValueError, TypeError, AttributeError) as exc:
        raise Refused(f"commit {sha[:12]} is malformed: {exc}") from None


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    """True when `ancestor` is `descendant` or in its history, by walking parents in the cache
    (the descendant must be in it: once a commit is fetched, its whole history is). Never by
    dates: dulwich.graph.can_fast_forward skips parents committed before the ancestor, so one
    commit with a clock behind in between makes it answer False."""
    if ancestor == descendant:
        return True
    wanted = ObjectID(ancestor.encode())
    if wanted not in repo.object_store:
        return False
    seen: set[ObjectID] = set()
    todo = [ObjectID(descendant.encode())]
    while todo:
        commit = repo.object_store[todo.pop()]
        if not isinstance(commit, Commit):
            raise CommitNotFound(f"{commit.id.decode()} is not a commit")
        for parent in commit.parents:
            if parent == wanted:
                return True
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return False


def changed_under(repo: Repo, old: str, new: str, paths: tuple[str, ...], limit: int = 20) -> list[str]:
    """The files added, removed or modified between two commits under `paths` (relative to
    the root, "" for all of it): each path's entry is compared in the two trees (object ids:
    an unchanged folder costs one look-up, whatever it holds), and only a folder that differs
    is diffed (dulwich's tree diff). At most `limit` of them (one is enough to know)."""
    old_root, new_root = _root_tree(repo, old), _root_tree(repo, new)
    found: list[str] = []
    for path in paths:
        before, after = _entry(repo, old_root, path), _entry(repo, new_root, path)
        if before == after:
            continue
        if before is None or after is None or not (stat.S_ISDIR(before[0]) and stat.S_ISDIR(after[0])):
            found.append(path)  # added, removed, or a file (or a folder replaced by a file)
        else:
            prefix = f"{path}/" if path else ""
            for change in tree_changes(repo.object_store, before[1], after[1]):
                changed = (change.new and change.new.path) or (change.old and change.old.path)
                if changed is not None:
                    found.append(prefix + changed.decode(errors="replace"))
                if len(found) >= limit:
                    break
        if len(found) >= limit:
            break
    return found[:limit]


_TREES: OrderedDict[bytes, dict[bytes, tuple[int, ObjectID]]] = OrderedDict()
_TREES_MAX = 4096  # parsed trees (and commits' root trees) kept: an id names its content
_TREES_LOCK = threading.Lock()
_ROOTS: OrderedDict[str, ObjectID] = OrderedDict()


def _root_tree(repo: Repo, sha: str) -> ObjectID:
    """A commit's root tree id, read once per process."""
    with _TREES_LOCK:
        if sha in _ROOTS:
            return _ROOTS[sha]
    tree = _commit(repo, sha).tree
    with _TREES_LOCK:
        _ROOTS[sha] = tree
        while len(_ROOTS) > _TREES_MAX:
            _ROOTS.popitem(last=False)
    return tree


def _tree_entries(repo: Repo, tree_id: ObjectID) -> dict[bytes, tuple[int, ObjectID]]:
    """A tree's entries by name, parsed once per process (a sweep compares the same two
    commits for every application of a monorepo)."""
    with _TREES_LOCK:
        if tree_id in _TREES:
            _TREES.move_to_end(tree_id)
            return _TREES[tree_id]
    tree = repo[tree_id]
    if not isinstance(tree, Tree):
        raise ObjectFormatException(f"{tree_id.decode()[:12]} is not a tree")
    items = {e.path: (e.mode, e.sha) for e in tree.iteritems()}
    with _TREES_LOCK:
        _TREES[tree_id] = items
        while len(_TREES) > _TREES_MAX:
            _TREES.popitem(last=False)
    return items


def _entry(repo: Repo, root: ObjectID, path: str) -> tuple[int, ObjectID] | None:
    """(mode, object id) of a path under a root tree, or None when it is not there."""
    mode, obj = stat.S_IFDIR, root
    for part in path.split("/") if path else []:
        if not stat.S_ISDIR(mode):
            return None
        found = _tree_entries(repo, obj).get(part.encode())
        if found is None:
            return None
        mode, obj = found
    return mode, obj


def entries(repo: Repo, sha: str, folder: str, recurse: bool = True) -> Iterator[tuple[bytes, int, bytes]]:
    """Yield (path relative to the repo root, as raw bytes: the caller checks it, mode, blob id)
    of the files and symlinks under folder (submodules are left out). FileNotFoundError when
    the folder is not in the commit."""
    tree = repo[_commit(repo, sha).tree]
    prefix = folder.strip("/")
    if prefix and prefix != ".":
        for part in prefix.split("/"):
            if not isinstance(tree, Tree):
                raise FileNotFoundError(f"path {folder!r} is not a folder at {sha[:7]}")
            try:
                _, child = tree[part.encode()]
            except KeyError:
                raise FileNotFoundError(f"path {folder!r} does not exist at {sha[:7]}") from None
            tree = repo[child]
        if not isinstance(tree, Tree):
            raise FileNotFoundError(f"path {folder!r} is not a folder at {sha[:7]}")
    else:
        prefix = ""
    yield from _walk(repo, tree, prefix.encode(), recurse)


def blob(repo: Repo, blob_id: bytes) -> bytes:
    """A file's content (or a symlink's target) by its blob id."""
    obj = repo[blob_id]
    if not isinstance(obj, Blob):
        raise ObjectFormatException(f"{blob_id.decode()[:12]} is a {obj.type_name.decode()}, not a blob")
    return obj.data


def blob_size(repo: Repo, blob_id: bytes) -> int:
    """A blob's size, read from its object header (its content is not inflated)."""
    return gitpack.object_size(repo, blob_id)


def lookup(repo: Repo, sha: str, path: str) -> tuple[int, bytes] | None:
    """(mode, object id) of one path in the commit, or None when it is not there."""
    node: Any = repo[_commit(repo, sha).tree]
    mode, obj = stat.S_IFDIR, node.id
    for part in path.split("/") if path not in ("", ".") else []:
        if not isinstance(node, Tree):
            return None
        try:
            mode, obj = node[part.encode()]
        except KeyError:
            return None
        node = repo[obj] if stat.S_ISDIR(mode) else None
    return mode, obj


def _commit(repo: Repo, sha: str) -> Commit:
    commit = repo[sha.encode()]
    if not isinstance(commit, Commit):
        raise CommitNotFound(f"{sha} is not a commit")
    return commit


def _walk(repo: Repo, tree: ShaFile, prefix: bytes, recurse: bool) -> Iterator[tuple[bytes, int, bytes]]:
    if not isinstance(tree, Tree):
        raise ObjectFormatException(f"{tree.id.decode()[:12]} is a {tree.type_name.decode()}, not a tree")
    for entry in tree.iteritems():
        name = entry.path
        if not name or b"/" in name or b"\0" in name:  # git's fsck: a tree entry is one path element
            raise MalformedEntry(
                prefix + b"/" + name if prefix else name,
                "a tree entry holds a slash or NUL in its name, or has none",
            )
        path = prefix + b"/" + name if prefix else name
        if stat.S_ISDIR(entry.mode):
            if recurse:
                yield from _walk(repo, repo[entry.sha], path, recurse)
        elif stat.S_ISREG(entry.mode) or stat.S_ISLNK(entry.mode):
            yield path, entry.mode, entry.sha
