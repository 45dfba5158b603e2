"""The intake's hot path: GitHub delivery ids (dedupe) and a repository's routes, read and
written as plain RPCs made together by concurrent requests."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.types import document as _pb_doc
from google.cloud.firestore_v1.types import firestore as _pb
from google.cloud.firestore_v1.types import write as _pb_write

from shared.adapters import coalesce, rpc
from shared.adapters.store.common import DELIVERIES, client, now
from shared.platform import metering


def record_delivery(delivery_id: str, ttl: dt.timedelta = dt.timedelta(days=7), timeout: float = 60) -> bool:
    """Remember a GitHub delivery id; False when it was seen before (a redelivery)."""
    received = now()
    return hot().create(
        delivery_ref(delivery_id), {"receivedAt": received, "expireAt": received + ttl}, timeout
    )


def forget_delivery(delivery_id: str) -> None:
    """Undo record_delivery (its publish failed: GitHub's redelivery must be processed)."""
    delivery_ref(delivery_id).delete()


def delivery_ref(delivery_id: str) -> firestore.DocumentReference:
    # GitHub's ids are GUIDs; anything else that is no plain document id is hashed
    if not _PLAIN_ID.fullmatch(delivery_id):
        delivery_id = "sha256-" + hashlib.sha256(delivery_id.encode()).hexdigest()
    return client().collection(DELIVERIES).document(delivery_id)


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
COMMIT_MAX = 500  # writes per commit


class _HotPath:
    """The webhook's per-push document calls as plain protobuf RPCs (shared/adapters/rpc.py says
    why) on the client's own channel, and made together by concurrent requests
    (shared/adapters/coalesce.py); counted for the cost model as billed."""

    def __init__(self, fs: firestore.Client) -> None:
        channel = fs._firestore_api.transport.grpc_channel
        self._database = fs._database_string
        self._metadata = list(fs._rpc_metadata)  # the database prefix (and the emulator's auth)
        self._commit_metadata = [*self._metadata, rpc.routing_header(database=self._database)]
        self._commit = rpc.Unary(
            channel,
            "/google.firestore.v1.Firestore/Commit",
            _pb.CommitRequest.pb(),
            _pb.CommitResponse.pb(),
            (gexc.ResourceExhausted, gexc.ServiceUnavailable),
        )
        self._get = rpc.Unary(
            channel,
            "/google.firestore.v1.Firestore/GetDocument",
            _pb.GetDocumentRequest.pb(),
            _pb_doc.Document.pb(),
            (
                gexc.DeadlineExceeded,
                gexc.InternalServerError,
                gexc.ResourceExhausted,
                gexc.ServiceUnavailable,
            ),
        )
        self._creates = coalesce.Coalescer(self._create_all, max_items=COMMIT_MAX)
        self._reads: dict[str, coalesce.Coalescer[None, tuple[str, bool]]] = {}
        self._reads_lock = threading.Lock()

    def create(
        self, ref: firestore.DocumentReference, timestamps: dict[str, dt.datetime], timeout: float
    ) -> bool:
        """Create a document of timestamp fields; False if it exists."""
        return self._creates.submit((ref._document_path, timestamps), timeout)

    def _create_all(
        self, items: Sequence[tuple[str, dict[str, dt.datetime]]], timeout: float
    ) -> list[bool | Exception]:
        # one atomic commit of every create; when one of them exists (a redelivery: rare)
        # the commit writes nothing, and each is tried on its own. (BatchWrite would answer
        # per write at once, but costs the emulator twice a commit.) A name twice in one
        # call (a redelivery racing its original) is written once; the second is a duplicate.
        writes: dict[str, Any] = {}
        for name, timestamps in items:
            if name not in writes:
                doc = _pb_doc.Document.pb()(name=name)
                for field, value in timestamps.items():
                    doc.fields[field].timestamp_value.FromDatetime(value)
                write = writes[name] = _pb_write.Write.pb()(update=doc)
                write.current_document.exists = False
        deadline = time.monotonic() + timeout
        created: dict[str, bool | Exception] = {}
        try:
            self._commit_writes(list(writes.values()), timeout)
            created = dict.fromkeys(writes, True)
        except gexc.AlreadyExists:
            if len(writes) == 1:
                created = dict.fromkeys(writes, False)
        for name, write in writes.items():
            if name not in created:
                try:
                    self._commit_writes([write], deadline - time.monotonic())
                    created[name] = True
                except gexc.AlreadyExists:
                    created[name] = False
                except gexc.GoogleAPICallError as exc:
                    created[name] = exc
        metering.count("fs_writes", len(writes))  # billed whether created or refused
        answered: set[str] = set()
        results: list[bool | Exception] = []
        for name, _ in items:
            results.append(False if name in answered else created[name])
            answered.add(name)
        return results

    def _commit_writes(self, writes: list[Any], timeout: float) -> None:
        request = _pb.CommitRequest.pb()(database=self._database, writes=writes)
        self._commit(request, timeout=timeout, metadata=self._commit_metadata)

    def routes(self, ref: firestore.DocumentReference, timeout: float) -> tuple[str, bool]:
        """A repository document's routes, as stored (JSON; empty if it does not exist), and
        whether more are kept in its folder shards."""
        name = ref._document_path
        with self._reads_lock:
            reads = self._reads.get(name)
            if reads is None:  # one per repository, with its request made once
                request = _pb.GetDocumentRequest.pb()(name=name)
                request.mask.field_paths.extend(("routes", "sharded"))
                metadata = [*self._metadata, rpc.routing_header(name=name)]
                reads = self._reads[name] = coalesce.Coalescer(
                    lambda items, timeout: [self._read_routes(request, metadata, timeout)] * len(items),
                    max_items=1_000_000,
                )
        return reads.submit(None, timeout)

    def _read_routes(self, request: Any, metadata: rpc.Metadata, timeout: float) -> tuple[str, bool]:
        try:
            doc = self._get(request, timeout=timeout, metadata=metadata)
            raw = doc.fields["routes"].string_value if "routes" in doc.fields else ""
            sharded = "sharded" in doc.fields and doc.fields["sharded"].boolean_value
        except gexc.NotFound:
            raw, sharded = "", False
        metering.count("fs_reads")  # a missing document is billed as one read too
        return raw, sharded


def forget_clients() -> None:
    """Drop the cached client (a process that moves to another emulator, e.g. benchmarks)."""
    client.cache_clear()
    hot.cache_clear()


@functools.cache
def hot() -> _HotPath:
    return _HotPath(client())
