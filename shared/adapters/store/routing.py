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


def _routes_doc(repo_key: str, routes: dict[str, dict[str, Any]], sharded: bool = False) -> dict[str, Any]:
    # one JSON string: a push decodes it in microseconds (a map of maps costs a deep copy)
    doc = {
        "repoKey": repo_key,
        "apps": sorted(routes),
        "routes": json.dumps(routes, sort_keys=True),
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
    return repo_ref(repo_key).collection(FOLDERS).document(hashlib.sha256(folder.encode()).hexdigest()[:32])


class Routing:
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
            snap = repo_ref(key).get(transaction=self.tx)
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
                ref = repo_ref(key)
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


def placed(folders: list[str] | None) -> Any:
    return folders if folders is not None else firestore.DELETE_FIELD


def apps_for_repo(repo_key: str, timeout: float = 60, changed: frozenset[str] | None = None) -> RepoApps:
    """The applications on a repository a push changing `changed` (None: unknown) may concern,
    as much of their spec as routing it needs: one document read, plus, on a sharded
    repository, the folder documents above the changed paths (see ROUTES_INLINE_BYTES)."""
    raw, sharded = hot().routes(repo_ref(repo_key), timeout)
    if not sharded:
        return _repo_apps(raw)
    routes = json.loads(raw) if raw else {}
    if changed is None:
        snaps = list(repo_ref(repo_key).collection(FOLDERS).select(["routes"]).stream())
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
