"""Routing a push to applications: each repository's apps (revision, path, watched paths and
what their last render read) kept on its document, or in folder shards past
ROUTES_INLINE_BYTES."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from google.cloud import firestore

from shared.adapters.store.common import REPOSITORIES, app_ref, checked, client, now
from shared.adapters.store.intake import hot
from shared.core import repourl
from shared.core.model import AppSpec, RepoApps
from shared.platform import config


def repo_ref(repo_key: str) -> firestore.DocumentReference:
    return client().collection(REPOSITORIES).document(hashlib.sha256(repo_key.encode()).hexdigest()[:32])


def _routes(snap: firestore.DocumentSnapshot) -> dict[str, dict[str, Any]]:
    raw = snap.get("routes") if snap.exists else None
    return json.loads(raw) if raw else {}


def _routes_doc(repo_key: str, routes: Shelf, sharded: bool = False) -> dict[str, Any]:
    # one JSON string: a push decodes it in microseconds (a map of maps costs a deep copy)
    doc = {
        "repoKey": repo_key,
        "apps": sorted(routes.routes),
        "routes": routes.text(),
        "updatedAt": now(),
    }
    return doc | ({"sharded": True} if sharded else {})


def route_of(spec: AppSpec) -> dict[str, Any]:
    """What intake needs to route a push to an application, kept on its repository's document."""
    return {
        "repoURL": spec.repoURL,
        "targetRevision": spec.targetRevision,
        "path": spec.path,
        "watchPaths": list(spec.watchPaths),
    }


def ref_routes_of(spec: AppSpec) -> dict[str, dict[str, Any]]:
    """A multi-source application's routes on its ref sources' repositories, by repository key:
    a push to a values repository changing a folder its value files are in concerns it (intake
    routes it like a push to its own repository; the render reads the refs' heads)."""
    refs = {r["ref"]: r for r in spec.refSources}
    out: dict[str, dict[str, Any]] = {}
    for value_file in (spec.source.get("helm") or {}).get("valueFiles") or []:
        name, _, path = str(value_file).removeprefix("$").partition("/")
        if not str(value_file).startswith("$") or name not in refs:
            continue
        ref = refs[name]
        key = repourl.normalize(ref["repoURL"])
        folder = path.rpartition("/")[0] or "."
        route = out.setdefault(
            key,
            {
                "repoURL": ref["repoURL"],
                "targetRevision": ref.get("targetRevision") or "HEAD",
                "path": folder,
            },
        )
        if folder != route["path"] and folder not in route.setdefault("watchPaths", []):
            route["watchPaths"].append(folder)
    return out


# A repository's routes are kept on its document while their JSON fits in ROUTES_INLINE_BYTES
# (about 1,000 applications): a push reads that one document. Beyond, the document is marked
# `sharded` and further applications are routed from repositories/{hash}/folders/{hash of
# folder} documents, one per folder an application watches (its path, watched paths and
# what its last render read), holding the routes of the applications watching that folder;
# a push reads those of the folders above each changed path (every one only when the push
# does not list its paths). A folder many applications watch (a Kustomize base every
# application reads) holds routes inline up to FOLDER_INLINE_BYTES; past that it is marked
# `overflow` and each further application's route is its own small document,
# folders/{hash}/routes/{name}, which a push changing that folder reads with one query. No
# document grows with the fleet: registering or re-rendering one application writes its
# own route documents and at most a bounded folder document, and a push reads the routes of
# the folders it touched, not the whole fleet's.
ROUTES_INLINE_BYTES = 256 * 1024
FOLDER_INLINE_BYTES = 64 * 1024
FOLDERS = "folders"
SINGLES = "routes"  # under a folder document: one application's route each


def _inline_bytes() -> int:
    return config.routes_inline_bytes(ROUTES_INLINE_BYTES)


def _folder_inline_bytes() -> int:
    return min(_inline_bytes(), FOLDER_INLINE_BYTES)


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
    return repo_ref(repo_key).collection(FOLDERS).document(hashlib.sha256(folder.encode()).hexdigest()[:32])


def _single_ref(repo_key: str, folder: str, name: str) -> firestore.DocumentReference:
    return _folder_ref(repo_key, folder).collection(SINGLES).document(name)


def entry_bytes(name: str, route: dict[str, Any]) -> int:
    """The bytes one route adds to a routes JSON object (`"name": {...}` and its separator)."""
    return len(json.dumps(name)) + len(json.dumps(route, sort_keys=True)) + 4


class Shelf:
    """Routes as one document keeps them (one JSON object), decoded when first used, with the
    size of their JSON kept as they change (json.dumps of every route per placement made
    registering N applications O(N^2))."""

    def __init__(self, raw: str = "") -> None:
        self._raw: str | None = raw
        self._routes: dict[str, dict[str, Any]] = {}
        self.bytes = len(raw) if raw else 2

    @property
    def routes(self) -> dict[str, dict[str, Any]]:
        if self._raw is not None:
            self._routes = json.loads(self._raw) if self._raw else {}
            self._raw = None
        return self._routes

    def fits(self, name: str, route: dict[str, Any], limit: int) -> bool:
        old = self.routes.get(name)
        grown = self.bytes + entry_bytes(name, route) - (entry_bytes(name, old) if old is not None else 0)
        return grown <= limit

    def put(self, name: str, route: dict[str, Any]) -> None:
        self.pop(name)
        self.routes[name] = route
        self.bytes += entry_bytes(name, route)

    def pop(self, name: str) -> dict[str, Any] | None:
        route = self.routes.pop(name, None)
        if route is not None:
            self.bytes -= entry_bytes(name, route)
        return route

    def text(self) -> str:
        return json.dumps(self.routes, sort_keys=True)


def _snap_raw(snap: firestore.DocumentSnapshot, flag: str) -> tuple[str, bool]:
    """A routes document's JSON as stored, and its flag (`sharded`, `overflow`)."""
    doc = (snap.to_dict() or {}) if snap.exists else {}
    return str(doc.get("routes") or ""), bool(doc.get(flag))


class Routing:
    """Repositories' routes as one transaction reads (lazily, before any write) and writes
    (flush, at the end) them."""

    def __init__(self, tx: firestore.Transaction) -> None:
        self.tx = tx
        self.heads: dict[str, Shelf] = {}
        self.sharded: dict[str, bool] = {}
        self.shards: dict[tuple[str, str], Shelf] = {}
        self.overflow: dict[tuple[str, str], bool] = {}
        # (repo, folder, app) -> its own route document in an overflowing folder (None: absent)
        self.singles: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self.dirty: set[tuple[str, str | None]] = set()  # (repo, None: head | folder)
        self.dirty_singles: set[tuple[str, str, str]] = set()

    def head(self, key: str) -> Shelf:
        if key not in self.heads:
            raw, sharded = _snap_raw(repo_ref(key).get(transaction=self.tx), "sharded")
            self.heads[key] = Shelf(raw)
            self.sharded[key] = sharded
        return self.heads[key]

    def is_sharded(self, key: str) -> bool:
        if key not in self.sharded:
            self.head(key)
        return self.sharded[key]

    def shard(self, key: str, folder: str) -> Shelf:
        if (key, folder) not in self.shards:
            raw, overflow = _snap_raw(_folder_ref(key, folder).get(transaction=self.tx), "overflow")
            self.shards[key, folder] = Shelf(raw)
            self.overflow[key, folder] = overflow
        return self.shards[key, folder]

    def single(self, key: str, folder: str, name: str) -> dict[str, Any] | None:
        if (key, folder, name) not in self.singles:
            routes = _routes(_single_ref(key, folder, name).get(transaction=self.tx))
            self.singles[key, folder, name] = routes.get(name)
        return self.singles[key, folder, name]

    def find(self, key: str, name: str, folders: list[str] | None) -> dict[str, Any] | None:
        """An application's route (on the head when `folders` is None, else in those shards)."""
        if folders is None:
            return self.head(key).routes.get(name)
        self.sharded.setdefault(key, True)  # routed from shards: the head need not be read
        for f in folders:
            route = self.shard(key, f).routes.get(name)
            if route is None and self.overflow[key, f]:
                route = self.single(key, f, name)
            if route is not None:
                return route
        return None

    def remove(self, key: str, name: str, folders: list[str] | None) -> dict[str, Any] | None:
        route = self.find(key, name, folders)
        if folders is None:
            if self.head(key).pop(name) is not None:
                self.dirty.add((key, None))
            return route
        for f in folders:
            if self.shard(key, f).pop(name) is not None:
                self.dirty.add((key, f))
            elif self.overflow[key, f] and self.singles.get((key, f, name), {}) is not None:
                self.singles[key, f, name] = None  # deleted unread when find did not read it
                self.dirty_singles.add((key, f, name))
        return route

    def place(self, key: str, name: str, route: dict[str, Any]) -> list[str] | None:
        """Keep a route on the head while it fits, else in its folders' shards (returned)."""
        if not self.is_sharded(key):
            head = self.head(key)
            self.dirty.add((key, None))
            if head.fits(name, route, _inline_bytes()):
                head.put(name, route)
                return None
            self.sharded[key] = True
        folders = route_folders(route)
        for f in folders:
            shelf = self.shard(key, f)
            if not self.overflow[key, f] and shelf.fits(name, route, _folder_inline_bytes()):
                shelf.put(name, route)
                self.dirty.add((key, f))
                continue
            if shelf.pop(name) is not None or not self.overflow[key, f]:
                self.overflow[key, f] = True
                self.dirty.add((key, f))
            self.singles[key, f, name] = route
            self.dirty_singles.add((key, f, name))
        return folders

    def flush(self) -> None:
        for key, folder in sorted(self.dirty, key=lambda d: (d[0], d[1] or "")):
            if folder is None:
                ref = repo_ref(key)
                self.tx.set(ref, checked(ref, _routes_doc(key, self.heads[key], self.sharded[key])))
                continue
            ref, shelf, overflow = (
                _folder_ref(key, folder),
                self.shards[key, folder],
                self.overflow[key, folder],
            )
            if shelf.routes or overflow:
                doc = {"repoKey": key, "folder": folder, "routes": shelf.text(), "updatedAt": now()}
                self.tx.set(ref, checked(ref, doc | ({"overflow": True} if overflow else {})))
            else:
                self.tx.delete(ref)
        for key, folder, name in sorted(self.dirty_singles):
            ref, route = _single_ref(key, folder, name), self.singles[key, folder, name]
            if route is None:
                self.tx.delete(ref)
            else:
                doc = {"repoKey": key, "folder": folder, "routes": json.dumps({name: route}, sort_keys=True)}
                self.tx.set(ref, checked(ref, doc | {"updatedAt": now()}))


def placed(folders: list[str] | None) -> Any:
    return folders if folders is not None else firestore.DELETE_FIELD


def apps_for_repo(repo_key: str, timeout: float = 60, changed: frozenset[str] | None = None) -> RepoApps:
    """The applications on a repository a push changing `changed` (None: unknown) may concern,
    as much of their spec as routing it needs: one document read, plus, on a sharded
    repository, the folder documents above the changed paths and the route documents of
    those that overflow (see ROUTES_INLINE_BYTES)."""
    raw, sharded = hot().routes(repo_ref(repo_key), timeout)
    if not sharded:
        return _repo_apps(raw)
    routes = json.loads(raw) if raw else {}
    fields = ["routes", "overflow"]
    if changed is None:
        snaps = list(repo_ref(repo_key).collection(FOLDERS).select(fields).stream())
    else:
        refs = [_folder_ref(repo_key, f) for f in sorted(push_folders(changed))]
        snaps = list(client().get_all(refs, field_paths=fields))
    for snap in snaps:
        routes.update(_routes(snap))
        if snap.exists and (snap.to_dict() or {}).get("overflow"):
            # a folder many applications watch: their routes, one document each
            for single in snap.reference.collection(SINGLES).select(["routes"]).stream():
                routes.update(_routes(single))
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
    ref = app_ref(spec.name)
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if doc.get("repoKey") != spec.repo_key:
            return
        routing = Routing(tx)
        route = routing.find(spec.repo_key, spec.name, doc.get("routeFolders"))
        if route is None or sorted(route.get("reads") or []) == sorted(reads):
            return
        routing.remove(spec.repo_key, spec.name, doc.get("routeFolders"))
        route = {k: v for k, v in route.items() if k != "reads"} | ({"reads": sorted(reads)} if reads else {})
        folders = routing.place(spec.repo_key, spec.name, route)
        if folders != doc.get("routeFolders"):
            tx.update(ref, {"routeFolders": placed(folders)})
        routing.flush()

    run(transaction)
