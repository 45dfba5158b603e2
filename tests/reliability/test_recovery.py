"""Disaster recovery: the cluster's objects wiped, Firestore's data lost; one command back.

`gitops recover` re-applies each application's synced revision (Firestore) from Git; after
Firestore lost everything, the applications are registered again from their manifests
(kept in Git) and `gitops recover` renders and applies their targets' heads.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters import store
from shared.cli import main
from stack import local, oidc
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl, kubectl_json, push, wait_history

pytestmark = pytest.mark.fault

KINDS = "deployment,service,configmap,secret"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: Opaque\n"
    "stringData: {password: recover-me-7f3a}\n"
)
VOLATILE = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def objects(namespace: str, app: str) -> dict[str, Any]:
    """The app's objects as Git defines them: spec, data, labels, annotations (no server state)."""
    out = {}
    for item in kubectl_json("get", KINDS, "-n", namespace, "-l", f"gitops.dev/app={app}")["items"]:
        meta = {k: v for k, v in item["metadata"].items() if k not in VOLATILE}
        meta["annotations"] = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith("deployment.kubernetes.io/")
        }
        spec = {k: v for k, v in (item.get("spec") or {}).items() if k not in ("clusterIP", "clusterIPs")}
        out[f"{item['kind']}/{item['metadata']['name']}"] = {
            "metadata": meta,
            "spec": spec,
            "data": item.get("data"),
            "type": item.get("type"),
        }
    return out


def files(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}/deploy.yaml": manifests.deployment(),
        f"{prefix}/svc.yaml": manifests.service(),
        f"{prefix}/cm.yaml": manifests.configmap(),
        f"{prefix}/secret.yaml": SECRET,
    }


def test_cluster_objects_wiped_then_one_command_restores_them(stack, secret, uid, repo, namespace, capsys):
    apps = [f"dr-a-{uid}", f"dr-b-{uid}"]
    for i, app in enumerate(apps):
        create_app(app, repo, namespace, path=f"app{i}", self_heal=False)
    content = {}
    for i in range(len(apps)):
        content.update(
            {
                path: text.replace("name: web", f"name: web-{i}")
                .replace("name: settings", f"name: settings-{i}")
                .replace("name: db", f"name: db-{i}")
                for path, text in files(f"app{i}").items()
            }
        )
    push(stack, secret, repo, "two apps", content)
    before = {}
    for app in apps:
        wait_history(app, 1)
        before[app] = objects(namespace, app)
        assert len(before[app]) == 4
    # the disaster: every object of both applications is gone
    kubectl(
        "delete", KINDS, "-n", namespace, "-l", "gitops.dev/app in (" + ",".join(apps) + ")", "--wait=true"
    )
    assert all(objects(namespace, app) == {} for app in apps)
    capsys.readouterr()
    assert main.main(["recover", *apps, "--wait", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert all(app in out for app in apps) and "re-apply synced revision" in out
    for app in apps:
        assert objects(namespace, app) == before[app]
        entry = store.get_history(app, 2)
        assert (entry["initiator"], entry["phase"]) == ("self-heal", "Succeeded")
        assert entry["triggeredBy"].startswith("recover:")
        assert entry["commit"] == store.get_history(app, 1)["commit"]


def test_firestore_lost_then_apps_from_git_and_one_command_restore_the_state(
    stack, secret, uid, repo, namespace, tmp_path, capsys
):
    app = f"fs-{uid}"
    manifest = tmp_path / "apps.yaml"  # kept in Git in real life (an app of apps)
    manifest.write_text(f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {app}}}
spec:
  project: default
  source: {{repoURL: "{repo.url}", path: app, targetRevision: main}}
  destination: {{server: "https://kubernetes.default.svc", namespace: {namespace}}}
  syncPolicy: {{automated: {{prune: true}}}}
""")
    assert main.main(["app", "create", "-f", str(manifest)]) == 0
    sha = push(stack, secret, repo, "v1", files("app"))
    assert wait_history(app, 1)["commit"] == sha
    before = objects(namespace, app)
    local.restart(stack, "firestore")  # the emulator keeps nothing
    assert store.list_apps() == []
    # the RBAC policy went with it: nobody may do anything until the first one is written again
    assert main.main(["app", "create", "-f", str(manifest), "--upsert"]) == 1
    policy = tmp_path / "policy.csv"
    policy.write_text(f"g, {oidc.ADMIN}, role:admin\n")
    assert main.main(["policy", "bootstrap", "-f", str(policy), "--admin-bootstrap"]) == 0
    # recovery: register again from Git, then one command
    assert main.main(["app", "create", "-f", str(manifest), "--upsert"]) == 0
    capsys.readouterr()
    assert main.main(["recover", app, "--wait", "--timeout", "60"]) == 0
    assert "render target head" in capsys.readouterr().out
    entry = wait_history(app, 1)
    assert (entry["commit"], entry["phase"]) == (sha, "Succeeded")
    assert {r["action"] for r in entry["resources"]} <= {"unchanged", "configured"}
    assert objects(namespace, app) == before
    status = store.get_app(app).status
    assert status["sync"]["commit"] == sha and len(store.inventory(app, status)) == 4
    # and the pipeline goes on: the next push syncs
    v2 = push(stack, secret, repo, "v2", {"app/cm.yaml": manifests.configmap(greeting="after")}, sha)
    assert wait_history(app, 2)["commit"] == v2
