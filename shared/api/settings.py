"""`/api/v1/projects`, `/api/v1/clusters`, `/api/v1/repositories`, `/api/v1/sweep`, the RBAC
policy (`/api/v1/settings/rbac`) and the audit trail (`/api/v1/audit`)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from shared.adapters import store
from shared.api.apps import not_found
from shared.api.http import ApiError
from shared.api.routing import NAME, route
from shared.api.server import Call
from shared.core import names, rbac
from shared.steps.operations import settings


def _project_name(name: str) -> None:
    """400 before anything else for a name no project can have (a glob would match others)."""
    problem = names.project_name_problem(name)
    if problem:
        raise ApiError(400, f"metadata.name: {name!r} {problem}")


@route("GET", "/api/v1/projects")
def list_projects(call: Call) -> tuple[int, Any]:
    call.checked = ("projects", "get", "*")
    return 200, {"items": [p for p in store.list_projects() if call.can("projects", "get", p["name"])]}


@route("POST", "/api/v1/projects")
def create_projects(call: Call) -> tuple[int, Any]:
    """AppProject manifests: {"items": [...]} or one; each checked for create (update if it exists)."""
    body = call.request.json()
    items = body.get("items") if "items" in body else [body]
    if not isinstance(items, list) or not items:
        raise ApiError(400, "expected an AppProject, or {items: [AppProjects]}")
    for item in items:
        name = str((item.get("metadata") or {}).get("name") or "")
        _project_name(name)
        action = "update" if store.get_project(name) is not None else "create"
        call.require("projects", action, name)
    return 200, {"items": settings.create_projects([dict(i) for i in items])}


@route("GET", f"/api/v1/projects/{NAME}")
def get_project(call: Call, name: str) -> tuple[int, Any]:
    call.require("projects", "get", name)
    return 200, settings.get_project(name)


@route("PUT", f"/api/v1/projects/{NAME}")
def set_project(call: Call, name: str) -> tuple[int, Any]:
    _project_name(name)
    call.require("projects", "update" if store.get_project(name) is not None else "create", name)
    return 200, settings.set_project(name, call.request.json())


@route("GET", "/api/v1/clusters")
def list_clusters(call: Call) -> tuple[int, Any]:
    call.checked = ("clusters", "get", "*")
    return 200, {"items": [c for c in settings.list_clusters() if call.can("clusters", "get", c["name"])]}


@route("POST", "/api/v1/clusters")
def add_cluster(call: Call) -> tuple[int, Any]:
    body = call.request.json()
    name = str(body.get("name") or "")
    if not name:
        raise ApiError(400, "a cluster needs a name")
    call.require("clusters", "update" if settings.has_cluster(name) else "create", name)
    return 200, settings.add_cluster(name, body)


@route("DELETE", f"/api/v1/clusters/{NAME}")
def remove_cluster(call: Call, name: str) -> tuple[int, Any]:
    call.require("clusters", "delete", name)
    settings.remove_cluster(name)
    return 200, {"name": name}


@route("GET", "/api/v1/repositories")
def list_repositories(call: Call) -> tuple[int, Any]:
    call.checked = ("repositories", "get", "*")
    items = [r for r in settings.list_repositories() if call.can("repositories", "get", r["url"])]
    return 200, {"items": items}


@route("POST", "/api/v1/repositories")
def add_repository(call: Call) -> tuple[int, Any]:
    """{"repo": URL, "username", "password"}: the password is stored, never answered back."""
    body = call.request.json()
    url = str(body.get("repo") or body.get("url") or "")
    if not url:
        raise ApiError(400, "a repository needs its URL (repo)")
    call.require("repositories", "update" if settings.has_repository(url) else "create", url)
    return 200, settings.add_repository(
        url, str(body.get("username") or "git"), str(body.get("password") or "")
    )


@route("DELETE", "/api/v1/repositories/(?P<url>.+)")
def remove_repository(call: Call, url: str) -> tuple[int, Any]:
    url = urllib.parse.unquote(url)
    call.require("repositories", "delete", url)
    settings.remove_repository(url)
    return 200, {"url": url}


@route("POST", "/api/v1/sweep")
def sweep(call: Call) -> tuple[int, Any]:
    """{"apps": [names]} (none: all): each named application needs sync; all of them, sync on */*."""
    names = [str(n) for n in call.request.json().get("apps") or []]
    if not names:
        call.require("applications", "sync", "*/*")
    for name in names:
        app = store.get_app(name)  # 404 when it does not exist; the same when it may not be seen
        call.require_visible("applications", "sync", rbac.app_object(app.spec.project, name), not_found(name))
    return 200, settings.sweep(names)


@route("GET", "/api/v1/settings/rbac")
def get_policy(call: Call) -> tuple[int, Any]:
    call.require("projects", "get", "*")
    current, origin = store.get_policy()
    return 200, {"policy": current.to_doc(), "origin": origin}


@route("GET", "/api/v1/audit")
def audit(call: Call) -> tuple[int, Any]:
    """The latest audit entries (?limit=N, at most 1,000): for those who may read clusters' settings."""
    call.require("clusters", "get", "*")
    try:
        limit = max(1, min(1000, int(call.request.query.get("limit", "100"))))
    except ValueError as exc:
        raise ApiError(400, "limit: a number") from exc
    return 200, {"items": store.audit_entries(limit)}


@route("POST", "/api/v1/recover")
def recover(call: Call) -> tuple[int, Any]:
    """{"apps": [names]} (none: all): re-sync from Firestore and Git; sync on each application."""
    from shared.steps.operations import recover

    names = [str(n) for n in call.request.json().get("apps") or []]
    apps = [a for a in store.list_apps() if not names or a.name in set(names)]
    # one that may not be seen is missing too (no existence oracle)
    seen = {a.name for a in apps if call.can("applications", "get", rbac.app_object(a.spec.project, a.name))}
    missing = sorted(set(names) - seen)
    if missing:
        raise ApiError(404, f"no such application: {', '.join(missing)}")
    if not names:
        call.require("applications", "sync", "*/*")
    for app in apps:
        call.require("applications", "sync", rbac.app_object(app.spec.project, app.name))
    return 200, recover.recover(apps, actor=call.principal)
