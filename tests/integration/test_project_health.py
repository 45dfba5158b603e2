"""Custom health in CEL set on a project applies to its applications; an application's own
entry for the same group and kind overrides the project's."""

from __future__ import annotations

import dataclasses

import pytest

from shared.adapters import store
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    app_health_after_sweeps,
    install_project_rbac,
    run_cli,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def test_project_health_checks_and_the_application_override(stack, secret, uid, repo, namespace):
    project, app = f"health-{uid}", f"health-{uid}"
    rule = "[{group: '', kind: ConfigMap, current: 'has(data.ready)', failed: 'has(data.broken)'}]"
    assert (
        run_cli("project", "set", project, "--health-checks", "[{kind: ConfigMap, current: 'data. =='}]")[0]
        == 1
    )
    code, _ = run_cli(
        "project", "set", project, "--source-repo", repo.url, "--destination", f"in-cluster/{namespace}",
        "--health-checks", rule,
    )  # fmt: skip
    assert code == 0
    install_project_rbac(project)  # the apply and audit act as the project's ServiceAccount
    code, _ = run_cli(
        "app", "create", app, "--repo", repo.url, "--path", "app", "--revision", "main",
        "--dest-namespace", namespace, "--sync-policy", "automated", "--project", project,
    )  # fmt: skip
    assert code == 0
    sha = repo.commit_and_push(
        "broken", {"app/cm.yaml": manifests.configmap().replace("  greeting:", "  broken: 'y'\n  greeting:")}
    )
    assert (
        webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))[0]
        == 200
    )
    wait_history(app, 1, timeout=60)
    # a ConfigMap has no health of its own: the project's rule gives it one
    health = app_health_after_sweeps(app, "Degraded")
    assert health["message"].endswith("healthChecks failed: has(data.broken)"), health
    # the application's own rule for ConfigMap wins over the project's
    spec = store.get_app(app).spec
    store.put_app(
        dataclasses.replace(
            spec, healthChecks=({"group": "", "kind": "ConfigMap", "current": "has(data.greeting)"},)
        )
    )
    assert app_health_after_sweeps(app, "Healthy")["status"] == "Healthy"
