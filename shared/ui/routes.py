"""The web UI's pages: `handle(method, path, query, viewer)` answers every path that is not the
REST API's (`/api/...`), or None when the path is not a page.

Pages, rendered on the server (Jinja2, autoescaped) from the views of `shared/ui/views.py`:

    /  and  /applications                 the list (filters: ?project= &sync= &health= &name=)
    /applications/{name}                  the resource tree
    /applications/{name}/history          history; /history/{id}: per-object and hook results
    /applications/{name}/diff             live vs desired; ?old={id}&new={id}: revision vs revision
    /applications/{name}/drift            drift records: field, field manager, person
    /applications/{name}/status           the status header alone (polled while a sync runs)
    /ui/static/{file}                     the stylesheet and the script (no build step)

An application the viewer may not `get` answers like one that does not exist (404), as Argo
CD does not say which applications exist to those who may not see them. The buttons (sync,
rollback, pin, unpin) are shown only when `viewer.can` allows them, and call the REST API
with `fetch` and the `X-GitOps-CSRF: 1` header; the API checks the same permission again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import jinja2

from shared.adapters import store
from shared.core import names
from shared.ui import reads, views

HTML = "text/html; charset=utf-8"
# no inline script or style anywhere: the page works under a strict policy
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Viewer(Protocol):
    """Who is looking (shared/api/viewer.py builds it from a verified token)."""

    @property
    def principal(self) -> str: ...

    @property
    def groups(self) -> tuple[str, ...]: ...

    @property
    def can(self) -> Callable[[str, str, str], bool]: ...


@dataclass(frozen=True)
class UiResponse:
    status: int
    body: bytes
    content_type: str = HTML
    headers: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shared.ui", "templates"),
        autoescape=True,  # every page shows what Git, the cluster and people wrote
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = _static_url
    return env


@functools.cache
def _static(name: str) -> bytes | None:
    if not re.fullmatch(r"[a-z]+\.(css|js)", name):
        return None
    path = resources.files("shared.ui").joinpath("static", name)
    return path.read_bytes() if path.is_file() else None


def _static_url(name: str) -> str:
    """The file's URL with its content's digest (cached for a year, changed when it changes)."""
    body = _static(name) or b""
    return f"/ui/static/{name}?v={hashlib.sha256(body).hexdigest()[:12]}"


def render(template: str, **context: Any) -> bytes:
    return _templates().get_template(template).render(**context).encode()


def _page(status: int, template: str, **context: Any) -> UiResponse:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return UiResponse(status, render(template, **{"app": "", "tab": "", **context}), HTML, headers)


def _not_found(viewer: Viewer, what: str) -> UiResponse:
    return _page(404, "error.html", viewer=viewer, title="Not found", message=what)


_APP = re.compile(r"^/applications/([^/]+)(?:/(history|diff|drift|status)(?:/(\d{1,9}))?)?/?$")


def handle(method: str, path: str, query: Mapping[str, str], viewer: Viewer) -> UiResponse | None:
    """The page at `path`, or None when `path` is not one of the UI's (the caller answers 404)."""
    if path.startswith("/ui/static/"):
        return _serve_static(method, path.removeprefix("/ui/static/"))
    matched = _APP.match(path)
    if path not in ("/", "/applications", "/applications/") and matched is None:
        return None
    if method not in ("GET", "HEAD"):
        return UiResponse(405, b"method not allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"})
    now = dt.datetime.now(dt.UTC)
    if matched is None:
        response = _list(query, viewer, now)
    else:
        response = _application(
            matched.group(1), matched.group(2) or "", matched.group(3), query, viewer, now
        )
    if method == "HEAD":
        return UiResponse(response.status, b"", response.content_type, response.headers)
    return response


def _serve_static(method: str, name: str) -> UiResponse | None:
    body = _static(name)
    if body is None:
        return None
    if method not in ("GET", "HEAD"):
        return UiResponse(405, b"method not allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"})
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    content_type = STATIC_TYPES[name[name.rindex(".") :]]
    return UiResponse(200, body if method == "GET" else b"", content_type, headers)


def _list(query: Mapping[str, str], viewer: Viewer, now: dt.datetime) -> UiResponse:
    view = views.app_list(store.list_apps(), views.Filters.of(query), viewer.can, now)
    return _page(200, "list.html", viewer=viewer, title="Applications", view=view)


def _application(
    name: str, tab: str, number: str | None, query: Mapping[str, str], viewer: Viewer, now: dt.datetime
) -> UiResponse:
    if names.app_name_problem(name):
        return _not_found(viewer, f"{name!r} is not an application name")
    try:
        app = store.get_app(name)
    except store.NotFound:
        app = None
    if app is None or not viewer.can("applications", "get", views.target_of(app)):
        return _not_found(viewer, f"application {name!r} not found")
    header = views.header(app, viewer.can, now, running=reads.running(name))
    common = {"viewer": viewer, "app": app.name, "header": header, "tab": tab or "tree"}
    if tab == "status":
        return _page(200, "status.html", **common)
    if tab == "history" and number is not None:
        try:
            entry = store.get_history(name, int(number))
        except store.NotFound:
            return _not_found(viewer, f"history entry {number} of {name!r} not found")
        detail = views.history_detail(entry, app, viewer.can, now)
        return _page(200, "entry.html", title=f"{name}: history {number}", entry=detail, **common)
    if tab == "history":
        view = views.history(store.history(name), app, viewer.can, now)
        return _page(200, "history.html", title=f"{name}: history", history=view, **common)
    if tab == "diff":
        return _page(200, "diff.html", title=f"{name}: diff", diff=_diff(app, query, now), **common)
    if tab == "drift":
        records = [views.drift_record(r, now) for r in reads.drift_records(name)]
        return _page(200, "drift.html", title=f"{name}: drift", records=records, **common)
    entries = store.inventory(name, app.status)
    live, related, note = reads.live_state(app, entries)
    tree = views.tree(
        entries, app.status, reads.last_results(app), live, related, app.spec.health_checks, note
    )
    return _page(200, "tree.html", title=name, tree=tree, **common)


def _diff(app: store.App, query: Mapping[str, str], now: dt.datetime) -> views.DiffView:
    choices = tuple(views.history_row(e, now) for e in reversed(store.history(app.name)))
    old, new = query.get("old", ""), query.get("new", "")
    if old.isdigit() and new.isdigit():
        diffs, error = reads.revisions_diff(app.name, int(old), int(new))
        mode = "revisions"
    else:
        diffs, error = reads.live_diff(app)
        mode = "live"
    return views.DiffView(
        mode=mode,
        files=tuple(views.file_diff(str(d.id), d.diff) for d in diffs),
        choices=choices,
        old=int(old) if old.isdigit() else 0,
        new=int(new) if new.isdigit() else 0,
        error=error,
    )
