"""Helm charts from chart repositories and OCI registries: resolved and fetched OUTSIDE the
render sandbox.

The render step asks here for (repository, chart, version constraint): the repository's
index.yaml is read (basic auth from the credential store by URL prefix, shared/adapters/
credentials.py, like Git repositories), the constraint resolved (shared/core/versions.py),
and the archive fetched into a content-addressed cache (GITOPS_CHART_CACHE/<sha256>.tgz)
and checked against the index's digest. A revision records the exact version and digest;
`archive(digest)` reads the same bytes back, so a re-render is of the same chart. Only the
repository's own host is contacted. Credentials never appear in errors or logs.

An OCI registry (`oci://host/path`, chart `name` at host/path/name) is read through the
Distribution API: the tags are the versions, the manifest of the chosen tag names the chart
layer by digest, and the blob is checked against it. A registry that answers 401 with a
Bearer challenge is asked for a token (with the registered credential, if any).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.adapters import credentials
from shared.core import charts, versions
from shared.platform import config

MAX_INDEX = 16 * 1024 * 1024
# YAML nodes an index may hold, estimated from its bytes before parsing: parsed, a node costs
# a few hundred bytes, and a tenant's repository must not exhaust the render instance
MAX_INDEX_NODES = 300_000
MAX_ARCHIVE = 20 * 1024 * 1024
# the archives kept on this instance (on Cloud Run /tmp is memory): the least recently used go
# first; an archive evicted is fetched again, and checked against its recorded digest
MAX_CACHE_BYTES = 256 * 1024 * 1024
TIMEOUT_S = 30
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class ChartError(Exception):
    """A chart that cannot be resolved or fetched (the message names the repository)."""


@dataclass(frozen=True)
class Fetched:
    repoURL: str
    name: str
    version: str
    digest: str  # sha256 hex of the archive
    url: str
    created: str = ""

    def to_doc(self) -> dict[str, str]:
        return {"repoURL": self.repoURL, "name": self.name, "version": self.version, "digest": self.digest}


def _basic(cred: credentials.Credential | None) -> dict[str, str]:
    if not (cred and cred.username):
        return {}
    token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def _loopback(url: str) -> bool:
    return (urllib.parse.urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects within the same origin (scheme, host, port) only; with `foreign_ok` (an OCI
    blob, which registries hand to a storage host) to another http(s) origin too, but without
    our Authorization header. Never to link-local addresses (cloud metadata)."""

    def __init__(self, foreign_ok: bool) -> None:
        self.foreign_ok = foreign_ok

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = urllib.parse.urlsplit(newurl)
        same = _origin(req.full_url) == _origin(newurl)
        if new.scheme not in ("http", "https") or (new.hostname or "").startswith("169.254."):
            raise ChartError(f"{req.full_url}: redirected to {new.scheme}://{new.netloc}: refused")
        if not same and not self.foreign_ok:
            raise ChartError(
                f"{req.full_url}: redirected to another host ({new.scheme}://{new.netloc}): refused"
            )
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if follow is not None and not same:
            follow.remove_header("Authorization")
        return follow


def _get(
    url: str,
    repo: str,
    limit: int,
    accept: str = "",
    bearer: str = "",
    challenge_ok: bool = True,
    foreign_redirects: bool = False,
) -> bytes:
    cred = credentials.for_url(repo)
    # a password goes over TLS only (or to this machine): never in clear text to a host
    plain = urllib.parse.urlsplit(url).scheme != "https" and not _loopback(url)
    headers = {"User-Agent": "gitops-render", **({} if plain else _basic(cred))}
    if accept:
        headers["Accept"] = accept
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(_Redirects(foreign_redirects))
    try:
        with opener.open(request, timeout=TIMEOUT_S) as resp:
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        challenge = (
            charts.bearer_challenge(exc.headers.get("WWW-Authenticate", "")) if exc.code == 401 else None
        )
        if challenge and challenge_ok and challenge.get("realm"):
            return _get(url, repo, limit, accept, _token(challenge, repo), challenge_ok=False)
        hint = " (register credentials: gitops repo add URL)" if exc.code in (401, 403) else ""
        raise ChartError(f"{url}: HTTP {exc.code}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChartError(credentials.redact(f"{url}: {reason}", cred)) from None
    if len(data) > limit:
        raise ChartError(f"{url}: larger than {limit // (1024 * 1024)} MiB (limit)")
    return data


def _token(challenge: dict[str, str], repo: str) -> str:
    """A registry token from the challenge's realm (on the registry's own host only)."""
    realm = challenge["realm"]
    base, _ = charts.oci_reference(repo, "chart")
    if _origin(realm) != _origin(base):
        raise ChartError(f"{repo}: the registry asks for a token from another origin ({realm}): refused")
    query = urllib.parse.urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
    answer = json.loads(_get(f"{realm}?{query}", repo, MAX_INDEX, challenge_ok=False))
    return str(answer.get("token") or answer.get("access_token") or "")


def _oci_release(repo: str, name: str, constraint: str) -> charts.Release:
    base, path = charts.oci_reference(repo, name)
    try:
        tags = json.loads(_get(f"{base}/v2/{path}/tags/list", repo, MAX_INDEX))
    except (ChartError, ValueError) as exc:
        raise ChartError(f"chart {name!r} in {repo}: {exc}") from None
    found = charts.oci_versions(tags)
    try:
        version = versions.resolve(constraint, found)
    except versions.ConstraintError as exc:
        raise ChartError(f"targetRevision {constraint!r}: {exc}") from None
    if version is None:
        raise ChartError(f"no version of chart {name!r} in {repo} matches {constraint!r}")
    tag = version.replace("+", "_")
    manifest = json.loads(_get(f"{base}/v2/{path}/manifests/{tag}", repo, MAX_INDEX, accept=OCI_MANIFEST))
    digest = charts.oci_chart_layer(manifest)
    if digest is None:
        raise ChartError(f"{repo}/{name}:{tag} is not a Helm chart (no chart layer)")
    return charts.Release(name, version, (f"{base}/v2/{path}/blobs/sha256:{digest}",), digest)


def resolve(repo: str, name: str, constraint: str) -> charts.Release:
    """The highest version of `name` in the repository that the constraint allows."""
    if repo.startswith("oci://"):
        return _oci_release(repo, name, constraint)
    try:
        data = _get(charts.index_url(repo), repo, MAX_INDEX)
        nodes = sum(data.count(c) for c in (b":", b"- ", b"{", b"[", b","))
        if nodes > MAX_INDEX_NODES:
            raise ChartError(
                f"{charts.index_url(repo)}: about {nodes:,} YAML nodes (at most {MAX_INDEX_NODES:,})"
            )
        index = yaml.load(data, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        raise ChartError(f"{charts.index_url(repo)}: not a valid index.yaml") from None
    found = charts.releases(index, name)
    if not found:
        raise ChartError(f"chart {name!r} is not in the repository {repo}")
    try:
        version = versions.resolve(constraint, [r.version for r in found])
    except versions.ConstraintError as exc:
        raise ChartError(f"targetRevision {constraint!r}: {exc}") from None
    if version is None:
        raise ChartError(
            f"no version of chart {name!r} in {repo} matches {constraint!r} "
            f"(latest: {', '.join(r.version for r in found[:5])})"
        )
    return next(r for r in found if r.version == version)


def _path(digest: str) -> Path:
    return Path(config.chart_cache_root()) / f"{digest}.tgz"


def archive(digest: str) -> bytes | None:
    """The cached archive with this sha256, or None."""
    path = _path(digest)
    if not path.is_file():
        return None
    data = path.read_bytes()
    os.utime(path)  # recently used: evicted last
    return data if hashlib.sha256(data).hexdigest() == digest else None


def fetch(repo: str, name: str, constraint: str) -> tuple[Fetched, bytes]:
    """The chart version the constraint resolves to, and its archive (cached by digest)."""
    release = resolve(repo, name, constraint)
    if release.digest:
        cached = archive(release.digest)
        if cached is not None:
            return _fetched(repo, release, release.digest, release.urls[0]), cached
    url, problem = (
        (release.urls[0], None) if repo.startswith("oci://") else charts.chart_url(repo, release.urls[0])
    )
    if url is None:
        raise ChartError(f"chart {name} {release.version}: {problem}")
    data = _get(url, repo, MAX_ARCHIVE, foreign_redirects=repo.startswith("oci://"))
    digest = hashlib.sha256(data).hexdigest()
    if release.digest and digest != release.digest:
        raise ChartError(
            f"chart {name} {release.version}: the archive's sha256 {digest[:12]} is not the "
            f"index's {release.digest[:12]} (refused)"
        )
    _keep(digest, data)
    return _fetched(repo, release, digest, url), data


def archive_of(repo: str, name: str, version: str, digest: str) -> bytes:
    """The exact archive a revision recorded: from the cache, else fetched at that version
    and checked against the digest (a repository that replaced the bytes is refused)."""
    cached = archive(digest)
    if cached is not None:
        return cached
    fetched, data = fetch(repo, name, f"={version}")
    if fetched.digest != digest:
        raise ChartError(
            f"chart {name} {version} in {repo} is no longer the archive recorded "
            f"(sha256 {fetched.digest[:12]}, recorded {digest[:12]}): refused"
        )
    return data


def _fetched(repo: str, release: charts.Release, digest: str, url: str) -> Fetched:
    return Fetched(repo, release.name, release.version, digest, url, release.created)


def _keep(digest: str, data: bytes) -> None:
    folder = Path(config.chart_cache_root())
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, _path(digest))
    _evict(folder, keep=_path(digest))


def _evict(folder: Path, keep: Path) -> None:
    """Delete the least recently used archives until the cache is within MAX_CACHE_BYTES."""
    found = []
    for path in folder.glob("*.tgz"):
        try:
            st = path.stat()
        except FileNotFoundError:  # another render evicted it
            continue
        found.append((max(st.st_atime, st.st_mtime), st.st_size, path))
    total = sum(size for _, size, _ in found)
    for _, size, path in sorted(found):
        if total <= MAX_CACHE_BYTES:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size
