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


def set_policy(text: str, default: str = "") -> None:
    """The policy in force, as the admin bootstrap writes it (the stack's admin stays admin)."""
    from shared.adapters import store
    from shared.core import rbac

    policy = rbac.parse(f"g, {oidc.ADMIN}, role:admin\n{text}", default=default)
    store.put_policy(policy, {"source": "test"})


@pytest.fixture
def policy():
    yield set_policy
    set_policy("")


def register_body(name: str, repo, namespace: str, project: str = "default") -> dict[str, Any]:
    spec = {
        "repoURL": repo.url,
        "path": "app",
        "targetRevision": "main",
        "project": project,
        "destination": {"cluster": "in-cluster", "namespace": namespace},
    }
    return {"name": name, "spec": spec}


def register(stack, token: str, name: str, repo, namespace: str, project: str = "default") -> tuple[int, Any]:
    return call(stack, "POST", "/api/v1/applications", token, register_body(name, repo, namespace, project))


def audit_of(principal: str, action: str) -> list[dict[str, Any]]:
    from shared.adapters import store

    return [
        e for e in store.audit_entries(200) if e.get("principal") == principal and e.get("action") == action
    ]


def test_a_readonly_user_cannot_sync_and_the_audit_trail_says_so(stack, policy, repo, namespace, uid):
    from tests.integration import manifests

    policy("g, reader@example.com, role:readonly")
    admin, reader = oidc.mint(stack, oidc.ADMIN), oidc.mint(stack, "reader@example.com")
    repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    status, body = register(stack, admin, f"ro-{uid}", repo, namespace)
    assert status == 200, body
    status, body = call(stack, "GET", f"/api/v1/applications/ro-{uid}", reader)
    assert status == 200 and body["name"] == f"ro-{uid}"
    status, body = call(stack, "POST", f"/api/v1/applications/ro-{uid}/sync", reader, {})
    assert status == 403, body
    assert body["code"] == 7 and "permission denied: applications, sync, default/ro-" in body["error"]
    (entry,) = audit_of("reader@example.com", "sync")
    assert entry["status"] == 403 and entry["result"] == "denied"
    assert entry["resource"] == "applications" and entry["target"] == f"default/ro-{uid}"
    assert entry["path"] == f"/api/v1/applications/ro-{uid}/sync" and entry["trace"] and entry["time"]
    assert not any("eyJ" in str(v) for v in entry.values())  # no token in the trail
    # nor may it register, change or delete anything
    assert register(stack, reader, f"ro2-{uid}", repo, namespace)[0] == 403
    assert call(stack, "DELETE", f"/api/v1/applications/ro-{uid}", reader)[0] == 403
    # the admin may, and that is audited as allowed, with the verified principal
    status, body = call(stack, "POST", f"/api/v1/applications/ro-{uid}/sync", admin, {})
    assert status == 200, body
    assert any(
        e["status"] == 200 and e["target"] == f"default/ro-{uid}" for e in audit_of(oidc.ADMIN, "sync")
    )


def test_a_project_role_cannot_touch_another_projects_applications(stack, policy, repo, namespace, uid):
    from tests.integration import manifests

    admin = oidc.mint(stack, oidc.ADMIN)
    project = f"team-{uid}"
    appproject = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": project},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "*"}],
            "roles": [
                {
                    "name": "deployer",
                    "policies": [
                        f"p, proj:{project}:deployer, applications, get, {project}/*, allow",
                        f"p, proj:{project}:deployer, applications, sync, {project}/*, allow",
                        f"p, proj:{project}:deployer, applications, create, {project}/*, allow",
                    ],
                    "groups": [f"{project}-devs"],
                }
            ],
        },
    }
    status, body = call(stack, "POST", "/api/v1/projects", admin, appproject)
    assert status == 200, body
    # a role reaching outside its project is refused, naming the field
    outside = json.loads(json.dumps(appproject))
    outside["spec"]["roles"][0]["policies"] = [
        f"p, proj:{project}:deployer, applications, sync, default/*, allow"
    ]
    status, body = call(stack, "POST", "/api/v1/projects", admin, outside)
    assert status == 400 and "field 5 (object)" in body["error"], body
    repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    assert register(stack, admin, f"ours-{uid}", repo, namespace, project)[0] == 200
    assert register(stack, admin, f"theirs-{uid}", repo, namespace)[0] == 200
    dev = oidc.mint(stack, "dev@example.com", groups=(f"{project}-devs",))
    status, body = call(stack, "GET", "/api/v1/applications", dev)
    assert [a["name"] for a in body["items"]] == [f"ours-{uid}"]
    assert call(stack, "POST", f"/api/v1/applications/ours-{uid}/sync", dev, {})[0] == 200
    for method, path in (
        ("GET", f"/api/v1/applications/theirs-{uid}"),
        ("POST", f"/api/v1/applications/theirs-{uid}/sync"),
        ("DELETE", f"/api/v1/applications/theirs-{uid}"),
    ):
        status, body = call(stack, method, path, dev, {} if method == "POST" else None)
        # what it may not even get answers as if it did not exist (no existence oracle)
        assert status == 404 and body["error"] == f"application 'theirs-{uid}' not found", (
            method,
            path,
            body,
        )
    # creating an application of the same name, or sweeping it, says no more than for a name
    # nobody uses (never 409 "exists", never the other project's name)
    status, body = call(
        stack, "POST", "/api/v1/applications", dev, register_body(f"theirs-{uid}", repo, namespace, project)
    )
    assert status == 403 and "default/" not in body["error"], body
    status, body = call(stack, "POST", "/api/v1/sweep", dev, {"apps": [f"theirs-{uid}"]})
    assert status == 404 and body["error"] == f"application 'theirs-{uid}' not found", body
    status, body = call(stack, "POST", "/api/v1/recover", dev, {"apps": [f"theirs-{uid}"]})
    assert status == 404 and "default" not in body["error"], body
    # nor can it move its application into the other project, or delete its own
    status, _ = call(stack, "DELETE", f"/api/v1/applications/ours-{uid}", dev)
    assert status == 403
    # without the group the same person has nothing
    assert (
        call(stack, "GET", f"/api/v1/applications/ours-{uid}", oidc.mint(stack, "dev@example.com"))[0] == 404
    )


def test_a_cookie_session_needs_the_csrf_header_to_change_anything(stack, repo, namespace, uid):
    token = oidc.mint(stack, oidc.ADMIN)
    cookie = {"Cookie": f"gitops_token={token}"}
    status, body = call(stack, "GET", "/api/v1/applications", None, headers=cookie)
    assert status == 200
    status, body = call(stack, "POST", "/api/v1/sweep", None, {"apps": []}, headers=cookie)
    assert status == 403 and "X-GitOps-CSRF" in body["error"]
    status, body = call(
        stack, "POST", "/api/v1/sweep", None, {"apps": []}, headers={**cookie, "X-GitOps-CSRF": "1"}
    )
    assert status == 200, body


def rbac_configmap(policy_csv: str, default: str = "") -> str:
    lines = "\n".join(f"    {line}" for line in policy_csv.strip().splitlines())
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: gitops-rbac-cm
  namespace: gitops
data:
  policy.default: "{default}"
  policy.csv: |
{lines}
"""


def test_a_policy_pushed_to_the_config_repository_takes_effect(stack, secret, policy, repo, uid):
    """GitOps for the GitOps tool: the policy is a ConfigMap like argocd-rbac-cm in a config
    repository, reconciled by an application whose destination is the control plane."""
    from shared.adapters import store
    from tests.integration.conftest import push, wait_for, wait_history

    admin, carol = oidc.mint(stack, oidc.ADMIN), oidc.mint(stack, "carol@example.com")
    app = f"rbac-{uid}"
    spec = {
        "repoURL": repo.url,
        "path": "rbac",
        "targetRevision": "main",
        "destination": {"cluster": "gitops-control-plane", "namespace": "gitops"},
        "syncPolicy": {"automated": True},
    }
    # only someone who may update the control plane registers the policy's application
    policy("g, ops@example.com, role:readonly\np, ops@example.com, applications, *, */*, allow")
    status, body = call(
        stack,
        "POST",
        "/api/v1/applications",
        oidc.mint(stack, "ops@example.com"),
        {"name": app, "spec": spec},
    )
    assert status == 403 and "clusters, update, gitops-control-plane" in body["error"], body
    status, body = call(stack, "POST", "/api/v1/applications", admin, {"name": app, "spec": spec})
    assert status == 200, body
    assert call(stack, "GET", f"/api/v1/applications/{app}", carol)[0] == 404

    good = f"g, {oidc.ADMIN}, role:admin\ng, carol@example.com, role:readonly\n"
    first = push(stack, secret, repo, "carol may read", {"rbac/rbac-cm.yaml": rbac_configmap(good)})
    entry = wait_history(app, 1, timeout=60)
    assert entry["phase"] == "Succeeded", entry
    assert entry["triggeredBy"] and store.get_policy()[1]["commit"] == first
    status, body = call(stack, "GET", f"/api/v1/applications/{app}", carol)
    assert status == 200, body
    assert call(stack, "POST", f"/api/v1/applications/{app}/sync", carol, {})[0] == 403

    # a bad policy fails its sync naming the ConfigMap's key and line, and the old one stays
    bad = good + "p, carol@example.com, applications, deploy, */*, allow\n"
    push(stack, secret, repo, "a typo", {"rbac/rbac-cm.yaml": rbac_configmap(bad)}, before=first)
    entry = wait_history(app, 2, timeout=60)
    assert entry["phase"] == "Failed", entry
    results = store.get_history(app, 2)["resources"]
    (failed,) = [r for r in results if r["action"] == "failed"]
    assert "ConfigMap gitops-rbac-cm data[policy.csv]:3: field 4 (action): 'deploy'" in failed["message"]
    assert call(stack, "GET", f"/api/v1/applications/{app}", carol)[0] == 200
    wait_for(lambda: store.get_policy()[1]["commit"] == first, "the old policy to stay in force")


def test_history_records_the_verified_principal(stack, policy, repo, namespace, uid):
    from tests.integration import manifests
    from tests.integration.conftest import wait_history

    policy("p, role:deployer, applications, *, default/*, allow\ng, sam@example.com, role:deployer")
    sam = oidc.mint(stack, "sam@example.com")
    repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    assert register(stack, sam, f"who-{uid}", repo, namespace)[0] == 200
    status, body = call(stack, "POST", f"/api/v1/applications/who-{uid}/sync", sam, {})
    assert status == 200, body
    entry = wait_history(f"who-{uid}", 1, timeout=60)
    assert entry["triggeredBy"] == "sam@example.com" and entry["initiator"] == "manual"
    status, pin = call(stack, "POST", f"/api/v1/applications/who-{uid}/pin", sam, {"reason": "freeze"})
    assert status == 200 and pin["by"] == "sam@example.com", pin
    status, history = call(stack, "GET", f"/api/v1/applications/who-{uid}/history", sam)
    assert [e["triggeredBy"] for e in history["items"]] == ["sam@example.com"]


def test_create_on_an_existing_cluster_or_repository_needs_update(stack, policy, uid):
    """Adversary finding 5: `create` alone must not overwrite an existing destination or a
    repository's credentials, and a tokenFile is only read from the configured directory."""
    from pathlib import Path

    admin, cc = oidc.mint(stack, oidc.ADMIN), oidc.mint(stack, f"cc-{uid}@example.com")
    policy(
        f"p, cc-{uid}@example.com, clusters, create, *, allow\n"
        f"p, cc-{uid}@example.com, repositories, create, *, allow\n"
    )
    name = f"c-{uid}"
    assert call(stack, "POST", "/api/v1/clusters", admin, {"name": name, "context": "local"})[0] == 200
    status, body = call(stack, "POST", "/api/v1/clusters", cc, {"name": name, "context": "other"})
    assert status == 403 and f"clusters, update, {name}" in body["error"], body
    status, _ = call(stack, "POST", "/api/v1/clusters", cc, {"name": f"new-{uid}", "context": "local"})
    assert status == 200
    url = f"http://127.0.0.1:1/repo-{uid}.git"
    assert call(stack, "POST", "/api/v1/repositories", admin, {"repo": url, "password": "p1"})[0] == 200
    status, body = call(stack, "POST", "/api/v1/repositories", cc, {"repo": url, "password": "p2"})
    assert status == 403 and "repositories, update" in body["error"], body
    # a tokenFile outside GITOPS_CLUSTER_TOKEN_DIR is refused (it would be sent as a Bearer token)
    entry = {"endpoint": "https://127.0.0.1:1", "caCertificate": "x", "tokenFile": "/etc/passwd"}
    status, body = call(stack, "POST", "/api/v1/clusters", admin, {"name": f"t-{uid}", **entry})
    assert status == 400 and "GITOPS_CLUSTER_TOKEN_DIR" in body["error"], body
    inside = Path(stack.env["GITOPS_CLUSTER_TOKEN_DIR"]) / "../clusters.json"
    status, body = call(
        stack, "POST", "/api/v1/clusters", admin, {"name": f"t-{uid}", **entry, "tokenFile": str(inside)}
    )
    assert status == 400, body
    for n in (name, f"new-{uid}"):
        call(stack, "DELETE", f"/api/v1/clusters/{n}", admin)
    call(stack, "DELETE", f"/api/v1/repositories/{url}", admin)


def test_oversized_deep_or_unknown_bodies_are_refused_before_they_cost_anything(stack, repo, namespace, uid):
    """Adversary finding 9: a chunked body over 8 MiB is cut off at the limit (413), a body
    nesting too deep is a 400 (not a 500), an unknown key in a spec's sub-object a 400 naming
    it, a pin's reason is bounded."""
    import http.client
    import urllib.parse

    admin = oidc.mint(stack, oidc.ADMIN)
    url = urllib.parse.urlsplit(stack.env["GITOPS_API_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    chunk = b"x" * (1 << 20)
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    try:
        conn.request(
            "POST", "/api/v1/applications", body=iter([chunk] * 9), headers=headers, encode_chunked=True
        )
        assert conn.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed before the rest was sent
    finally:
        conn.close()
    deep = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, body = send("POST", stack.env["GITOPS_API_URL"] + "/api/v1/applications", deep, headers, 60)
    assert status == 400 and "nests deeper" in body["error"], body
    item = register_body(f"unk-{uid}", repo, namespace)
    item["spec"]["ignoreDifferences"] = [{"kind": "ConfigMap", "jsonPointers": ["/data"], "zz": 1}]
    status, body = call(stack, "POST", "/api/v1/applications", admin, item)
    assert status == 400 and "ignoreDifferences[0].zz" in body["error"], body
    assert register(stack, admin, f"pin-{uid}", repo, namespace)[0] == 200
    status, body = call(stack, "POST", f"/api/v1/applications/pin-{uid}/pin", admin, {"reason": "x" * 5000})
    assert status == 400 and "reason" in body["error"], body
    call(stack, "DELETE", f"/api/v1/applications/pin-{uid}", admin)


def _raw(stack, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """(status, headers) of one request, redirects not followed."""
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(stack.env["GITOPS_API_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def test_sign_in_refuses_other_sites_and_junk_and_every_answer_is_hardened(stack):
    """Adversary finding 10: login CSRF, a cookie built from a token with junk after it,
    security headers on JSON, the sign-in page and 401s."""
    import urllib.parse

    token = oidc.mint(stack, oidc.ADMIN)
    host = urllib.parse.urlsplit(stack.env["GITOPS_API_URL"]).netloc
    form = {"Content-Type": "application/x-www-form-urlencoded", "Host": host}
    body = urllib.parse.urlencode({"token": token}).encode()
    status, _ = _raw(stack, "POST", "/login", body, {**form, "Origin": "https://evil.example"})
    assert status == 403
    status, _ = _raw(stack, "POST", "/login", body, {**form, "Sec-Fetch-Site": "cross-site"})
    assert status == 403
    junk = urllib.parse.urlencode({"token": token + "==; Path=/ui; Max-Age=99999999"}).encode()
    status, headers = _raw(stack, "POST", "/login", junk, {**form, "Origin": f"http://{host}"})
    assert status == 401 and "set-cookie" not in headers
    status, headers = _raw(stack, "POST", "/login", body, {**form, "Origin": f"http://{host}"})
    assert status == 303 and headers["set-cookie"].startswith(f"gitops_token={token}; HttpOnly")
    for method, path, sent in (
        ("GET", "/login", {}),
        ("GET", "/api/v1/applications", {}),  # 401 JSON
        ("GET", "/api/v1/applications", {"Authorization": f"Bearer {token}"}),
        ("GET", "/", {}),  # the 401 sign-in page
    ):
        status, headers = _raw(stack, method, path, b"", sent)
        assert headers.get("x-content-type-options") == "nosniff", (path, status)
        assert headers.get("x-frame-options") == "DENY", (path, status)
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), (path, status)


def test_a_project_named_with_a_glob_is_refused(stack, policy, uid):
    """Adversary finding 1: `projects, create, team-*` let pm create project `team-*` whose role
    reached every team-... project. A project name is a DNS-1123 label, everywhere."""
    pm = oidc.mint(stack, f"pm-{uid}@example.com")
    policy(f"p, pm-{uid}@example.com, projects, *, team-*, allow\n")
    for name in ("team-*", "*", "team-[ab]"):
        project = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": name},
            "spec": {
                "roles": [
                    {
                        "name": "own",
                        "policies": [f"p, proj:{name}:own, applications, *, team-*/*, allow"],
                        "groups": [f"pm-{uid}@example.com"],
                    }
                ]
            },
        }
        status, body = call(stack, "POST", "/api/v1/projects", pm, project)
        assert status == 400 and "not a valid project name" in body["error"], body
    status, body = call(stack, "PUT", "/api/v1/projects/team-*", pm, {"description": "x"})
    assert status == 400 and "not a valid project name" in body["error"], body
