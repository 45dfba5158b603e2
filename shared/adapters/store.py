"""All Firestore access.

Layout, meant to be read by a person in the GCP console:

    applications/{name}                   spec (Argo CD field names) + status + lease
    applications/{name}/revisions/{id}    a rendered revision: commit, author, manifests
    applications/{name}/revisions/{id}/parts/{000}  a big revision's manifests, compressed
    applications/{name}/inventory/{generation}-{000}  what the app owns, in parts (status.inventory
                                          points at the generation the last sync recorded)
    applications/{name}/history/{000042}  one deployment: who, what, summary and counts
    applications/{name}/history/{000042}/results/{000}  its result per object, in parts
    applications/{name}/drift/{id}        what a sweep found, who changed it, what was done
    applications/{name}/drift/{id}/parts/{000}  the drifted objects beyond the first DRIFT_INLINE
    repositories/{hash}                   per repository: its apps' routing (revision, paths)
    repositories/{hash}/folders/{hash}    past ROUTES_INLINE_BYTES: routing by watched folder
    renders/{digest}                      render-once cache: one (repo, commit, path, options) render
    webhookDeliveries/{delivery id}       GitHub delivery ids seen (dedupe; TTL on expireAt)

Every query this module makes is listed in QUERIES, so a test can check that
infra/ declares an index for each.

Every document has a bound whatever the size of an application: lists that grow with it
(inventory, per-object results, drifted objects) are kept in parts of at most PART_BYTES,
and every write is checked against Firestore's limits first (shared/core/docsize.py): what
Firestore would refuse is never sent, and raises DocumentTooLarge, a permanent error
(`classify`).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import hashlib
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.types import document as _pb_doc
from google.cloud.firestore_v1.types import firestore as _pb
from google.cloud.firestore_v1.types import write as _pb_write

from shared.adapters import coalesce, rpc
from shared.core import docsize
from shared.core.docsize import DocumentTooLarge
from shared.core.failures import Kind
from shared.core.model import AppSpec, RepoApps
from shared.platform import config, metering

APPS = "applications"
DELIVERIES = "webhookDeliveries"
REPOSITORIES = "repositories"
DONE_OPERATIONS_KEPT = 50

# (collection, field filters, order by) of every query below
QUERIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (APPS, ("parent",), ()),
    ("history", (), ("sequence",)),
    # trim_history: the entries falling off (sequence <=) and the kept ones (sequence >); a
    # range on one field is served by the automatic single-field index
    ("history", ("sequence",), ()),
    ("history", ("sequence",), ()),
    ("drift", (), ("detectedAt",)),
)


class NotFound(LookupError):
    """A named document does not exist."""


class LeaseBusy(RuntimeError):
    """Another operation holds the application's lease (retry later)."""


# Firestore's answers that no retry can change: an invalid argument (a document over 1 MiB
# in production: "maximum entity size is 1048576 bytes", too many index entries), a failed
# precondition (an index or a schema the database lacks), a value out of range
PERMANENT = (gexc.InvalidArgument, gexc.FailedPrecondition, gexc.OutOfRange)
# unavailable, a deadline, contention (Aborted), a quota (ResourceExhausted), and credentials
# or a role not granted yet (an operator can fix those; the bounded deliveries end in the
# dead-letter topic otherwise)
TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.Aborted,
    gexc.ResourceExhausted,
    gexc.InternalServerError,
    gexc.Unknown,
    gexc.Cancelled,
    gexc.PermissionDenied,
    gexc.Unauthenticated,
    gexc.RetryError,
)
PERMANENT_MESSAGES = (
    "maximum entity size",
    "too many index entries",
    "exceeds the maximum",
    "exceeds maximum size",
    "Transaction too big",
)


def classify(exc: BaseException) -> Kind | None:
    """A Firestore error's kind (see shared/core/failures.py); None when it is not one. A request
    the client library gave up retrying is judged by its last error (a request too big for
    the server is answered ResourceExhausted, which the library retries to its deadline)."""
    if isinstance(exc, gexc.RetryError):
        cause = classify(exc.cause) if exc.cause is not None else None
        return cause or Kind.TRANSIENT
    if isinstance(exc, DocumentTooLarge | NotFound):
        return Kind.PERMANENT
    if isinstance(exc, gexc.GoogleAPICallError) and any(text in str(exc) for text in PERMANENT_MESSAGES):
        return Kind.PERMANENT
    if isinstance(exc, PERMANENT):
        return Kind.PERMANENT
    if isinstance(exc, TRANSIENT):
        return Kind.TRANSIENT
    return None


def bounds() -> docsize.Bounds:
    """Firestore's limits; GITOPS_FIRESTORE_MAX_BYTES lowers the document size (a fault test)."""
    limit = config.firestore_max_bytes()
    return docsize.Bounds(document_bytes=limit) if limit is not None else docsize.Bounds()


def checked(ref: firestore.DocumentReference, data: dict[str, Any]) -> dict[str, Any]:
    """`data` if Firestore would store it as the document `ref`; else DocumentTooLarge."""
    docsize.check(ref._document_path.split("/documents/", 1)[-1], data, bounds())
    return data


def merged(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """What a document becomes after an update with dotted field paths (for `checked`)."""
    out = copy.deepcopy(doc)
    for path, value in update.items():
        *parents, last = path.split(".")
        node = out
        for key in parents:
            child = node.get(key)
            node[key] = child = child if isinstance(child, dict) else {}
            node = child
        if value is firestore.DELETE_FIELD:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def forget_clients() -> None:
    """Drop the cached client (a process that moves to another emulator, e.g. benchmarks)."""
    client.cache_clear()
    _hot.cache_clear()


@functools.cache
def client() -> firestore.Client:
    return metering.observe(firestore.Client(project=config.project()))


def _app_ref(name: str) -> firestore.DocumentReference:
    return client().collection(APPS).document(name)


# ---- applications -----------------------------------------------------------------


@dataclass(frozen=True)
class App:
    spec: AppSpec
    status: dict[str, Any]
    parent: str = ""  # the app-of-apps application that registered this one

    @property
    def name(self) -> str:
        return self.spec.name


def _repo_ref(repo_key: str) -> firestore.DocumentReference:
    return client().collection(REPOSITORIES).document(hashlib.sha256(repo_key.encode()).hexdigest()[:32])


def _routes(snap: firestore.DocumentSnapshot) -> dict[str, dict[str, Any]]:
    raw = snap.get("routes") if snap.exists else None
    return json.loads(raw) if raw else {}


def _routes_doc(repo_key: str, routes: dict[str, dict[str, Any]], sharded: bool = False) -> dict[str, Any]:
    # one JSON string: a push decodes it in microseconds (a map of maps costs a deep copy)
    doc = {
        "repoKey": repo_key,
        "apps": sorted(routes),
        "routes": json.dumps(routes, sort_keys=True),
        "updatedAt": now(),
    }
    return doc | ({"sharded": True} if sharded else {})


def _route(spec: AppSpec) -> dict[str, Any]:
    """What intake needs to route a push to an application, kept on its repository's document."""
    return {
        "repoURL": spec.repoURL,
        "targetRevision": spec.targetRevision,
        "path": spec.path,
        "watchPaths": list(spec.watchPaths),
    }


# A repository's routes are kept on its document while their JSON fits in ROUTES_INLINE_BYTES
# (about 1,000 applications): a push reads that one document. Beyond, the document is marked
# `sharded` and further applications are routed from repositories/{hash}/folders/{hash of
# folder} documents, one per folder an application watches (its path, watched paths and
# what its last render read), holding the routes of the applications watching that folder;
# a push reads those of the folders above each changed path (every one only when the push
# does not list its paths). No document holds every application of a monorepo, and a push
# reads the routes of the folders it touched, not the whole fleet's.
ROUTES_INLINE_BYTES = 256 * 1024
FOLDERS = "folders"


def _inline_bytes() -> int:
    return config.routes_inline_bytes(ROUTES_INLINE_BYTES)


def _folder(path: str) -> str:
    folder = path.strip("/")
    return "" if folder == "." else folder


def route_folders(route: dict[str, Any]) -> list[str]:
    """The folders a route is kept under when its repository's routes are sharded."""
    paths = (route.get("path", "."), *(route.get("watchPaths") or ()), *(route.get("reads") or ()))
    return sorted({_folder(p) for p in paths})


def push_folders(changed: frozenset[str]) -> set[str]:
    """The folders whose routes a push changing these paths needs: the root, every folder
    above each path, and the path itself (RepoApps.concerned decides among them)."""
    out = {""}
    for path in changed:
        path = path.strip("/")
        out.update(path[:i] for i, ch in enumerate(path) if ch == "/")
        out.add(path)
    return out


def _folder_ref(repo_key: str, folder: str) -> firestore.DocumentReference:
    return _repo_ref(repo_key).collection(FOLDERS).document(hashlib.sha256(folder.encode()).hexdigest()[:32])


class _Routing:
    """Repositories' routes as one transaction reads (lazily, before any write) and writes
    (flush, at the end) them."""

    def __init__(self, tx: firestore.Transaction) -> None:
        self.tx = tx
        self.heads: dict[str, dict[str, dict[str, Any]]] = {}
        self.sharded: dict[str, bool] = {}
        self.shards: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.dirty: set[tuple[str, str | None]] = set()  # (repo, None: head | folder)

    def head(self, key: str) -> dict[str, dict[str, Any]]:
        if key not in self.heads:
            snap = _repo_ref(key).get(transaction=self.tx)
            self.heads[key] = _routes(snap)
            self.sharded[key] = bool(snap.exists and (snap.to_dict() or {}).get("sharded"))
        return self.heads[key]

    def shard(self, key: str, folder: str) -> dict[str, dict[str, Any]]:
        if (key, folder) not in self.shards:
            self.shards[key, folder] = _routes(_folder_ref(key, folder).get(transaction=self.tx))
        return self.shards[key, folder]

    def find(self, key: str, name: str, folders: list[str] | None) -> dict[str, Any] | None:
        """An application's route (on the head when `folders` is None, else in those shards)."""
        if folders is None:
            return self.head(key).get(name)
        return next((self.shard(key, f)[name] for f in folders if name in self.shard(key, f)), None)

    def remove(self, key: str, name: str, folders: list[str] | None) -> dict[str, Any] | None:
        route = self.find(key, name, folders)
        if folders is None:
            if self.head(key).pop(name, None) is not None:
                self.dirty.add((key, None))
        else:
            for f in folders:
                if self.shard(key, f).pop(name, None) is not None:
                    self.dirty.add((key, f))
        return route

    def place(self, key: str, name: str, route: dict[str, Any]) -> list[str] | None:
        """Keep a route on the head while it fits, else in its folders' shards (returned)."""
        head = self.head(key)
        if not self.sharded[key]:
            text = json.dumps({**head, name: route}, sort_keys=True)
            if len(text) <= _inline_bytes():
                head[name] = route
                self.dirty.add((key, None))
                return None
            self.sharded[key] = True
            self.dirty.add((key, None))
        folders = route_folders(route)
        for f in folders:
            self.shard(key, f)[name] = route
            self.dirty.add((key, f))
        return folders

    def flush(self) -> None:
        for key, folder in sorted(self.dirty, key=lambda d: (d[0], d[1] or "")):
            if folder is None:
                ref = _repo_ref(key)
                self.tx.set(ref, checked(ref, _routes_doc(key, self.heads[key], self.sharded[key])))
                continue
            ref, routes = _folder_ref(key, folder), self.shards[key, folder]
            if routes:
                self.tx.set(
                    ref,
                    checked(
                        ref,
                        {
                            "repoKey": key,
                            "folder": folder,
                            "apps": sorted(routes),
                            "routes": json.dumps(routes, sort_keys=True),
                            "updatedAt": now(),
                        },
                    ),
                )
            else:
                self.tx.delete(ref)


def _placed(folders: list[str] | None) -> Any:
    return folders if folders is not None else firestore.DELETE_FIELD


def put_app(spec: AppSpec, *, create: bool = False, parent: str | None = None) -> None:
    """Create (create=True fails if it exists) or update an application's spec.

    The application's routing (revision, path, watched paths) is kept in the same
    transaction on `repositories/{hash of repo}` (or its folder shards, see
    ROUTES_INLINE_BYTES), so a push reads one document, or those of the folders it changed,
    however many applications share the repository.
    """
    put_apps([spec], create=create, parent=parent)


APPS_PER_TRANSACTION = 100


def put_apps(specs: Sequence[AppSpec], *, create: bool = False, parent: str | None = None) -> None:
    """put_app for many applications (`app create -f` with many documents), in transactions
    of APPS_PER_TRANSACTION: their repositories' routing is read and written once for each."""
    unique = list({spec.name: spec for spec in specs}.values())  # a name twice: the last wins
    for start in range(0, len(unique), APPS_PER_TRANSACTION):
        _put_apps(unique[start : start + APPS_PER_TRANSACTION], create, parent)


def _put_apps(specs: list[AppSpec], create: bool, parent: str | None) -> None:
    refs = [_app_ref(spec.name) for spec in specs]
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snaps = {snap.id: snap for snap in tx.get_all(refs)}
        routing = _Routing(tx)
        writes = []
        for spec, ref in zip(specs, refs, strict=True):
            snap = snaps[spec.name]
            if snap.exists and create:
                raise FileExistsError(f"application {spec.name!r} already exists")
            doc = (snap.to_dict() or {}) if snap.exists else {}
            old_key = doc.get("repoKey")
            old = routing.remove(old_key, spec.name, doc.get("routeFolders")) if old_key else None
            # the reads of its last render are kept until the next render
            reads = (old or {}).get("reads") if old_key == spec.repo_key else None
            folders = routing.place(
                spec.repo_key, spec.name, _route(spec) | ({"reads": reads} if reads else {})
            )
            data = {"spec": spec.to_doc(), "repoKey": spec.repo_key, "updatedAt": now()}
            if parent is not None:
                data["parent"] = parent
            if snap.exists:
                data["routeFolders"] = _placed(folders)
                checked(ref, merged(doc, data))
                writes.append((ref, data, True))
            else:
                data |= {"routeFolders": folders} if folders is not None else {}
                writes.append(
                    (
                        ref,
                        checked(ref, {**data, "createdAt": now(), "status": {"sync": {"status": "Unknown"}}}),
                        False,
                    )
                )
        for ref, data, update in writes:  # every read above, every write below
            if update:
                tx.update(ref, data)
            else:
                tx.set(ref, data)
        routing.flush()

    run(transaction)


def get_app(name: str) -> App:
    snap = _app_ref(name).get()
    if not snap.exists:
        raise NotFound(f"application {name!r} not found")
    return _to_app(snap)


def _to_app(snap: firestore.DocumentSnapshot) -> App:
    doc = snap.to_dict() or {}
    return App(AppSpec.from_doc(snap.id, doc["spec"]), doc.get("status") or {}, doc.get("parent", ""))


def children_of(parent: str) -> list[App]:
    query = client().collection(APPS).where(filter=firestore.FieldFilter("parent", "==", parent))
    return [_to_app(s) for s in query.stream()]


def list_apps() -> list[App]:
    return [_to_app(s) for s in client().collection(APPS).stream()]


def apps_for_repo(repo_key: str, timeout: float = 60, changed: frozenset[str] | None = None) -> RepoApps:
    """The applications on a repository a push changing `changed` (None: unknown) may concern,
    as much of their spec as routing it needs: one document read, plus, on a sharded
    repository, the folder documents above the changed paths (see ROUTES_INLINE_BYTES)."""
    raw, sharded = _hot().routes(_repo_ref(repo_key), timeout)
    if not sharded:
        return _repo_apps(raw)
    routes = json.loads(raw) if raw else {}
    if changed is None:
        snaps = list(_repo_ref(repo_key).collection(FOLDERS).select(["routes"]).stream())
    else:
        snaps = list(
            client().get_all(
                [_folder_ref(repo_key, f) for f in sorted(push_folders(changed))], field_paths=["routes"]
            )
        )
    for snap in snaps:
        routes.update(_routes(snap))
    return _repo_apps(json.dumps(routes, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _repo_apps(raw_routes: str) -> RepoApps:
    # a repository's routes change far less often than it is pushed to: decoded once
    routes = json.loads(raw_routes) if raw_routes else {}
    return RepoApps(
        tuple(
            AppSpec(
                name=name,
                repoURL=r["repoURL"],
                path=r.get("path", "."),
                targetRevision=r.get("targetRevision", "HEAD"),
                watchPaths=(*(r.get("watchPaths") or ()), *(r.get("reads") or ())),
            )
            for name, r in sorted(routes.items())
        )
    )


def set_reads(spec: AppSpec, reads: list[str]) -> None:
    """Route pushes changing these folders (outside its path: a Kustomize base, Helm value
    files, Jsonnet imports, as its last render read them) to the application too."""
    ref = _app_ref(spec.name)
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if doc.get("repoKey") != spec.repo_key:
            return
        routing = _Routing(tx)
        route = routing.find(spec.repo_key, spec.name, doc.get("routeFolders"))
        if route is None or sorted(route.get("reads") or []) == sorted(reads):
            return
        routing.remove(spec.repo_key, spec.name, doc.get("routeFolders"))
        route = {k: v for k, v in route.items() if k != "reads"} | ({"reads": sorted(reads)} if reads else {})
        folders = routing.place(spec.repo_key, spec.name, route)
        if folders != doc.get("routeFolders"):
            tx.update(ref, {"routeFolders": _placed(folders)})
        routing.flush()

    run(transaction)


def delete_app(name: str) -> None:
    ref = _app_ref(name)
    transaction = client().transaction()

    @firestore.transactional
    def unroute(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if doc.get("repoKey"):
            routing = _Routing(tx)
            routing.remove(doc["repoKey"], name, doc.get("routeFolders"))
            routing.flush()

    unroute(transaction)
    for sub in ("revisions", "history", "drift", INVENTORY):
        for doc in ref.collection(sub).list_documents():
            for nested in ("parts", RESULTS):
                for part in doc.collection(nested).list_documents():
                    part.delete()
            doc.delete()
    ref.delete()


def update_status(name: str, fields: dict[str, Any]) -> None:
    """Merge fields into status (dotted keys allowed: {"render.error": ...}); checked against
    the document's bound first (one read in the same transaction)."""
    ref = _app_ref(name)
    update = {f"status.{k}": v for k, v in fields.items()}
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            raise NotFound(f"application {name!r} not found")
        checked(ref, merged(snap.to_dict() or {}, update))
        tx.update(ref, update)

    run(transaction)


# ---- projects ---------------------------------------------------------------------

PROJECTS = "projects"


def put_project(name: str, doc: dict[str, Any]) -> None:
    client().collection(PROJECTS).document(name).set({**doc, "updatedAt": now()})


def list_projects() -> list[dict[str, Any]]:
    return [{"name": s.id, **(s.to_dict() or {})} for s in client().collection(PROJECTS).stream()]


def get_project(name: str) -> dict[str, Any] | None:
    snap = client().collection(PROJECTS).document(name).get()
    return (snap.to_dict() or {}) if snap.exists else None


# ---- webhook deliveries -------------------------------------------------------------


def record_delivery(delivery_id: str, ttl: dt.timedelta = dt.timedelta(days=7), timeout: float = 60) -> bool:
    """Remember a GitHub delivery id; False when it was seen before (a redelivery)."""
    received = now()
    return _hot().create(
        _delivery_ref(delivery_id), {"receivedAt": received, "expireAt": received + ttl}, timeout
    )


def forget_delivery(delivery_id: str) -> None:
    """Undo record_delivery (its publish failed: GitHub's redelivery must be processed)."""
    _delivery_ref(delivery_id).delete()


def _delivery_ref(delivery_id: str) -> firestore.DocumentReference:
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


@functools.cache
def _hot() -> _HotPath:
    return _HotPath(client())


# ---- revisions --------------------------------------------------------------------

# A revision's manifests are kept as readable YAML in its document up to INLINE_BYTES;
# bigger ones (Firestore caps a document at 1 MiB) are zlib-compressed and split across
# revisions/{id}/parts/{000..} documents, written before the revision document itself so
# a reader never sees a revision whose parts are missing. Read back exactly (sha256).
INLINE_BYTES = 256 * 1024
PART_BYTES = 900 * 1024
_PACKED = ("manifests", "objects", "findings")


def put_revision(app: str, revision_id: str, doc: dict[str, Any]) -> None:
    _put_packed(_app_ref(app).collection("revisions").document(revision_id), doc)


def get_revision(app: str, revision_id: str) -> dict[str, Any]:
    doc = _get_packed(
        _app_ref(app).collection("revisions").document(revision_id),
        f"revision {revision_id!r} of application {app!r}",
    )
    if doc is None:
        raise NotFound(f"revision {revision_id!r} of application {app!r} not found")
    return doc


def _put_packed(
    ref: firestore.DocumentReference,
    doc: dict[str, Any],
    packed_fields: tuple[str, ...] = _PACKED,
    merge: bool = False,
) -> None:
    """Write doc; its big fields compressed into parts documents when they pass INLINE_BYTES."""
    payload = {k: doc[k] for k in packed_fields if k in doc}
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    if len(raw) <= INLINE_BYTES:
        ref.set(checked(ref, doc), merge=merge)
        return
    packed = zlib.compress(raw, 6)
    parts = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
    head = {k: v for k, v in doc.items() if k not in packed_fields}
    head |= {
        "packed": {
            "encoding": "json+zlib",
            "parts": len(parts),
            "bytes": len(raw),
            "compressedBytes": len(packed),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        packed_fields[0]: f"(compressed: {len(raw):,} bytes in {len(parts)} parts)",
    }
    checked(ref, head)
    for i, part in enumerate(parts):
        part_ref = ref.collection("parts").document(f"{i:03d}")
        part_ref.set(checked(part_ref, {"data": part}))
    ref.set(head, merge=merge)


def _get_packed(ref: firestore.DocumentReference, what: str) -> dict[str, Any] | None:
    """A document written by _put_packed, read back exactly; None when it does not exist."""
    snap = ref.get()
    if not snap.exists:
        return None
    doc = snap.to_dict() or {}
    packed = doc.pop("packed", None)
    if not packed:
        return doc
    parts = sorted(ref.collection("parts").stream(), key=lambda p: p.id)
    try:
        raw = zlib.decompress(b"".join((p.to_dict() or {})["data"] for p in parts))
    except zlib.error:
        raw = b""
    if len(parts) != packed["parts"] or hashlib.sha256(raw).hexdigest() != packed["sha256"]:
        raise NotFound(f"{what} is incomplete ({len(parts)} of {packed['parts']} parts)")
    return doc | json.loads(raw)


def _delete_revision(batch: firestore.WriteBatch, ref: firestore.DocumentReference) -> None:
    for part in ref.collection("parts").list_documents():
        batch.delete(part)
    batch.delete(ref)


# ---- lists kept in parts: inventory, per-object results, drifted objects ----------------

INVENTORY = "inventory"
RESULTS = "results"
PART_BYTES_JSON = 512 * 1024  # a part's JSON text: half the document limit, whatever the list
# one commit's documents: a request is refused over 10 MiB in production, and over gRPC's
# 4 MiB message limit by the emulator ("gRPC message exceeds maximum size")
COMMIT_BYTES = 3 * 1024 * 1024


def chunk(items: Sequence[Any], part_bytes: int = PART_BYTES_JSON) -> list[str]:
    """JSON texts of consecutive runs of `items`, each at most `part_bytes` (unless a single
    item is bigger: then alone, and the bound check refuses it)."""
    parts: list[str] = []
    run: list[str] = []
    size = 2
    for item in items:
        text = json.dumps(item, separators=(",", ":"), sort_keys=True, default=str)
        if run and size + len(text) + 1 > part_bytes:
            parts.append("[" + ",".join(run) + "]")
            run, size = [], 2
        run.append(text)
        size += len(text) + 1
    if run:
        parts.append("[" + ",".join(run) + "]")
    return parts


def _write_parts(refs: list[firestore.DocumentReference], texts: list[str], extra: dict[str, Any]) -> None:
    """Write parts documents, every one checked before the first is written, in batches."""
    docs = [
        checked(ref, {**extra, "part": i, "entries": text})
        for i, (ref, text) in enumerate(zip(refs, texts, strict=True))
    ]
    batch, size = client().batch(), 0
    for ref, doc in zip(refs, docs, strict=True):
        doc_size = docsize.document_size(ref.path, doc)
        if size and size + doc_size > COMMIT_BYTES:
            batch.commit()
            batch, size = client().batch(), 0
        batch.set(ref, doc)
        size += doc_size
    if size:
        batch.commit()


def _read_parts(refs: list[firestore.DocumentReference], what: str) -> list[Any]:
    snaps = {s.reference.path: s for s in client().get_all(refs)} if refs else {}
    out: list[Any] = []
    for ref in refs:
        snap = snaps.get(ref.path)
        if snap is None or not snap.exists:
            raise NotFound(f"{what} is incomplete: {ref.id} is missing")
        out += json.loads((snap.to_dict() or {})["entries"])
    return out


def _inventory_refs(app: str, generation: str, parts: int) -> list[firestore.DocumentReference]:
    return [_app_ref(app).collection(INVENTORY).document(f"{generation}-{i:03d}") for i in range(parts)]


def put_inventory(app: str, generation: str, entries: list[dict[str, str]]) -> dict[str, Any]:
    """Write an inventory in parts (before the status points at it: a reader never sees a
    generation whose parts are missing); returns what status.inventory keeps."""
    texts = chunk(entries)
    _write_parts(_inventory_refs(app, generation, len(texts)), texts, {"generation": generation})
    return {"generation": generation, "parts": len(texts), "count": len(entries), "sha256": _digest(texts)}


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("".join(texts).encode()).hexdigest()


def inventory(app: str, status: dict[str, Any]) -> list[dict[str, str]]:
    """What the application owns, as its last recorded sync left it (status.inventory points
    at a generation of parts; an inline list is the layout before parts and still read)."""
    pointer = status.get("inventory")
    if not pointer:
        return []
    if isinstance(pointer, list):
        return pointer
    entries = _read_parts(
        _inventory_refs(app, pointer["generation"], int(pointer["parts"])),
        f"inventory {pointer['generation']} of application {app!r}",
    )
    if len(entries) != int(pointer["count"]):
        raise NotFound(
            f"inventory {pointer['generation']} of application {app!r} has "
            f"{len(entries)} of {pointer['count']} entries"
        )
    return entries


def unrecorded(status: dict[str, Any]) -> list[dict[str, str]]:
    """Kinds and namespaces a sync may have applied without recording its inventory (its
    record was refused): the next sync adds what it finds there with the app's label."""
    pointer = status.get("inventory")
    return list(pointer.get("unrecorded") or []) if isinstance(pointer, dict) else []


def _drop_other_generations(app: str, keep: str) -> None:
    batch, n = client().batch(), 0
    for ref in _app_ref(app).collection(INVENTORY).list_documents():
        if not ref.id.startswith(keep + "-"):
            batch.delete(ref)
            n += 1
    if n:
        batch.commit()


def _results_refs(entry_ref: firestore.DocumentReference, parts: int) -> list[firestore.DocumentReference]:
    return [entry_ref.collection(RESULTS).document(f"{i:03d}") for i in range(parts)]


# ---- render-once cache (shared/render/cache.py) ----------------------------------------

RENDERS = "renders"


def get_render(digest: str) -> dict[str, Any] | None:
    """A cached render (renderer output files, errors, counters) by its digest, or None."""
    return _get_packed(client().collection(RENDERS).document(digest), f"render {digest[:12]}")


def put_render(digest: str, doc: dict[str, Any]) -> None:
    """Record one render (counted in `renders`, and its first use in `uses`)."""
    _put_packed(
        client().collection(RENDERS).document(digest),
        doc | {"renders": firestore.Increment(1), "uses": firestore.Increment(1)},
        packed_fields=("files", "errors"),
        merge=True,
    )


def count_render_use(digest: str) -> None:
    """One more application took this render from the cache."""
    with contextlib.suppress(gexc.NotFound):
        client().collection(RENDERS).document(digest).update(
            {"uses": firestore.Increment(1), "usedAt": now()}
        )


# ---- sync operations: lease, history ------------------------------------------------


@dataclass(frozen=True)
class Begun:
    """What `begin_operation` decided."""

    sequence: int  # the history entry this operation writes (0 when not started)
    duplicate: bool = False  # the operation already finished: do nothing
    app: App | None = None


class LeaseLost(RuntimeError):
    """Our lease expired and another delivery took over: write nothing (retry later)."""


# renewed every LEASE_S/3 while the holder lives: a dead holder frees it soon
LEASE_S = config.lease_seconds()


def begin_operation(app_name: str, operation: str, holder: str, lease_s: int = LEASE_S) -> Begun:
    """Take the app's lease for one delivery of an operation; allocate its history number.

    A finished operation (redelivered) returns duplicate=True. A live lease of anyone else
    (another operation, or another delivery of this one still running) raises LeaseBusy.
    An expired lease is taken over; if it was this operation's, its sequence is reused.
    """
    ref = _app_ref(app_name)
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> Begun:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            raise NotFound(f"application {app_name!r} not found")
        doc = snap.to_dict() or {}
        app = _to_app(snap)
        if operation in (doc.get("doneOperations") or []):
            return Begun(0, duplicate=True, app=app)
        lease = doc.get("lease") or {}
        if lease and lease.get("holder") != holder and lease.get("expiresAt", now()) > now():
            raise LeaseBusy(f"application {app_name!r} is being synced by {lease.get('operation')}")
        if lease.get("operation") == operation:
            seq = int(lease["sequence"])
        else:
            seq = int((doc.get("status") or {}).get("historyCount", 0)) + 1
        tx.update(
            ref,
            {
                "lease": {
                    "operation": operation,
                    "holder": holder,
                    "sequence": seq,
                    "expiresAt": now() + dt.timedelta(seconds=lease_s),
                }
            },
        )
        return Begun(seq, app=app)

    return run(transaction)


@contextlib.contextmanager
def heartbeat(app_name: str, holder: str, lease_s: int = LEASE_S) -> Iterator[None]:
    """Keep renewing the lease while the block runs (stops renewing if it was lost)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_s / 3):
            try:
                ref = _app_ref(app_name)
                snap = ref.get()
                lease = (snap.to_dict() or {}).get("lease") or {}
                if lease.get("holder") != holder:
                    return
                ref.update(
                    {"lease.expiresAt": now() + dt.timedelta(seconds=lease_s)},
                    option=client().write_option(last_update_time=snap.update_time),
                )
            except Exception:
                continue

    thread = threading.Thread(target=renew, name=f"lease-{app_name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def finish_operation(
    app_name: str,
    operation: str,
    holder: str,
    sequence: int,
    entry: dict[str, Any] | None,
    status: dict[str, Any],
    previous_inventory: Any = None,
) -> None:
    """Write the history entry (if any) and the status, mark the operation done, free the lease.

    The entry's per-object `resources` go to history/{seq}/results parts and a list in
    status `inventory` to inventory parts, both written first; the entry keeps its summary
    and counts, the status a pointer. Every document is checked against its bound before
    anything of the transaction is written (DocumentTooLarge, permanent). An inventory equal
    to `previous_inventory` (the status' pointer the operation began with) is not written
    again: a sync that changed nothing writes no parts for it.
    Raises LeaseLost, writing nothing, when another delivery took the lease meanwhile.
    """
    ref = _app_ref(app_name)
    status = dict(status)
    generation = ""
    if isinstance(status.get("inventory"), list):
        unchanged = (
            isinstance(previous_inventory, dict)
            and not previous_inventory.get("unrecorded")
            and previous_inventory.get("sha256") == _digest(chunk(status["inventory"]))
            and previous_inventory.get("count") == len(status["inventory"])
        )
        if unchanged:
            status["inventory"] = previous_inventory
        else:
            generation = f"{sequence:06d}-{holder[:8]}"
            status["inventory"] = put_inventory(app_name, generation, status["inventory"])
    if entry is not None and "resources" in entry:
        entry = dict(entry)
        results = entry.pop("resources")
        texts = chunk(results)
        _write_parts(
            _results_refs(ref.collection("history").document(f"{sequence:06d}"), len(texts)),
            texts,
            {"sequence": sequence},
        )
        entry["results"] = {"parts": len(texts), "count": len(results)}
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = snap.to_dict() or {}
        if (doc.get("lease") or {}).get("holder") != holder:
            raise LeaseLost(f"the lease on {app_name!r} was taken over; {operation} not recorded")
        done = [*(doc.get("doneOperations") or []), operation][-DONE_OPERATIONS_KEPT:]
        update: dict[str, Any] = {f"status.{k}": v for k, v in status.items()}
        if entry is not None:
            entry_ref = ref.collection("history").document(f"{sequence:06d}")
            tx.set(entry_ref, checked(entry_ref, entry))
            update["status.historyCount"] = sequence
        update["doneOperations"] = done
        update["lease"] = firestore.DELETE_FIELD
        checked(ref, merged(doc, update))
        tx.update(ref, update)

    run(transaction)
    if generation:
        _drop_other_generations(app_name, generation)


def release_lease(app_name: str, holder: str) -> None:
    """Give the lease back without finishing (e.g. after a transient failure)."""
    ref = _app_ref(app_name)
    snap = ref.get()
    if snap.exists and ((snap.to_dict() or {}).get("lease") or {}).get("holder") == holder:
        ref.update(
            {"lease": firestore.DELETE_FIELD}, option=client().write_option(last_update_time=snap.update_time)
        )


def trim_history(app: str, limit: int, keep_revisions: set[str], newest: int) -> int:
    """Keep the newest `limit` history entries; drop older ones, then every rendered
    revision no remaining entry (nor the pin, nor the last healthy) refers to.

    `newest` is the sequence just written. Sequences are dense (each operation takes the
    next one), so nothing is read while there are at most `limit` entries, and then only the
    entries falling off and the kept ones' revision and start (it read every entry in full
    after every sync)."""
    if limit < 1 or newest <= limit:  # AppSpec refuses a limit under 1; never drop the newest
        return 0
    history = _app_ref(app).collection("history")
    cut = firestore.FieldFilter("sequence", "<=", newest - limit)
    dropped = list(history.where(filter=cut).select([]).stream())
    if not dropped:
        return 0
    batch = client().batch()
    for snap in dropped:
        for part in snap.reference.collection(RESULTS).list_documents():
            batch.delete(part)
        batch.delete(snap.reference)
    kept = [
        s.to_dict() or {}
        for s in history.where(filter=firestore.FieldFilter("sequence", ">", newest - limit))
        .select(["revision", "startedAt"])
        .stream()
    ]
    wanted = keep_revisions | {e.get("revision") for e in kept}
    oldest_kept = min((e["startedAt"] for e in kept if "startedAt" in e), default=now())
    for snap in _app_ref(app).collection("revisions").select(["renderedAt"]).stream():
        rendered = (snap.to_dict() or {}).get("renderedAt")
        # only revisions older than every kept entry: newer ones may still be synced
        if snap.id not in wanted and rendered is not None and rendered < oldest_kept:
            _delete_revision(batch, snap.reference)
    batch.commit()
    return len(dropped)


def _history_snapshots(app: str) -> list[firestore.DocumentSnapshot]:
    return list(_app_ref(app).collection("history").order_by("sequence").stream())


def history(app: str) -> list[dict[str, Any]]:
    """Every history entry: summary and counts (per-object results: get_history)."""
    return [s.to_dict() or {} for s in _history_snapshots(app)]


def get_history(app: str, sequence: int, *, results: bool = True) -> dict[str, Any]:
    """One history entry, with its per-object results read back from its parts as
    `resources` (unless results=False)."""
    ref = _app_ref(app).collection("history").document(f"{sequence:06d}")
    snap = ref.get()
    if not snap.exists:
        raise NotFound(f"history entry {sequence} of application {app!r} not found")
    entry = snap.to_dict() or {}
    pointer = entry.get("results")
    if results and isinstance(pointer, dict) and "resources" not in entry:
        entry["resources"] = _read_parts(
            _results_refs(ref, int(pointer["parts"])), f"results of history entry {sequence} of {app!r}"
        )
    return entry


# ---- drift ------------------------------------------------------------------------

DRIFT_INLINE = 100  # drifted objects kept in the record itself; the rest in its parts


def put_drift(app: str, record: dict[str, Any]) -> str:
    """Record what an audit found: the first DRIFT_INLINE objects inline (readable in the
    console), every object beyond them in drift/{id}/parts, written first."""
    ref = _app_ref(app).collection("drift").document(record["detectedAt"].strftime("%Y%m%dT%H%M%S.%fZ"))
    objects = list(record.get("objects") or [])
    record = {**record, "objects": objects[:DRIFT_INLINE], "objectCount": len(objects)}
    if len(objects) > DRIFT_INLINE:
        texts = chunk(objects[DRIFT_INLINE:])
        _write_parts([ref.collection("parts").document(f"{i:03d}") for i in range(len(texts))], texts, {})
        record["parts"] = len(texts)
    ref.set(checked(ref, record))
    return ref.id


def drift_records(app: str, *, complete: bool = False) -> Iterator[dict[str, Any]]:
    """Drift records, oldest first; `complete` reads every drifted object back from parts."""
    query = _app_ref(app).collection("drift").order_by("detectedAt")
    for snap in query.stream():
        record = snap.to_dict() or {}
        if complete and record.get("parts"):
            refs = [
                snap.reference.collection("parts").document(f"{i:03d}") for i in range(int(record["parts"]))
            ]
            record["objects"] = [
                *record.get("objects", []),
                *_read_parts(refs, f"drift record {snap.id} of {app!r}"),
            ]
        yield record
