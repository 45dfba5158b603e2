"""Sync hooks on live pods (Argo CD's "Resource Hooks"): the real Job controller runs the hook
Jobs' pods on the simulated nodes, which succeed, or fail when the image says `fail`.

- pre-post-sync: the PreSync Job (only a generateName) runs before the application is applied,
  the PostSync Job after it is Healthy; the PreSync Job (HookSucceeded) is deleted once the
  whole operation succeeded (after PostSync ran: the API server's audit log shows the order),
  as gitops-engine does; hooks are not in the inventory and never drift; a second sync runs the
  BeforeHookCreation hook again;
- a failed PreSync hook stops the sync before anything is applied, and SyncFail runs; nothing
  marked HookSucceeded is deleted, since the operation failed;
- a hook the API server would refuse fails the sync in the up-front dry-run: no hook runs and
  nothing is applied;
- hook Pods (not only Jobs) run on the simulated nodes and complete;
- a Helm `crd-install` CRD is applied as an ordinary object, before the custom resource using it;
- PreDelete and PostDelete hooks run on `gitops app delete --cascade` (never on a sync); a
  failed PreDelete hook keeps the application and everything it owns;
- helm-hooks: Helm's hooks mapped (pre-install -> PreSync by weight, post-install -> PostSync,
  hook-succeeded), the test hook never applied; `gitops app get` and `history` show them.
"""

from __future__ import annotations

import json
import os

import pytest

from shared.adapters import kube, store
from tests.integration.conftest import (
    create_app,
    example_files,
    push,
    run_cli,
    run_cli_capturing,
    sweep,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.integration
TIMEOUT = 90


def audit_writes(namespace: str, resource: str) -> list[tuple[str, str]]:
    """(verb, name) of every write (not a dry-run) to `resource` in the namespace, in the order
    the API server's audit log recorded them."""
    out = []
    with open(os.environ["GITOPS_KUBE_AUDIT_LOG"]) as f:
        for line in f:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (ref.get("namespace"), ref.get("resource")) != (namespace, resource):
                continue
            if "dryRun" in event.get("requestURI", "") or event.get("stage") != "ResponseComplete":
                continue
            out.append((event["verb"], ref.get("name", "")))
    return out


def job(namespace: str, name: str) -> dict | None:
    return kube.cluster().get("batch/v1", "Job", namespace, name)


def by_phase(entry: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for h in entry.get("hooks") or []:
        out.setdefault(h["phase"], []).append(h)
    return out


def test_pre_and_post_sync_hooks_run_in_order_and_are_deleted_per_policy(stack, secret, uid, repo, namespace):
    app = f"hooks-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "pre-post-sync", example_files("pre-post-sync"))
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    hooks = by_phase(entry)
    assert [h["phase"] for h in entry["hooks"]] == ["PreSync", "PostSync"]  # SyncFail did not run
    (pre,), (post,) = hooks["PreSync"], hooks["PostSync"]
    assert (
        pre["name"].startswith("upgrade-sql-schema-") and len(pre["name"]) == len("upgrade-sql-schema-") + 10
    )
    assert (pre["status"], pre.get("deleted")) == ("Succeeded", True)  # HookSucceeded
    assert (post["name"], post["status"], post.get("deleted")) == ("smoke-test", "Succeeded", None)
    assert "hooks: 2 Succeeded" in entry["summary"]
    # one server-side dry-run per object and hook (2 + 3), all before PreSync, none again after it
    assert entry["requests"].get("dry-run") == 5, entry["requests"]

    # PreSync ran before the Sync phase, PostSync after the Deployment was Healthy; the PreSync
    # Job was deleted at the end of the operation, after the PostSync Job was created
    wait_for(lambda: job(namespace, pre["name"]) is None, "the PreSync Job deleted")
    writes = audit_writes(namespace, "jobs")
    assert writes.index(("delete", pre["name"])) > writes.index(("patch", "smoke-test"))
    assert writes.index(("patch", pre["name"])) < writes.index(("patch", "smoke-test"))
    smoke = job(namespace, "smoke-test")
    assert smoke and any(c["type"] == "Complete" for c in smoke["status"]["conditions"])
    deployment = kube.cluster().get("apps/v1", "Deployment", namespace, "guestbook-ui")
    assert deployment["status"].get("availableReplicas") == 1
    assert smoke["metadata"]["creationTimestamp"] >= deployment["metadata"]["creationTimestamp"]
    assert "gitops.dev/app" not in smoke["metadata"]["labels"]  # a hook is not owned

    # not in the inventory, and no drift from hooks
    owned = {e["name"] for e in store.inventory(app, store.get_app(app).status)}
    assert owned == {"guestbook-config", "guestbook-ui"}
    sweep(app)
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and not (status.get("drift") or {}).get("ids")

    # a second sync runs the BeforeHookCreation hook again (a new Job), and a new PreSync name
    first_uid = smoke["metadata"]["uid"]
    files = example_files("pre-post-sync")
    files["app/guestbook-ui.yaml"] = files["app/guestbook-ui.yaml"].replace("greeting: hello", "greeting: hi")
    push(stack, secret, repo, "change the greeting", files)
    second = wait_history(app, 2, TIMEOUT)
    assert second["phase"] == "Succeeded", second["summary"]
    assert by_phase(second)["PreSync"][0]["name"] != pre["name"]
    # the changed ConfigMap's dry-run made before PreSync is still valid after it (the hook did
    # not touch it, same resourceVersion): not made again
    assert second["requests"].get("dry-run") == 5, second["requests"]
    again = job(namespace, "smoke-test")
    assert again and again["metadata"]["uid"] != first_uid

    code, out = run_cli("app", "history", app)
    assert code == 0 and "hooks: 2 Succeeded" in out
    code, out = run_cli("app", "get", app)
    assert code == 0 and "smoke-test  PostSync  Succeeded" in out


def test_a_failed_presync_hook_stops_the_sync_and_runs_sync_fail(stack, secret, uid, repo, namespace):
    app = f"hookfail-{uid}"
    create_app(app, repo, namespace)
    files = example_files("pre-post-sync")
    files["app/upgrade-sql-schema.yaml"] = files["app/upgrade-sql-schema.yaml"].replace(
        "migrate:1.0", "migrate:1.0-fail"
    )
    push(stack, secret, repo, "a migration that fails", files)
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Failed"
    hooks = by_phase(entry)
    assert hooks["PreSync"][0]["status"] == "Failed"
    assert not hooks["PreSync"][0].get("deleted")  # HookSucceeded only: the failed Job is kept
    assert job(namespace, hooks["PreSync"][0]["name"]) is not None
    assert [h["status"] for h in hooks["PostSync"]] == ["Skipped"]
    # HookSucceeded acts only when the whole operation succeeded (gitops-engine): kept
    assert [(h["name"], h["status"], h.get("deleted")) for h in hooks["SyncFail"]] == [
        ("sync-fail-cleanup", "Succeeded", None)
    ]
    assert job(namespace, "sync-fail-cleanup") is not None
    # nothing of the application was applied
    assert {r["action"] for r in entry["resources"]} == {"skipped"}
    assert kube.cluster().get("apps/v1", "Deployment", namespace, "guestbook-ui") is None
    assert "PreSync Job/upgrade-sql-schema-" in entry["summary"]


def test_helm_hooks_are_mapped_as_argo_cd_maps_them(stack, secret, uid, repo, namespace):
    app = f"helmhooks-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "helm-hooks", example_files("helm-hooks"))
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    release = app
    assert [(h["phase"], h["name"], h["status"], h.get("deleted")) for h in entry["hooks"]] == [
        ("PreSync", f"{release}-backup", "Succeeded", True),  # weight 0, then
        ("PreSync", f"{release}-migrate", "Succeeded", True),  # weight 1; hook-succeeded
        ("PostSync", f"{release}-notify", "Succeeded", None),
    ]
    assert job(namespace, f"{release}-notify") is not None
    # the test hook is never applied, and no hook is owned
    assert kube.cluster().get("v1", "Pod", namespace, f"{release}-test") is None
    assert {e["name"] for e in store.inventory(app, store.get_app(app).status)} == {f"{release}-web"}


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
"""


def hook_job(name: str, phase: str, restart: str = "Never") -> str:
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations: {{argocd.argoproj.io/hook: {phase}}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: {restart}
      containers: [{{name: run, image: registry.example/task:1}}]
"""


def test_a_hook_the_api_server_refuses_fails_the_sync_before_anything_runs(
    stack, secret, uid, repo, namespace
):
    app = f"hookdry-{uid}"
    create_app(app, repo, namespace)
    files = {
        "app/web.yaml": DEPLOYMENT,
        "app/pre.yaml": hook_job("pre", "PreSync"),
        "app/post.yaml": hook_job("post", "PostSync", restart="Always"),  # a Job may not: 422
        "app/fail.yaml": hook_job("on-fail", "SyncFail"),
    }
    push(stack, secret, repo, "a PostSync Job the API server refuses", files)
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Failed"
    refused = [r for r in entry["resources"] if r["action"] == "failed"]
    assert [(r["kind"], r["name"]) for r in refused] == [("Job", "post")], refused
    assert "restartPolicy" in refused[0]["message"] and refused[0]["message"].startswith("hook ")
    assert {h["status"] for h in entry["hooks"]} == {"Skipped"}  # SyncFail neither, as in Argo CD
    # nothing written: no hook ran, no object applied
    assert audit_writes(namespace, "jobs") == []
    assert kube.cluster().get("apps/v1", "Deployment", namespace, "web") is None


def test_hook_pods_run_on_the_simulated_nodes(stack, secret, uid, repo, namespace):
    app = f"hookpods-{uid}"
    create_app(app, repo, namespace)

    def pod(meta: str, phase: str, policy: str) -> str:
        return f"""\
apiVersion: v1
kind: Pod
metadata:
  {meta}
  annotations: {{argocd.argoproj.io/hook: {phase}, argocd.argoproj.io/hook-delete-policy: {policy}}}
spec:
  restartPolicy: Never
  containers: [{{name: run, image: registry.example/check:1}}]
"""

    files = {
        "app/web.yaml": DEPLOYMENT,
        "app/pre.yaml": pod("generateName: db-check-", "PreSync", "HookSucceeded"),
        "app/post.yaml": pod("name: smoke", "PostSync", "BeforeHookCreation"),
    }
    push(stack, secret, repo, "hook pods", files)
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    assert [(h["kind"], h["phase"], h["status"]) for h in entry["hooks"]] == [
        ("Pod", "PreSync", "Succeeded"),
        ("Pod", "PostSync", "Succeeded"),
    ]
    assert entry["hooks"][0]["deleted"] is True and entry["hooks"][0]["name"].startswith("db-check-")
    smoke = kube.cluster().get("v1", "Pod", namespace, "smoke")
    assert smoke and smoke["status"]["phase"] == "Succeeded"
    assert smoke["spec"].get("nodeName"), "bound by the scheduler to a simulated node"
    assert {e["name"] for e in store.inventory(app, store.get_app(app).status)} == {"web"}


# Helm 2 charts' output as teams committed it (Helm 3's `helm template` drops a crd-install
# template itself, "skipping unknown hook", as it does under Argo CD; its charts keep CRDs in crds/)
CRD_CHART = {
    "app/crd.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
  annotations: {{helm.sh/hook: crd-install}}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
""",
    "app/widget.yaml": """\
apiVersion: {group}/v1
kind: Widget
metadata: {{name: first}}
spec: {{size: 3}}
""",
}


def test_a_helm_crd_install_object_is_applied_as_a_crd_before_its_resources(
    stack, secret, uid, repo, namespace
):
    app = f"crdinstall-{uid}"
    group = f"w{uid}.example.com"
    create_app(app, repo, namespace)
    push(
        stack,
        secret,
        repo,
        "a chart with a crd-install CRD",
        {k: v.format(group=group) for k, v in CRD_CHART.items()},
    )
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    assert not entry.get("hooks")  # not a hook
    crd = kube.cluster().get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", f"widgets.{group}")
    assert crd and any(
        c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"]
    )
    widget = kube.cluster().get(f"{group}/v1", "Widget", namespace, "first")
    assert widget and widget["spec"] == {"size": 3}
    owned = {(e["kind"], e["name"]) for e in store.inventory(app, store.get_app(app).status)}
    assert owned == {("CustomResourceDefinition", f"widgets.{group}"), ("Widget", "first")}


def test_deletion_hooks_run_on_a_cascading_app_delete(stack, secret, uid, repo, namespace):
    app = f"hookdel-{uid}"
    create_app(app, repo, namespace)
    pre = hook_job("pre-delete", "PreDelete").replace(
        "hook: PreDelete}", "hook: PreDelete, argocd.argoproj.io/hook-delete-policy: HookSucceeded}"
    )
    files = {
        "app/web.yaml": DEPLOYMENT,
        "app/pre.yaml": pre,
        "app/post.yaml": hook_job("post-delete", "PostDelete"),
    }
    push(stack, secret, repo, "deletion hooks", files)
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded" and not entry.get("hooks"), entry  # not run on sync
    assert job(namespace, "pre-delete") is None and job(namespace, "post-delete") is None

    code, _ = run_cli("app", "delete", app, "--cascade")
    assert code == 0
    assert kube.cluster().get("apps/v1", "Deployment", namespace, "web") is None
    post = job(namespace, "post-delete")  # BeforeHookCreation (the default): kept
    assert post and any(c["type"] == "Complete" for c in post["status"]["conditions"])
    wait_for(lambda: job(namespace, "pre-delete") is None, "the PreDelete Job deleted (HookSucceeded)")
    writes = audit_writes(namespace, "jobs")
    deployment_writes = audit_writes(namespace, "deployments")
    assert ("delete", "web") in deployment_writes
    assert writes.index(("patch", "pre-delete")) < writes.index(("patch", "post-delete"))
    assert not [a for a in store.list_apps() if a.name == app]


def test_a_failed_pre_delete_hook_keeps_the_application_and_its_objects(stack, secret, uid, repo, namespace):
    app = f"hookdelfail-{uid}"
    create_app(app, repo, namespace)
    pre = hook_job("pre-delete", "PreDelete").replace("task:1", "task:1-fail")
    push(stack, secret, repo, "a failing PreDelete", {"app/web.yaml": DEPLOYMENT, "app/pre.yaml": pre})
    assert wait_history(app, 1, TIMEOUT)["phase"] == "Succeeded"
    code, _, err = run_cli_capturing("app", "delete", app, "--cascade")
    assert code != 0 and "a PreDelete hook failed, nothing was deleted" in err, err
    assert kube.cluster().get("apps/v1", "Deployment", namespace, "web") is not None
    assert store.get_app(app).spec.name == app  # kept, as Argo CD keeps it
