"""`/api/v1/applications...`: list, get, create, update, delete, sync, rollback, pin, unpin,
promote, history, diff, refresh and the resource tree of applications.

The object an application is checked against is `<project>/<name>` (its project as stored;
an update or create checks the project it names too, so nobody moves an application into a
project they may not write).
"""

from __future__ import annotations

from typing import Any

from shared.adapters import store
from shared.api.http import ApiError
from shared.api.routing import NAME, route
from shared.api.server import Call
from shared.core import argocd, rbac
from shared.core.model import AppSpec, SpecError
from shared.steps.operations import apps

APPS = "/api/v1/applications"
CONTROL_PLANE_CLUSTER = rbac.CONTROL_PLANE
MAX_REASON = 1000  # a pin's reason (it is stored and shown)


def _object(app: store.App) -> str:
    return rbac.app_object(app.spec.project, app.name)


def not_found(name: str) -> str:
    """What an application that does not exist, or that the caller may not see, answers."""
    return f"application {name!r} not found"


def _app(call: Call, name: str, action: str) -> store.App:
    """The application if the caller may ACTION it; 404 when it may not even get it (as when it
    does not exist), 403 when it may see it but not ACTION it."""
    app = store.get_app(name)
    call.require_visible("applications", action, _object(app), not_found(name))
    return app


def _flag(call: Call, body: dict[str, Any], name: str) -> bool:
    value = body.get(name, call.request.query.get(name, False))
    return value is True or str(value).lower() == "true"


def _spec_of(item: dict[str, Any]) -> tuple[AppSpec, list[str]]:
    """An Argo CD Application manifest, or {"name", "spec"} in our stored form."""
    try:
        if item.get("kind"):
            return argocd.application(item)
        return AppSpec.from_doc(str(item.get("name") or ""), dict(item.get("spec") or {})).validate(), []
    except (SpecError, TypeError, ValueError) as exc:
        name = item.get("name") or (item.get("metadata") or {}).get("name") or "?"
        raise ApiError(400, f"application {name}: {exc}") from exc


def _may_write(call: Call, spec: AppSpec, action: str) -> None:
    for check in rbac.write_checks(spec.project, spec.name, spec.destination.cluster, action):
        call.require(*check)


@route("GET", APPS)
def list_apps(call: Call) -> tuple[int, Any]:
    call.checked = ("applications", "get", "*")
    project = call.request.query.get("projects") or call.request.query.get("project")
    items = []
    for doc in store.list_app_docs():
        in_project = doc["spec"].get("project") or "default"
        if call.can("applications", "get", rbac.app_object(in_project, doc["name"])) and (
            not project or in_project == project
        ):
            items.append(doc)
    return 200, {"items": items}


@route("POST", APPS)
def create_apps(call: Call) -> tuple[int, Any]:
    """One application (a manifest or {"name", "spec"}), or {"items": [...]}; ?upsert=true."""
    body = call.request.json()
    items = body.get("items") if "items" in body else [body]
    if not isinstance(items, list) or not items:
        raise ApiError(400, "expected an application, or {items: [applications]}")
    upsert = _flag(call, body, "upsert")
    parsed = [_spec_of(dict(i)) for i in items]
    for spec, _ in parsed:
        _may_write(call, spec, "create")
        try:
            current = store.get_app(spec.name)
        except store.NotFound:
            continue
        # an existing application the caller may not see: refused as a create it may not make,
        # never a 409 that would say it exists
        if not call.can("applications", "get", _object(current)):
            call.denied = True
            raise ApiError(
                403, f"permission denied: applications, create, {spec.name}, sub: {call.principal}"
            )
        if upsert:
            _may_write(call, current.spec, "update")
    apps.create([s for s, _ in parsed], upsert=upsert)
    call.notes["count"] = len(parsed)
    return 200, {"items": [{"name": s.name, "spec": s.to_doc(), "warnings": w} for s, w in parsed]}


@route("GET", f"{APPS}/{NAME}")
def get_app(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "get")
    if call.request.query.get("refresh"):
        call.notes["refresh"] = apps.refresh(name)
    return 200, apps.doc(app)


@route("PUT", f"{APPS}/{NAME}")
def update_app(call: Call, name: str) -> tuple[int, Any]:
    current = _app(call, name, "update")
    body = call.request.json()
    spec, _ = _spec_of({"name": name, **body} if "kind" not in body else body)
    if spec.name != name:
        raise ApiError(400, f"the body names application {spec.name!r}, the path {name!r}")
    _may_write(call, spec, "update")
    if current.spec.destination.cluster == CONTROL_PLANE_CLUSTER:
        call.require("clusters", "update", CONTROL_PLANE_CLUSTER)
    apps.update(spec)
    return 200, {"name": name, "spec": spec.to_doc()}


@route("DELETE", f"{APPS}/{NAME}")
def delete_app(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "delete")
    return 200, apps.delete(app, cascade=_flag(call, {}, "cascade"))


@route("POST", f"{APPS}/{NAME}/sync")
def sync_app(call: Call, name: str) -> tuple[int, Any]:
    """{"revision": sha or ref, "prune": bool, "dryRun": bool}: answered at once (the operation);
    the history entry follows."""
    app = _app(call, name, "sync")
    body = call.request.json()
    revision, prune = str(body.get("revision") or ""), bool(body.get("prune"))
    if body.get("dryRun"):
        return 200, apps.preview(app, revision=revision, prune=prune)
    return 200, apps.sync(app, actor=call.principal, revision=revision, prune=prune)


@route("POST", f"{APPS}/{NAME}/rollback")
def rollback_app(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "rollback")
    body = call.request.json()
    try:
        history_id = int(body["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, 'expected {"id": <history entry number>}') from exc
    return 200, apps.rollback(app, history_id, actor=call.principal)


@route("POST", f"{APPS}/{NAME}/pin")
def pin_app(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "sync")
    body = call.request.json()
    if len(str(body.get("reason") or "")) > MAX_REASON:
        raise ApiError(400, f"reason: at most {MAX_REASON} characters")
    held = apps.pin(
        app,
        actor=call.principal,
        reason=str(body.get("reason") or ""),
        revision=str(body.get("revision") or ""),
    )
    return 200, dict(held)


@route("POST", f"{APPS}/{NAME}/unpin")
def unpin_app(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "sync")
    return 200, apps.unpin(app, actor=call.principal)


@route("POST", f"{APPS}/{NAME}/promote")
def promote_app(call: Call, name: str) -> tuple[int, Any]:
    """{"from": SRC}: move this application to the commit SRC runs (update + sync of this one)."""
    body = call.request.json()
    src = _app(call, str(body.get("from") or ""), "get")
    dst = _app(call, name, "update")
    call.require("applications", "sync", _object(dst))
    return 200, apps.promote(src, dst, actor=call.principal)


@route("GET", f"{APPS}/{NAME}/history")
def history(call: Call, name: str) -> tuple[int, Any]:
    _app(call, name, "get")
    return 200, {"items": store.history(name)}


@route("GET", f"{APPS}/{NAME}/history/(?P<sequence>[0-9]+)")
def history_entry(call: Call, name: str, sequence: str) -> tuple[int, Any]:
    _app(call, name, "get")
    return 200, store.get_history(name, int(sequence))


@route("GET", f"{APPS}/{NAME}/diff")
def diff(call: Call, name: str) -> tuple[int, Any]:
    """Desired vs live; ?revisions=ID,ID: two history entries against each other."""
    app = _app(call, name, "get")
    given = call.request.query.get("revisions", "")
    try:
        revisions = [int(i) for i in given.split(",")] if given else []
    except ValueError as exc:
        raise ApiError(400, "revisions: two history ids, e.g. ?revisions=3,5") from exc
    if revisions and len(revisions) != 2:
        raise ApiError(400, "revisions: two history ids, e.g. ?revisions=3,5")
    return 200, {"items": apps.diff(app, revisions)}


@route("GET", f"{APPS}/{NAME}/resource-tree")
def resource_tree(call: Call, name: str) -> tuple[int, Any]:
    app = _app(call, name, "get")
    return 200, apps.tree(app)


@route("GET", f"{APPS}/{NAME}/drift")
def drift(call: Call, name: str) -> tuple[int, Any]:
    _app(call, name, "get")
    return 200, {"items": list(store.drift_records(name))}
