"""One HTTP request in, one answer out: authenticate, dispatch, authorize, audit.

- `/api/...`: the REST API (shared/api/endpoints.py). Without a valid token: 401.
- `/login`: GET a small page to paste an ID token into; POST {"token"} (JSON or form) sets
  the `gitops_token` cookie (HttpOnly, SameSite=Strict, Path=/) for the browser.
- Every other path: the web pages (shared.ui.routes.handle, when that package is installed).
  A page asked for without a valid token answers 401 with the login page.

Tokens come as `Authorization: Bearer <ID token>` or in the `gitops_token` cookie; a request
that changes state (not GET or HEAD) authenticated by the cookie must carry
`X-GitOps-CSRF: 1` (a page of another site cannot add that header), else 403.

Every call to the API is audited (allowed, denied, failed, unauthenticated).
"""

from __future__ import annotations

import html
import importlib
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from shared.adapters import idtoken, store
from shared.api.http import ApiError, Request, Response, error_response, json_response, secured
from shared.api.viewer import Viewer
from shared.core import rbac
from shared.platform import logs
from shared.steps.operations import Refused

COOKIE = "gitops_token"
CSRF_HEADER = "X-GitOps-CSRF"
SAFE_METHODS = ("GET", "HEAD")


@dataclass
class Call:
    """One authenticated call: who, under which policy, and what it was checked for."""

    request: Request
    identity: idtoken.Identity
    policy: rbac.Policy
    subject: rbac.Subject
    trace: str
    # (resource, action, object) the audit entry names: the last one checked
    checked: tuple[str, str, str] = ("", "", "")
    denied: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        return self.identity.principal

    def can(self, resource: str, action: str, obj: str) -> bool:
        return rbac.allowed(self.policy, self.subject, resource, action, obj)

    def require(self, resource: str, action: str, obj: str) -> None:
        """Go on only if the caller may; else 403 (Argo CD's message and gRPC code 7)."""
        self.checked = (resource, action, obj)
        if not self.can(resource, action, obj):
            self.denied = True
            raise ApiError(403, f"permission denied: {resource}, {action}, {obj}, sub: {self.principal}")

    def require_visible(self, resource: str, action: str, obj: str, missing: str) -> None:
        """As require, but a caller who may not even `get` OBJ is told MISSING (404), the answer
        for something that does not exist (Argo CD's: no existence oracle)."""
        if action != "get" and self.can(resource, "get", obj):
            self.require(resource, action, obj)
            return
        self.checked = (resource, "get", obj)
        if not self.can(resource, "get", obj):
            self.denied = True
            raise ApiError(404, missing)
        self.require(resource, action, obj)

    def viewer(self) -> Viewer:
        return Viewer(self.principal, self.identity.groups, self.can)


def policy_in_force() -> rbac.Policy:
    """The stored policy with every project's roles (a project's bad roles are skipped, logged)."""
    policy, _ = store.get_policy()
    parts = []
    for project in store.list_projects():
        if not project.get("roles"):
            continue
        try:
            parts.append(rbac.project_policy(project["name"], project["roles"]))
        except rbac.PolicyError as exc:
            logs.warning("project roles skipped", project=project["name"], reason=str(exc))
    return policy.merged(*parts)


def _token(request: Request) -> tuple[str, bool]:
    """(token, whether it came from the cookie)."""
    scheme, _, value = request.header("Authorization").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    return request.cookies.get(COOKIE, ""), True


_CLOUD_TRACE = re.compile(r"([0-9a-f]{32})(/[0-9]{1,20})?(;o=[01])?")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def trace_id(cloud: str, traceparent: str) -> str | None:
    """The trace id of an X-Cloud-Trace-Context (TRACE/SPAN;o=1) or W3C traceparent header,
    only when it has that form (it is logged and audited): None otherwise."""
    for header, form in ((cloud, _CLOUD_TRACE), (traceparent, _TRACEPARENT)):
        found = form.fullmatch(header.strip()) if header else None
        if found:
            return found.group(1)
    return None


def _trace(request: Request) -> str:
    found = trace_id(request.header("X-Cloud-Trace-Context"), request.header("traceparent"))
    logs.bind_trace(found)
    return found or secrets.token_hex(16)


def _audit(
    request: Request,
    principal: str,
    checked: tuple[str, str, str],
    status: int,
    result: str,
    trace: str,
    **extra: Any,
) -> None:
    resource, action, target = checked
    entry = {
        "principal": principal,
        "method": request.method,
        "path": request.path,
        "resource": resource,
        "action": action,
        "target": target,
        "status": status,
        "result": result,
        "trace": trace,
        **extra,
    }
    try:
        store.put_audit(entry)
    except Exception as exc:  # the answer stands; the failure to record it is logged
        logs.error("audit entry not written", reason=str(exc)[:300], **entry)


def _ui() -> ModuleType | None:
    try:
        return importlib.import_module("shared.ui.routes")
    except ModuleNotFoundError:
        return None


def handle(request: Request) -> Response:
    """The answer to REQUEST, with the security headers on every one."""
    return secured(_handle(request))


def _handle(request: Request) -> Response:
    logs.clear()
    trace = _trace(request)
    if request.path == "/login" or request.path.startswith("/login/"):
        return _login(request)
    api = request.path.startswith("/api/")
    token, from_cookie = _token(request)
    try:
        identity = idtoken.verify(token)
    except idtoken.Unauthenticated as exc:
        logs.warning("unauthenticated", path=request.path, reason=str(exc))
        if api:
            _audit(request, "", ("", "", ""), 401, "unauthenticated", trace, reason=str(exc))
            return error_response(401, "unauthenticated: a valid ID token is required (gitops login)")
        return _login_page(401, "Sign in to see the applications.")
    logs.bind(principal=identity.principal)
    policy = policy_in_force()
    call = Call(request, identity, policy, rbac.subject(policy, identity.principal, identity.groups), trace)
    if from_cookie and request.method not in SAFE_METHODS and request.header(CSRF_HEADER) != "1":
        response = error_response(403, f"a request authenticated by cookie must carry {CSRF_HEADER}: 1")
        if api:
            _audit(request, call.principal, call.checked, 403, "denied", trace, reason="no CSRF header")
        return response
    if api:
        return _api(call)
    ui = _ui()
    if ui is None:
        return error_response(404, f"no page at {request.path} (the web UI is not installed)")
    answer = ui.handle(request.method, request.path, request.query, call.viewer())
    if answer is None:
        return error_response(404, f"no page at {request.path}")
    return Response(answer.status, answer.body, answer.content_type, dict(answer.headers))


def _api(call: Call) -> Response:
    from shared.api import endpoints

    started = time.monotonic()
    try:
        status, data = endpoints.dispatch(call)
        response = json_response(status, data)
        result = "allowed"
    except ApiError as exc:
        status, result = exc.status, "denied" if call.denied else "failed"
        response = error_response(exc.status, exc.message)
    except (store.NotFound, Refused, FileExistsError) as exc:
        status = 404 if isinstance(exc, store.NotFound) else exc.status if isinstance(exc, Refused) else 409
        result = "failed"
        response = error_response(status, str(exc))
    except Exception as exc:
        logs.error("API call failed", path=call.request.path, error=repr(exc)[:500])
        status, result = 500, "failed"
        response = error_response(500, f"internal error ({type(exc).__name__}); trace {call.trace}")
    _audit(
        call.request,
        call.principal,
        call.checked,
        status,
        result,
        call.trace,
        ms=round((time.monotonic() - started) * 1000),
        **({"message": json.loads(response.body).get("error", "")} if status >= 400 else {}),
        **call.notes,
    )
    return response


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitops: sign in</title></head>
<body><main>
<h1>Sign in</h1>
<p>{message}</p>
<form method="post" action="/login">
<label for="token">ID token for this API (<code>gitops token</code>, or one from your
organization's OAuth client)</label><br>
<textarea id="token" name="token" rows="6" cols="80" required></textarea><br>
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""


def _login_page(status: int, message: str) -> Response:
    body = LOGIN_PAGE.format(message=html.escape(message)).encode()
    return Response(status, body, "text/html; charset=utf-8", {"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    """A browser's POST names where it comes from (Origin, Sec-Fetch-Site); it must be this
    host. A client that sends neither (the CLI, curl) is not a browser another site drives."""
    site = request.header("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return False
    if site == "same-origin":  # set by the browser itself, never by a page's script
        return True
    origin = request.header("Origin")
    if not origin:
        return True
    return origin != "null" and urllib.parse.urlsplit(origin).netloc == request.header("Host")


def _login(request: Request) -> Response:
    """GET: the sign-in page. POST: check the token and keep it in the cookie (SameSite=Strict
    already keeps another site's form from posting here with our cookie)."""
    if request.method in SAFE_METHODS:
        return _login_page(200, "Paste an ID token for this API.")
    if request.method != "POST":
        return error_response(405, "GET or POST")
    if not _same_origin(request):
        # login CSRF: another site's form must not sign the browser in as someone else
        logs.warning("sign-in refused", reason="cross-origin")
        return _login_page(403, "Sign in from this site's own page.")
    if request.header("Content-Type").startswith("application/json"):
        token = str(request.json().get("token") or "")
    else:
        token = urllib.parse.parse_qs(request.body.decode(errors="replace")).get("token", [""])[0]
    try:
        identity = idtoken.verify(token.strip())
    except idtoken.Unauthenticated as exc:
        logs.warning("sign-in refused", reason=str(exc))
        return _login_page(401, "That token was not accepted (expired, or not for this API).")
    max_age = max(0, identity.expires - int(time.time()))
    secure = "" if request.header("Host").startswith(("127.0.0.1", "localhost")) else "; Secure"
    cookie = f"{COOKIE}={token.strip()}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    return Response(303, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})


Handler = Callable[[Call], tuple[int, Any]]
