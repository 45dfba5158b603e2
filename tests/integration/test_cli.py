"""The CLI against the local stack: Argo CD manifests as they are, projects, delete --cascade."""

from __future__ import annotations

import json
import threading

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    kubectl,
    kubectl_json,
    push,
    run_cli_capturing,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def test_argo_cd_application_manifest_creates_a_working_application(
    stack, secret, uid, repo, namespace, tmp_path
):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook-{uid}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {repo.url}
    targetRevision: HEAD
    path: guestbook
    plugin:
      name: cmp-guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
""")
    # a plugin source is refused by name (#19: it would otherwise render silently to nothing)
    code, out, err = run_cli_capturing("app", "create", "-f", str(manifest))
    assert code != 0 and "cmp-guestbook" in err
    manifest.write_text(manifest.read_text().replace("    plugin:\n      name: cmp-guestbook\n", ""))
    code, out, err = run_cli_capturing("app", "create", "-f", str(manifest))
    assert code == 0, err
    sha = repo.commit_and_push("guestbook", {"guestbook/cm.yaml": manifests.configmap("guestbook")})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert wait_history(f"guestbook-{uid}", 1)["phase"] == "Succeeded"
    kubectl("get", "configmap", "guestbook", "-n", namespace)
    code, out, _ = run_cli_capturing("-o", "json", "app", "list")
    assert code == 0 and f"guestbook-{uid}" in {a["name"] for a in json.loads(out)}


def test_app_project_manifest_and_delete_cascade(stack, secret, uid, repo, namespace, tmp_path):
    project = tmp_path / "project.yaml"
    project.write_text(f"""\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {{name: team-{uid}, namespace: argocd}}
spec:
  sourceRepos: ['{repo.url}']
  destinations: [{{namespace: '{namespace}', server: https://kubernetes.default.svc}}]
""")
    assert run_cli_capturing("project", "create", "-f", str(project))[0] == 0
    code, out, _ = run_cli_capturing("-o", "json", "project", "get", f"team-{uid}")
    assert json.loads(out)["destinations"] == [{"cluster": "in-cluster", "namespace": namespace}]
    assert f"team-{uid}" in run_cli_capturing("project", "list")[1]
    app = f"cascade-{uid}"
    assert (
        run_cli_capturing(
            "app",
            "create",
            app,
            "--repo",
            repo.url,
            "--path",
            "app",
            "--revision",
            "main",
            "--dest-namespace",
            namespace,
            "--sync-policy",
            "automated",
            "--project",
            f"team-{uid}",
        )[0]
        == 0
    )
    kept = manifests.configmap("kept").replace(
        "metadata:\n", "metadata:\n  annotations: {argocd.argoproj.io/sync-options: Delete=false}\n"
    )
    sha = repo.commit_and_push("two", {"app/a.yaml": manifests.configmap("gone"), "app/b.yaml": kept})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert wait_history(app, 1)["phase"] == "Succeeded"
    code, out, _ = run_cli_capturing("-o", "json", "app", "delete", app, "--cascade")
    assert code == 0
    actions = {o["name"]: o["action"] for o in json.loads(out)["objects"]}
    assert actions == {"gone": "pruned", "kept": "skipped"}
    assert "gone" not in kubectl("get", "configmap", "-n", namespace)
    assert kubectl_json("get", "configmap", "kept", "-n", namespace)
    with pytest.raises(store.NotFound):
        store.get_app(app)
    code, _, err = run_cli_capturing("app", "get", app)
    assert code == 1 and "not found" in err


def test_delete_waits_for_the_operation_in_flight(stack, secret, uid, repo, namespace):
    """A deletion takes the application's lease: a sync still applying cannot re-create what
    the deletion removed (the app of apps' prune of a child raced its sync this way)."""
    app = f"inflight-{uid}"
    create_app(app, repo, namespace, path="inflight")
    push(stack, secret, repo, "one", {"inflight/a.yaml": manifests.configmap("inflight")})
    assert wait_history(app, 1)["phase"] == "Succeeded"
    holder = "an-apply-in-flight"
    assert not store.begin_operation(app, "op-in-flight", holder).duplicate
    done: list[tuple[int, str, str]] = []
    deleting = threading.Thread(
        target=lambda: done.append(run_cli_capturing("app", "delete", app, "--cascade"))
    )
    deleting.start()
    deleting.join(timeout=3)
    assert deleting.is_alive(), done  # waiting for the lease
    assert store.get_app(app) and kubectl_json("get", "configmap", "inflight", "-n", namespace)
    store.release_lease(app, holder)
    deleting.join(timeout=60)
    assert done and done[0][0] == 0, done
    assert "waiting for the operation in flight" in done[0][2]
    assert "inflight" not in kubectl("get", "configmap", "-n", namespace)
    with pytest.raises(store.NotFound):
        store.get_app(app)


def test_usage_errors_exit_2_and_errors_1(stack):
    with pytest.raises(SystemExit) as exc:
        main.main(["app", "frobnicate"])
    assert exc.value.code == 2
    code, _, err = run_cli_capturing("app", "create", "only-a-name")
    assert code == 1 and "hint" in err
