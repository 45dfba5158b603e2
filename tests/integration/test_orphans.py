"""Orphaned resources (Argo CD's project setting orphanedResources): the sweep's audit names
the objects in the destination namespace that no application owns, as a warning on the
application; what Kubernetes makes itself and what the project ignores are left out."""

from __future__ import annotations

import json

import pytest

from shared.adapters import store
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import install_project_rbac, kubectl, run_cli, sweep, wait_history, webhook

pytestmark = pytest.mark.integration


def test_an_orphan_is_warned_about_on_the_application(stack, secret, uid, repo, namespace):
    project, app = f"orph-{uid}", f"orph-{uid}"
    code, _ = run_cli(
        "project",
        "set",
        project,
        "--source-repo",
        repo.url,
        "--destination",
        f"in-cluster/{namespace}",
        "--orphaned-resources",
        "warn",
        "--orphaned-ignore",
        "/ConfigMap/ignored-*",
    )
    assert code == 0
    assert store.get_project(project)["orphanedResources"] == {
        "warn": True,
        "ignore": [{"group": "", "kind": "ConfigMap", "name": "ignored-*"}],
    }
    install_project_rbac(project)  # the apply and audit act as the project's ServiceAccount
    code, _ = run_cli(
        "app", "create", app, "--repo", repo.url, "--path", "app", "--revision", "main",
        "--dest-namespace", namespace, "--sync-policy", "automated", "--project", project,
    )  # fmt: skip
    assert code == 0
    sha = repo.commit_and_push("ours", {"app/cm.yaml": manifests.configmap()})
    assert (
        webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))[0]
        == 200
    )
    wait_history(app, 1, timeout=60)
    kubectl("create", "configmap", "by-hand", "-n", namespace, "--from-literal=a=b")
    kubectl("create", "configmap", "ignored-x", "-n", namespace, "--from-literal=a=b")
    kubectl("create", "secret", "generic", "token", "-n", namespace, "--from-literal=a=b")

    sweep(app)
    orphaned = store.get_app(app).status["orphans"]
    # not ours (settings), nor Kubernetes' own (default ServiceAccount, kube-root-ca.crt), nor ignored
    assert orphaned["objects"] == [f"ConfigMap/{namespace}/by-hand", f"Secret/{namespace}/token"]
    assert orphaned["count"] == 2 and orphaned["warning"].startswith("2 orphaned resources: ")
    code, out = run_cli("app", "get", app)
    assert code == 0 and "Orphans:" in out and f"ConfigMap/{namespace}/by-hand" in out
    code, out = run_cli("-o", "json", "app", "get", app)
    assert json.loads(out)["status"]["orphans"]["count"] == 2
    # the drift audit is not concerned: nothing of the application drifted
    assert store.get_app(app).status["sync"]["status"] == "Synced"

    kubectl("delete", "configmap", "by-hand", "-n", namespace)
    kubectl("delete", "secret", "token", "-n", namespace)
    sweep(app)
    assert store.get_app(app).status["orphans"]["count"] == 0
    # the project stops watching: nothing is listed any more
    assert run_cli("project", "set", project, "--orphaned-resources", "off")[0] == 0
    kubectl("create", "configmap", "later", "-n", namespace, "--from-literal=a=b")
    sweep(app)
    assert store.get_app(app).status.get("orphans") is None
