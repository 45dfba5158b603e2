"""Render once per (repository, commit, path, source options, kube version) digest.

Many applications on one commit and path (per-team copies, app-of-apps children) share
one render: the render function keeps recent renders in memory (an LRU) and records each
in Firestore (`renders/{digest}`, through shared/adapters/store/renders.py) with the renderer's output
files, so another instance parses them instead of running the renderer again. Each use
is counted (`renders` = actual renders, `uses` = applications served; uses are tallied in
memory and written as one increment a second per digest, not one write per application).
Checks, the revision and the status stay per application.

Outputs holding Secret values (or bytes that are not UTF-8) are not written to Firestore:
only the record and counters are, and other instances render again. Failed renders are
not reused (a time limit may pass on a quieter machine): the next request tries again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from shared.adapters import store
from shared.core import secrets
from shared.core.failures import Kind
from shared.core.findings import Finding
from shared.platform import logs
from shared.render import sources
from shared.render import tree as trees
from shared.render.parse import Rendered

VERSION = 1  # bump when a renderer's output for the same input changes (a new tool version)
MEMORY_ENTRIES = 16
MEMORY_OBJECTS = 40_000  # parsed objects kept in memory across entries
MEMORY_NODES = 1_500_000  # and their YAML nodes, estimated from the renderer's output bytes
KEPT = dt.timedelta(days=30)  # renders/{digest} expireAt (a Firestore TTL policy may drop it)


@dataclass(frozen=True)
class Result:
    kind: str  # directory | jsonnet | kustomize | helm
    rendered: Rendered  # shared between applications: read, never change
    digest: str  # the cache key
    cached: str  # "" (rendered here), "memory" or "store"
    reads: tuple[str, ...] = ()  # folders outside the path the render read (sources.Output.outside)


_memory: OrderedDict[str, tuple[str, Rendered, tuple[str, ...]]] = OrderedDict()
_weights: dict[str, int] = {}  # digest -> estimated nodes
_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def key(repo_key: str, commit: str, request: sources.Request, kind: str) -> str:
    body = {"v": VERSION, "repo": repo_key, "commit": commit, **request.key(kind)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _lock(digest: str) -> threading.Lock:
    with _guard:
        if len(_locks) > 1000:
            _locks.clear()
        return _locks.setdefault(digest, threading.Lock())


def _remember(digest: str, kind: str, rendered: Rendered, reads: tuple[str, ...]) -> None:
    """Keep a render in memory, within entries, objects and (estimated) nodes: a few
    node-heavy renders must not hold the instance's memory."""
    with _guard:
        _memory[digest] = (kind, rendered, reads)
        _weights[digest] = rendered.nodes
        _memory.move_to_end(digest)
        while len(_memory) > 1 and (
            len(_memory) > MEMORY_ENTRIES
            or sum(len(r.objects) for _, r, _ in _memory.values()) > MEMORY_OBJECTS
            or sum(_weights.values()) > MEMORY_NODES
        ):
            gone, _ = _memory.popitem(last=False)
            _weights.pop(gone, None)


def _recall(digest: str) -> tuple[str, Rendered, tuple[str, ...]] | None:
    with _guard:
        hit = _memory.get(digest)
        if hit is not None:
            _memory.move_to_end(digest)
        return hit


USES_FLUSH_S = 1.0


class Tally:
    """Counts per digest, added by requests and taken together (thread-safe)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, digest: str) -> bool:
        """Count one; True when nothing was pending before (a flush is to be scheduled)."""
        with self._lock:
            first = not self._counts
            self._counts[digest] = self._counts.get(digest, 0) + 1
            return first

    def take(self) -> dict[str, int]:
        with self._lock:
            out, self._counts = self._counts, {}
            return out


# one write per digest per USES_FLUSH_S carrying every use since: 10,000 applications served
# by one render made 10,000 writes on one document (Firestore sustains about one a second)
_uses = Tally()


def _count_use(digest: str) -> None:
    if _uses.add(digest):
        timer = threading.Timer(USES_FLUSH_S, flush_uses)
        timer.daemon = True
        timer.start()


def flush_uses() -> None:
    """Write the uses tallied since the last flush (a timer calls it; tests may too)."""
    for digest, count in sorted(_uses.take().items()):
        try:
            store.count_render_use(digest, count)
        except Exception as exc:  # a counter only: never fails a render
            logs.warning("render uses not counted", digest=digest[:12], uses=count, reason=str(exc)[:300])


def render(
    tree: trees.Tree, repo_key: str, commit: str, request: sources.Request, shared: bool = True
) -> Result:
    """The request's render at commit: from memory, from Firestore (shared=True), or made here."""
    try:
        kind = sources.detect(tree, request.path, request.source)
    except FileNotFoundError as exc:
        return Result("directory", Rendered(errors=[Finding(request.path, 0, 0, "path", str(exc))]), "", "")
    except trees.Refused as exc:
        return Result("directory", Rendered(errors=[exc.finding]), "", "")
    except Exception as exc:  # a hostile tree ends in a finding, never in a redelivery loop
        return Result("directory", Rendered(errors=[sources.unexpected(request.path, exc)]), "", "")
    digest = key(repo_key, commit, request, kind)
    with _lock(digest):
        hit = _recall(digest)
        if hit is not None:
            if shared:
                _count_use(digest)
            return Result(hit[0], hit[1], digest, "memory", hit[2])
        doc = store.get_render(digest) if shared else None
        if doc and isinstance(doc.get("files"), list):
            output = sources.Output(
                doc["kind"],
                [(f["name"], f["text"].encode()) for f in doc["files"]],
                [Finding(**e) for e in doc.get("errors") or []],
            )
            rendered = sources.parse(output)
            reads = tuple(doc.get("reads") or ())
            _count_use(digest)
            _remember(digest, output.kind, rendered, reads)
            return Result(output.kind, rendered, digest, "store", reads)
        output = sources.produce(tree, request, kind)
        rendered = sources.parse(output)
        reads = tuple(output.outside(request.path))
        if not rendered.errors:  # a failure (a time limit on a busy machine...) is tried again
            _remember(digest, output.kind, rendered, reads)
        if shared:
            try:
                store.put_render(digest, _record(repo_key, commit, request, output, rendered))
            except Exception as exc:  # the record only saves later renders: go on without it
                if store.classify(exc) is not Kind.PERMANENT:
                    raise
                logs.warning("render record not stored", digest=digest[:12], reason=str(exc)[:500])
        return Result(output.kind, rendered, digest, "", reads)


def _record(
    repo_key: str, commit: str, request: sources.Request, output: sources.Output, rendered: Rendered
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "repoKey": repo_key,
        "commit": commit,
        "path": request.path,
        "kind": output.kind,
        "key": request.key(output.kind),
        "objectCount": len(rendered.objects),
        "errorCount": len(rendered.errors),
        "reads": output.outside(request.path),
        "renderedAt": store.now(),
        "expireAt": store.now() + KEPT,
        "errors": [e.to_doc() for e in output.errors[:50]],
    }
    _, has_secrets = secrets.redact(rendered.objects)
    try:
        files = [{"name": name, "text": data.decode("utf-8")} for name, data in output.files]
    except UnicodeDecodeError:
        files = None
    if rendered.errors or has_secrets or files is None:
        doc["filesKept"] = "no: " + (
            "the render failed (it is tried again)"
            if rendered.errors
            else "Secret values are never stored"
            if has_secrets
            else "not UTF-8"
        )
    else:
        doc["files"] = files
    return doc


def clear() -> None:
    """Forget the in-memory renders (tests)."""
    with _guard:
        _memory.clear()
        _weights.clear()
