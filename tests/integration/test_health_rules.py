"""Health on the live stack beyond the built-in workloads (shared/core/health.py, healthcel.py):

- a custom resource whose health comes from the application's CEL expressions: an
  application saved from a manifest with `healthChecks`, a CRD and an object of it in Git, the
  object's status patched as its controller would: Progressing, Healthy, Degraded at each audit;
  an expression that does not parse is refused when the application is saved, naming the field;
- objects of kinds with no health (a ConfigMap, a custom resource without conditions): no
  health in the sync's results ('-' in `app get`), and the application is Healthy.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from shared.adapters import store
from tests.integration.conftest import (
    app_health_after_sweeps,
    kubectl,
    push,
    run_cli,
    run_cli_capturing,
    wait_history,
)

pytestmark = pytest.mark.integration


def crd(group: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.{group}
        spec:
          group: {group}
          scope: Namespaced
          names: {{plural: widgets, singular: widget, kind: Widget}}
          versions:
          - name: v1
            served: true
            storage: true
            subresources: {{status: {{}}}}
            schema:
              openAPIV3Schema:
                type: object
                x-kubernetes-preserve-unknown-fields: true
        """
    )


def widget(group: str, name: str = "w") -> str:
    return f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: 1\n"


def application(name: str, repo_url: str, namespace: str, checks: list[dict]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "gitops.dev/v1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "repoURL": repo_url,
                "path": "app",
                "targetRevision": "main",
                "destination": {"namespace": namespace},
                "syncPolicy": {"automated": True, "prune": True},
                "healthChecks": checks,
            },
        }
    )


def set_phase(group: str, namespace: str, phase: str) -> None:
    """Write the Widget's status as its controller would (the status subresource)."""
    kubectl(
        "patch",
        f"widgets.{group}",
        "w",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": phase}}),
    )


def test_a_custom_resource_gets_its_health_from_the_applications_cel(
    stack, secret, uid, repo, namespace, tmp_path
):
    app, group = f"cel-{uid}", f"h{uid}.example.dev"
    checks = [
        {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "current": "status.phase == 'Running'",
            "inProgress": "status.phase == 'Provisioning'",
            "failed": "status.phase == 'Failed'",
        }
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(application(app, repo.url, namespace, [{**checks[0], "failed": "status.phase =="}]))
    code, _, err = run_cli_capturing("app", "create", "-f", str(bad))
    assert code != 0 and "healthChecks[0].failed: " in err, err
    good = tmp_path / "app.yaml"
    good.write_text(application(app, repo.url, namespace, checks))
    assert run_cli("app", "create", "-f", str(good))[0] == 0

    push(stack, secret, repo, "a widget", {"app/crd.yaml": crd(group), "app/widget.yaml": widget(group)})
    entry = wait_history(app, 1, timeout=60)
    assert entry["phase"] == "Succeeded", entry
    # no status yet: the expressions cannot tell, so it is in progress (as Flux waits)
    assert "healthChecks" in app_health_after_sweeps(app, "Progressing")["message"]

    set_phase(group, namespace, "Running")
    assert app_health_after_sweeps(app, "Healthy")
    set_phase(group, namespace, "Failed")
    degraded = app_health_after_sweeps(app, "Degraded")
    assert "healthChecks failed: status.phase == 'Failed'" in degraded["message"], degraded
    set_phase(group, namespace, "Provisioning")
    assert app_health_after_sweeps(app, "Progressing")
    kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_objects_of_kinds_without_health_have_none_and_the_application_is_healthy(
    stack, secret, uid, repo, namespace, tmp_path
):
    app, group = f"nohealth-{uid}", f"n{uid}.example.dev"
    spec = tmp_path / "app.yaml"
    spec.write_text(application(app, repo.url, namespace, []))
    assert run_cli("app", "create", "-f", str(spec))[0] == 0
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n"
    push(
        stack,
        secret,
        repo,
        "config",
        {"app/cm.yaml": config_map, "app/crd.yaml": crd(group), "app/widget.yaml": widget(group)},
    )
    entry = wait_history(app, 1, timeout=60)
    assert entry["phase"] == "Succeeded", entry
    by_name = {r["name"]: r for r in entry["resources"]}
    assert "health" not in by_name["settings"] and "health" not in by_name["w"]
    # the CRD has health: as the API server answered its apply, before it was Established
    assert by_name[f"widgets.{group}"]["health"] in ("Progressing", "Healthy")
    assert app_health_after_sweeps(app, "Healthy")
    shown = run_cli("app", "get", app)[1]
    assert any(line.startswith("ConfigMap") and line.rstrip().endswith("-") for line in shown.splitlines()), (
        shown
    )
    assert store.get_app(app).status["health"]["status"] == "Healthy"
    kubectl("delete", "crd", f"widgets.{group}", "--wait=false")
