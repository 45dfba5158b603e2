"""Fetch exactly one commit of a repository with dulwich, and read a folder of it.

Repositories are cached as bare repos under a temp folder, keyed by URL, so a warm
function instance only fetches what is new. Files are read straight from the
object store (no checkout on disk).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dulwich.client import get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Commit, Tree
from dulwich.repo import Repo

from shared import credentials
from shared.failures import Kind

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class FetchError(RuntimeError):
    """The repository or commit could not be fetched (retryable unless the commit is gone)."""


class CommitNotFound(FetchError):
    """The repository answered but does not have the commit: retrying cannot help."""


def classify(exc: BaseException) -> Kind | None:
    """A git error's kind; None when it is not one.

    The repository answered without the commit (CommitNotFound: force-pushed away, or never
    pushed): permanent. Anything else fetching (the network, the server, credentials not
    registered yet) is transient: the next delivery fetches again.
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
    root = os.environ.get("GITOPS_GIT_CACHE") or os.path.join(tempfile.gettempdir(), "gitops-git")
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


def _client(url: str) -> tuple[Any, str, credentials.Credential | None]:
    """A dulwich client for the URL, with the repository's credential if one is registered."""
    cred = credentials.for_url(url)
    kwargs: dict[str, Any] = {}
    if cred is not None and cred.ssh_private_key:
        kwargs["key_filename"], kwargs["ssh_command"] = _ssh_files(url, cred)
    elif cred is not None:
        kwargs["username"], kwargs["password"] = cred.username, cred.password
    client, path = get_transport_and_path(url, **kwargs)
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
    return key, f"ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile={hosts} -o IdentitiesOnly=yes"


def ls_remote(url: str) -> dict[str, str]:
    """The remote's refs: name -> sha (e.g. {'refs/heads/main': '3f2a...', 'HEAD': ...})."""
    client, path, cred = _client(url)
    try:
        result = client.get_refs(path)
    except Exception as exc:
        raise FetchError(credentials.redact(f"listing refs of {url}: {exc}", cred)) from None
    refs = getattr(result, "refs", result)
    return {k.decode(): v.decode() for k, v in refs.items() if v is not None}


def fetch(url: str, sha: str, ref: str | None = None) -> Repo:
    """Make sure `sha` is in the local cache of `url`; return the cache repo."""
    with _lock(url):
        repo = _open_cache(url)
        if sha.encode() in repo.object_store:
            return repo
        client, path, cred = _client(url)

        def wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
            if ref and ref.encode() in refs:
                return [refs[ref.encode()]]
            return [v for k, v in refs.items() if k.startswith((b"refs/heads/", b"refs/tags/"))]

        try:
            client.fetch(path, repo, determine_wants=wants)
        except Exception as exc:
            raise FetchError(credentials.redact(f"fetching {url}: {exc}", cred)) from None
        if sha.encode() not in repo.object_store:
            raise CommitNotFound(f"commit {sha} is not reachable from {ref or 'any branch'} of {url}")
        return repo


def commit_info(repo: Repo, sha: str) -> CommitInfo:
    commit = repo[sha.encode()]
    if not isinstance(commit, Commit):
        raise CommitNotFound(f"{sha} is not a commit")
    return CommitInfo(
        sha=sha,
        author=commit.author.decode(errors="replace"),
        message=commit.message.decode(errors="replace").strip(),
        committed_at=commit.commit_time,
    )


def read_folder(repo: Repo, sha: str, folder: str) -> Iterator[tuple[str, bytes]]:
    """Yield (path relative to the repo root, content) of every regular file under folder."""
    for path, mode, blob in entries(repo, sha, folder):
        if stat.S_ISREG(mode):
            yield path, repo[blob].data


def entries(repo: Repo, sha: str, folder: str, recurse: bool = True) -> Iterator[tuple[str, int, bytes]]:
    """Yield (path relative to the repo root, mode, blob id) of the files and symlinks under folder
    (submodules are left out). FileNotFoundError when the folder is not in the commit."""
    commit = repo[sha.encode()]
    tree = repo[commit.tree]
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
    yield from _walk(repo, tree, prefix, recurse)


def blob(repo: Repo, blob_id: bytes) -> bytes:
    """A file's content (or a symlink's target) by its blob id."""
    return repo[blob_id].data


def _walk(repo: Repo, tree: Tree, prefix: str, recurse: bool) -> Iterator[tuple[str, int, bytes]]:
    for entry in tree.iteritems():
        name = entry.path.decode(errors="replace")
        path = f"{prefix}/{name}" if prefix else name
        if stat.S_ISDIR(entry.mode):
            if recurse:
                yield from _walk(repo, repo[entry.sha], path, recurse)
        elif stat.S_ISREG(entry.mode) or stat.S_ISLNK(entry.mode):
            yield path, entry.mode, entry.sha
