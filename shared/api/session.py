"""`/api/v1/session/userinfo`: who the API takes the caller for (Argo CD's endpoint)."""

from __future__ import annotations

from typing import Any

from shared.api.routing import route
from shared.api.server import Call


@route("GET", "/api/v1/session/userinfo")
def userinfo(call: Call) -> tuple[int, Any]:
    return 200, {
        "loggedIn": True,
        "username": call.principal,
        "iss": call.identity.issuer,
        "groups": list(call.identity.groups),
        "roles": sorted(r for r in call.subject.roles if r.startswith(("role:", "proj:"))),
    }
