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


def synced_once(stack, secret, repo, app: str, namespace: str) -> tuple[str, dict]:
    """The application created and a good first commit pushed and applied: (commit, history entry)."""
    create_app(app, repo, namespace)
    good = repo.commit_and_push("good", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    assert (
        webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, good))[0]
        == 200
    )
    return good, wait_history(app, 1)


def verdict_on(stack, secret, repo, app: str, before: str, files: dict[str, str]) -> dict:
    """Push `files` over `before` and wait for the render's verdict on the new commit."""
    commit = repo.commit_and_push("change", files)
    assert webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", before, commit))[0] == 200
    return wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == commit and r,
        "the gate's verdict",
    )


def test_schema_error_is_blocked_and_the_status_names_the_field(stack, secret, uid, repo, namespace):
    app = f"schema-{uid}"
    good, _ = synced_once(stack, secret, repo, app, namespace)
    broken = manifests.deployment(image="nginx:2").replace("  replicas: 0", "  replicas: two")
    assert broken != manifests.deployment(image="nginx:2")
    render = verdict_on(stack, secret, repo, app, good, {"app/deploy.yaml": broken})
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


CRONJOB_V1 = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: run
              image: busybox:1.36
"""


def test_the_gate_judges_against_the_api_servers_own_version(stack, secret, uid, repo, namespace):
    """No version is configured anywhere (the stack sets no GITOPS_KUBE_VERSION): the render
    reads the local API server's /version (v1.20.2), records it with the revision, and the
    gate refuses batch/v1 CronJob, which Kubernetes serves only from 1.21."""
    assert not stack.env.get("GITOPS_KUBE_VERSION")
    app = f"version-{uid}"
    good, entry = synced_once(stack, secret, repo, app, namespace)
    assert store.get_revision(app, entry["revision"])["kubeVersion"] == "1.20.2"
    render = verdict_on(stack, secret, repo, app, good, {"app/cron.yaml": CRONJOB_V1})
    assert "blocked by the security gate" in render["message"]
    assert "API001" in render["message"]
    assert (
        "batch/v1 CronJob is served from Kubernetes 1.21 (the destination runs 1.20.2)" in render["message"]
    )
    assert history_count(app) == 1
