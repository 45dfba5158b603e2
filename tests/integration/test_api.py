"""The API on the local stack: tokens verified by the function (401s), RBAC (403s and what a
project role reaches), the audit trail, the policy from Git, the verified principal in history.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stack import local, oidc
from tests.integration.conftest import send

pytestmark = pytest.mark.integration


def call(
    stack: local.Stack,
    method: str,
    path: str,
    token: str | None,
    body: Any = None,
    headers: dict | None = None,
) -> tuple[int, Any]:
    """METHOD PATH on the API as the bearer of TOKEN (None: no Authorization header)."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    return send(method, stack.env["GITOPS_API_URL"] + path, data, sent, timeout=60)


@pytest.mark.parametrize(
    "variant",
    ["none", "forged", "expired", "wrong-audience", "garbage"],
)
def test_a_call_without_a_valid_token_is_refused_401(stack, variant):
    token = {
        "none": lambda: None,
        "forged": lambda: oidc.mint(stack, oidc.ADMIN, forged=True),
        "expired": lambda: oidc.mint(stack, oidc.ADMIN, ttl_s=-120),
        "wrong-audience": lambda: oidc.mint(stack, oidc.ADMIN, audience="https://elsewhere.example"),
        "garbage": lambda: "not.a.token",
    }[variant]()
    status, body = call(stack, "GET", "/api/v1/applications", token)
    assert status == 401, body
    assert body["code"] == 16


def test_the_admin_is_who_the_token_says(stack):
    status, body = call(stack, "GET", "/api/v1/session/userinfo", oidc.mint(stack, oidc.ADMIN))
    assert status == 200, body
    assert body["username"] == oidc.ADMIN and "role:admin" in body["roles"]
    status, body = call(stack, "GET", "/api/v1/applications", oidc.mint(stack, oidc.ADMIN))
    assert status == 200 and "items" in body


def test_someone_with_no_role_sees_nothing_and_is_denied(stack):
    token = oidc.mint(stack, "nobody@example.com")
    status, body = call(stack, "GET", "/api/v1/applications", token)
    assert status == 200 and body["items"] == []
    status, body = call(stack, "GET", "/api/v1/applications/anything", token)
    assert status in (403, 404)
