"""`/api/v1/applications...`: list, get, create, update, delete, sync, rollback, pin, unpin,
history, diff and the resource tree of applications."""

from __future__ import annotations

from typing import Any

from shared.adapters import store
from shared.api.routing import NAME, route
from shared.api.server import Call
from shared.core import rbac

APPS = "/api/v1/applications"


def _doc(app: store.App) -> dict[str, Any]:
    return {"name": app.name, "spec": app.spec.to_doc(), "status": app.status}


def _object(app: store.App) -> str:
    return rbac.app_object(app.spec.project, app.name)


@route("GET", APPS)
def list_apps(call: Call) -> tuple[int, Any]:
    call.checked = ("applications", "get", "*")
    apps = [a for a in store.list_apps() if call.can("applications", "get", _object(a))]
    return 200, {"items": [_doc(a) for a in apps]}


@route("GET", f"{APPS}/{NAME}")
def get_app(call: Call, name: str) -> tuple[int, Any]:
    app = store.get_app(name)
    call.require("applications", "get", _object(app))
    return 200, _doc(app)
