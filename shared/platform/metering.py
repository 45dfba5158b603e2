"""Counted operations of one invocation: Firestore documents read/written, messages published.

The benchmarks and the cost model need what an invocation would be billed for; the
Firestore emulator reports nothing, so the counts are taken at our side: `observe` wraps a
Firestore client's RPC layer once (documents returned by gets and queries are reads, at
least one per query as Firestore bills; each write of a commit is a write or a delete), and
shared/adapters/bus.py counts what it publishes. Counts are kept per request context (each function
request runs in its own thread) and read with `snapshot()` when the invocation ends.
Kubernetes requests are also made from worker threads (concurrent dry-runs), which do not
share the request's context: they are counted per process (`process_totals()`), and a
benchmark takes the difference between two moments.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

KINDS = ("fs_reads", "fs_writes", "fs_deletes", "published", "published_bytes")

_counts: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("counts", default=None)


_process: dict[str, int] = {}
_process_lock = threading.Lock()


def count_process(kind: str, n: int = 1) -> None:
    """Count for the whole process (any thread): e.g. Kubernetes requests."""
    with _process_lock:
        _process[kind] = _process.get(kind, 0) + n


def process_totals() -> dict[str, int]:
    """This process's running totals (with its pid, to tell worker processes apart)."""
    with _process_lock:
        return {"pid": os.getpid(), **{f"{k}_total": v for k, v in _process.items()}}


def reset() -> None:
    """Start counting a new invocation (in this request's context)."""
    _counts.set(dict.fromkeys(KINDS, 0))


def count(kind: str, n: int = 1) -> None:
    counts = _counts.get()
    if counts is None:
        counts = dict.fromkeys(KINDS, 0)
        _counts.set(counts)
    counts[kind] = counts.get(kind, 0) + n


def snapshot() -> dict[str, int]:
    return dict(_counts.get() or dict.fromkeys(KINDS, 0))


def _has(message: Any, name: str) -> bool:
    pb = getattr(message, "_pb", message)
    try:
        return bool(pb.HasField(name))
    except (AttributeError, ValueError):
        return False


class _CountingApi:
    """The Firestore GAPIC client, counting the documents its billed RPCs touch."""

    def __init__(self, api: Any) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or (args[0] if args else {}) or {}
        writes = request.get("writes", []) if isinstance(request, dict) else list(request.writes)
        deletes = sum(1 for w in writes if getattr(w, "delete", ""))
        count("fs_deletes", deletes)
        count("fs_writes", len(writes) - deletes)
        return self._api.commit(*args, **kwargs)

    def batch_get_documents(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for response in self._api.batch_get_documents(*args, **kwargs):
            if _has(response, "found") or _has(response, "missing"):
                count("fs_reads")
            yield response

    def run_query(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        found = 0
        try:
            for response in self._api.run_query(*args, **kwargs):
                if _has(response, "document"):
                    found += 1
                yield response
        finally:
            count("fs_reads", max(1, found))

    def list_documents(self, *args: Any, **kwargs: Any) -> Iterable[Any]:
        count("fs_reads")
        for item in self._api.list_documents(*args, **kwargs):
            count("fs_reads")
            yield item


def observe(client: Any) -> Any:
    """Count the operations of a google.cloud.firestore.Client (returns the same client)."""
    api = client._firestore_api  # builds the GAPIC client (and its channel) once
    if not isinstance(api, _CountingApi):
        client._firestore_api_internal = _CountingApi(api)
    return client
