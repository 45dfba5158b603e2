"""The gate through the served functions: a push that breaks the Kubernetes schema is not
applied, the cluster keeps the previous revision, and the application's status names the
field, its file:line:col and the check."""

from __future__ import annotations

import pytest

from shared.adapters import store
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl_json,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def test_schema_error_is_blocked_and_the_status_names_the_field(stack, secret, uid, repo, namespace):
    app = f"schema-{uid}"
    create_app(app, repo, namespace)
    good = repo.commit_and_push("good", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    assert (
        webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, good))[0]
        == 200
    )
    wait_history(app, 1)
    broken = manifests.deployment(image="nginx:2").replace("  replicas: 0", "  replicas: two")
    assert broken != manifests.deployment(image="nginx:2")
    bad = repo.commit_and_push("schema", {"app/deploy.yaml": broken})
    assert webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", good, bad))[0] == 200
    render = wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == bad and r,
        "the gate's verdict",
    )
    assert "blocked by the security gate" in render["message"]
    assert "SCH001 schema" in render["message"] and "expected integer, got string 'two'" in render["message"]
    error = render["errors"][0]
    assert (error["file"], error["line"], error["column"], error["field"]) == (
        "app/deploy.yaml",
        7,
        3,
        "spec.replicas",
    )
    assert history_count(app) == 1
    image = kubectl_json("get", "deployment", "web", "-n", namespace)["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "nginx:1"  # the last good revision keeps running
