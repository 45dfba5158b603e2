"""Applications: their spec (routed by repository, shared/adapters/store/routing.py), their
status, and the app-of-apps parent."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.common import APPS, INVENTORY, RESULTS, app_ref, checked, client, merged, now
from shared.adapters.store.errors import NotFound
from shared.adapters.store.routing import Routing, placed, ref_routes_of, route_of
from shared.core.model import AppSpec
from shared.core.status import AppStatus, Pin, StatusUpdate, SyncState, SyncStatus


@dataclass(frozen=True)
class App:
    spec: AppSpec
    status: AppStatus  # as stored (shared/core/status.py)
    parent: str = ""  # the app-of-apps application that registered this one

    @property
    def name(self) -> str:
        return self.spec.name


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
    refs = [app_ref(spec.name) for spec in specs]
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snaps = {snap.id: snap for snap in tx.get_all(refs)}
        routing = Routing(tx)
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
                spec.repo_key, spec.name, route_of(spec) | ({"reads": reads} if reads else {})
            )
            data = {"spec": spec.to_doc(), "repoKey": spec.repo_key, "updatedAt": now()}
            data["refRoutes"] = _place_ref_routes(routing, spec, doc.get("refRoutes") or [])
            if parent is not None:
                data["parent"] = parent
            if snap.exists:
                data["routeFolders"] = placed(folders)
                checked(ref, merged(doc, data))
                writes.append((ref, data, True))
            else:
                data |= {"routeFolders": folders} if folders is not None else {}
                writes.append(
                    (
                        ref,
                        checked(
                            ref,
                            {
                                **data,
                                "createdAt": now(),
                                "status": AppStatus(sync=SyncState(status=SyncStatus.UNKNOWN)),
                            },
                        ),
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


def _place_ref_routes(routing: Routing, spec: AppSpec, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Route pushes to a multi-source application's values repositories to it too (replacing
    the routes it had there); where they were placed, for the next update or the deletion."""
    for entry in old:
        routing.remove(entry["repoKey"], spec.name, entry.get("folders"))
    placed_routes = []
    for key, route in sorted(ref_routes_of(spec).items()):
        if key == spec.repo_key:
            continue  # its own repository routes it already
        folders = routing.place(key, spec.name, route)
        placed_routes.append({"repoKey": key} | ({"folders": folders} if folders is not None else {}))
    return placed_routes


def get_app(name: str) -> App:
    snap = app_ref(name).get()
    if not snap.exists:
        raise NotFound(f"application {name!r} not found")
    return to_app(snap)


def get_apps(names: list[str]) -> dict[str, App]:
    """Several applications in one read (get_all); one that does not exist is left out."""
    if not names:
        return {}
    snaps = client().get_all([app_ref(n) for n in names])
    return {s.id: to_app(s) for s in snaps if s.exists}


def to_app(snap: firestore.DocumentSnapshot) -> App:
    doc = snap.to_dict() or {}
    status = cast(AppStatus, doc.get("status") or {})
    return App(AppSpec.from_doc(snap.id, doc["spec"]), status, doc.get("parent", ""))


def children_of(parent: str) -> list[App]:
    query = client().collection(APPS).where(filter=firestore.FieldFilter("parent", "==", parent))
    return [to_app(s) for s in query.stream()]


def list_apps() -> list[App]:
    return [to_app(s) for s in client().collection(APPS).stream()]


def list_app_docs() -> list[dict[str, Any]]:
    """Every application as stored ({"name", "spec", "status"}): what the API's list answers,
    without making an AppSpec of each (a third of the time of a list of 1,000)."""
    out = []
    for snap in client().collection(APPS).stream():
        doc = snap.to_dict() or {}
        out.append({"name": snap.id, "spec": doc.get("spec") or {}, "status": doc.get("status") or {}})
    return out


def delete_app(name: str) -> None:
    ref = app_ref(name)
    transaction = client().transaction()

    @firestore.transactional
    def unroute(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if doc.get("repoKey"):
            routing = Routing(tx)
            routing.remove(doc["repoKey"], name, doc.get("routeFolders"))
            for old in doc.get("refRoutes") or []:
                routing.remove(old["repoKey"], name, old.get("folders"))
            routing.flush()

    unroute(transaction)
    for sub in ("revisions", "history", "drift", INVENTORY):
        for doc in ref.collection(sub).list_documents():
            for nested in ("parts", RESULTS):
                for part in doc.collection(nested).list_documents():
                    part.delete()
            doc.delete()
    ref.delete()


# where each field of a StatusUpdate is kept in the application's document
STATUS_PATHS: dict[str, str] = {
    "sync": "status.sync",
    "sync_status": "status.sync.status",
    "sync_message": "status.sync.message",
    "sync_target": "status.sync.target",
    "sync_seen": "status.sync.seen",
    "operation": "status.operation",
    "health": "status.health",
    "inventory": "status.inventory",
    "pin": "status.pin",
    "last_healthy": "status.lastHealthy",
    "render": "status.render",
    "drift": "status.drift",
    "heals": "status.heals",
    "last_audit_at": "status.lastAuditAt",
    "last_audit_operation": "status.lastAuditOperation",
    "last_skipped": "status.lastSkipped",
    "retry": "status.retry",
    "orphans": "status.orphans",
}
HISTORY_COUNT = "status.historyCount"


def status_fields(update: StatusUpdate) -> dict[str, Any]:
    """A status update as the document's field paths and values."""
    return {STATUS_PATHS[name]: value for name, value in update.changes().items()}


def update_status(name: str, update: StatusUpdate) -> None:
    """Write a status update; checked against the document's bound first (one read in the
    same transaction)."""
    ref = app_ref(name)
    fields = status_fields(update)
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            raise NotFound(f"application {name!r} not found")
        checked(ref, merged(snap.to_dict() or {}, fields))
        tx.update(ref, fields)

    run(transaction)


BATCH_WRITES = 500  # Firestore's writes per batched write


def update_statuses(updates: Mapping[str, StatusUpdate]) -> None:
    """Status updates of many applications (a sweep recording every head it saw), in batched
    writes of BATCH_WRITES instead of one transaction each: an update of field paths needs
    no read-modify-write, and what these write replaces fields of a bounded size (no read
    for the bound check either). A batch refused because an application is gone (deleted
    during the sweep) is written again one update at a time, skipping it."""
    items = sorted(updates.items())
    for start in range(0, len(items), BATCH_WRITES):
        chunk = items[start : start + BATCH_WRITES]
        batch = client().batch()
        for name, update in chunk:
            batch.update(app_ref(name), status_fields(update))
        try:
            batch.commit()
        except gexc.NotFound:
            for name, update in chunk:
                with contextlib.suppress(NotFound):
                    update_status(name, update)


def set_pin(name: str, pin: Pin | None) -> None:
    """Pin the application (gitops app pin), or unpin it (None)."""
    update_status(name, StatusUpdate(pin=pin))
