"""CLI: app of apps, promotion, set/pin/wait, render PATH, webhook send, repo credentials, outputs."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from shared.adapters import store
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    install_project_rbac,
    kubectl,
    kubectl_json,
    run_cli_capturing,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def child(name, repo_url, path, namespace):
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}}}
spec:
  project: default
  source: {{repoURL: '{repo_url}', targetRevision: main, path: {path}}}
  destination: {{server: 'https://kubernetes.default.svc', namespace: {namespace}}}
  syncPolicy: {{automated: {{prune: true}}}}
"""


def test_app_of_apps_registers_syncs_and_prunes_children(stack, secret, uid, repo, namespace):
    names = [f"child-{c}-{uid}" for c in "abc"]
    files = {f"apps/{n}.yaml": child(n, repo.url, f"children/{n}", namespace) for n in names}
    files.update({f"children/{n}/cm.yaml": manifests.configmap(f"cm-{n}") for n in names})
    parent = f"parent-{uid}"
    assert (
        run_cli_capturing(
            "app",
            "create",
            parent,
            "--repo",
            repo.url,
            "--path",
            "apps",
            "--revision",
            "main",
            "--dest-namespace",
            namespace,
            "--sync-policy",
            "automated",
            "--auto-prune",
        )[0]
        == 0
    )
    sha = repo.commit_and_push("children", files)
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    entry = wait_history(parent, 1)
    assert {r["name"]: r["action"] for r in entry["resources"]} == {n: "created" for n in names}
    for n in names:
        assert wait_history(n, 1)["phase"] == "Succeeded"
        kubectl("get", "configmap", f"cm-{n}", "-n", namespace)
        assert store.get_app(n).parent == parent
    sha2 = repo.commit_and_push("drop c", {f"apps/{names[2]}.yaml": None})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", sha, sha2))
    entry = wait_history(parent, 2)
    actions = {r["name"]: r["action"] for r in entry["resources"]}
    assert actions[names[2]] == "pruned" and actions[names[0]] == "unchanged"
    with pytest.raises(store.NotFound):
        store.get_app(names[2])
    assert f"cm-{names[2]}" not in kubectl("get", "configmap", "-n", namespace)


def test_promote_moves_prod_to_the_exact_commit_staging_runs(stack, secret, uid, repo):
    kubectl("create", "namespace", f"staging-{uid}")
    kubectl("create", "namespace", f"prod-{uid}")
    for env in ("staging", "prod"):
        assert (
            run_cli_capturing(
                "app",
                "create",
                f"{env}-{uid}",
                "--repo",
                repo.url,
                "--path",
                "app",
                "--revision",
                "main",
                "--dest-namespace",
                f"{env}-{uid}",
                "--sync-policy",
                "automated" if env == "staging" else "manual",
            )[0]
            == 0
        )
    v1 = repo.commit_and_push("v1", {"app/deploy.yaml": manifests.deployment(image="nginx:v1")})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, v1))
    wait_history(f"staging-{uid}", 1)
    code, _, err = run_cli_capturing("app", "promote", f"staging-{uid}", f"prod-{uid}")
    if code != 0:  # staging not yet audited Healthy: wait for it like an operator would
        assert "app wait" in err
        assert run_cli_capturing("sweep", f"staging-{uid}", "--wait")[0] == 0
        assert run_cli_capturing("app", "wait", f"staging-{uid}", "--health", "--timeout", "60")[0] == 0
        assert run_cli_capturing("app", "promote", f"staging-{uid}", f"prod-{uid}")[0] == 0
    entry = store.get_history(f"prod-{uid}", 1)
    assert entry["commit"] == v1 and entry["triggeredBy"].startswith(f"promote from staging-{uid}")
    v2 = repo.commit_and_push("v2", {"app/deploy.yaml": manifests.deployment(image="nginx:v2")})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", v1, v2))
    wait_history(f"staging-{uid}", 2)
    image = kubectl_json("get", "deployment", "web", "-n", f"prod-{uid}")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "nginx:v1" and store.get_app(f"prod-{uid}").spec.targetRevision == v1


def test_set_pin_wait_and_outputs(stack, secret, uid, repo, namespace):
    app = f"set-{uid}"
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
        )[0]
        == 0
    )
    assert (
        run_cli_capturing(
            "app",
            "set",
            app,
            "--sync-policy",
            "automated",
            "--self-heal",
            "--sync-option",
            "CreateNamespace=true",
        )[0]
        == 0
    )
    spec = store.get_app(app).spec
    assert spec.syncPolicy.automated and spec.syncPolicy.selfHeal
    assert spec.syncPolicy.syncOptions == ("CreateNamespace=true",)
    assert run_cli_capturing("app", "set", app, "--path", "../escape")[0] == 1
    sha = repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    wait_history(app, 1)
    assert run_cli_capturing("app", "wait", app, "--timeout", "30")[0] == 0
    code, out, _ = run_cli_capturing("-o", "json", "app", "pin", app, "--reason", "freeze")
    assert code == 0 and json.loads(out)["commit"] == sha
    assert store.get_app(app).status["pin"]["reason"] == "freeze"
    code, out, _ = run_cli_capturing("-o", "yaml", "app", "get", app)
    assert yaml.safe_load(out)["spec"]["path"] == "app"
    code, out, _ = run_cli_capturing("-o", "wide", "app", "list")
    assert "REPO" in out.splitlines()[0] and repo.url in out
    code, out, _ = run_cli_capturing("app", "get", app)
    assert "ConfigMap" in out and "settings" in out and "Pinned:" in out
    for read in (
        ["app", "history", app],
        ["app", "get", app],
        ["app", "list"],
        ["project", "list"],
        ["repo", "list"],
    ):
        code, out, _ = run_cli_capturing("-o", "json", *read)
        assert code == 0 and json.loads(out) is not None


def test_render_path_like_a_linter(tmp_path):
    (tmp_path / "ok.yaml").write_text(manifests.configmap())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    assert run_cli_capturing("render", str(tmp_path))[0] == 0  # subfolders only with recursion
    code, out, _ = run_cli_capturing("render", str(tmp_path), "--directory-recurse")
    assert code == 1 and out.strip() == "sub/bad.yaml:3:1: metadata.name: required"
    code, out, _ = run_cli_capturing("-o", "json", "render", str(tmp_path), "--directory-recurse")
    assert json.loads(out)["objects"] == 1
    (tmp_path / "sub" / "bad.yaml").unlink()
    assert run_cli_capturing("render", str(tmp_path), "--directory-recurse")[0] == 0


def test_webhook_send_and_repo_credentials(stack, secret, uid, repo, namespace, monkeypatch):
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", secret.decode())
    sha = repo.commit_and_push("x", {"app/cm.yaml": manifests.configmap()})
    code, out, _ = run_cli_capturing(
        "-o", "json", "webhook", "send", stack.env["GITOPS_INTAKE_URL"], "--repo", repo.url, "--sha", sha
    )
    assert code == 0 and json.loads(json.loads(out)["answer"])["result"] == "accepted"
    assert (
        run_cli_capturing(
            "webhook",
            "send",
            stack.env["GITOPS_INTAKE_URL"],
            "--repo",
            repo.url,
            "--sha",
            sha,
            "--secret",
            "wrong",
        )[0]
        == 1
    )
    url = f"{stack.env['GITOPS_GIT_URL']}/private/cli-{uid}/"
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-token\n"))
    code, out, _ = run_cli_capturing("repo", "add", url, "--username", "bot", "--password-stdin")
    assert code == 0 and "s3cret-token" not in out
    code, out, _ = run_cli_capturing("-o", "json", "repo", "list")
    assert {"url": url, "username": "bot", "password": "set"} in json.loads(out)
    assert "s3cret-token" not in out
    assert "s3cret-token" in Path(stack.env["GITOPS_REPO_CREDENTIALS_FILE"]).read_text()
    assert oct(Path(stack.env["GITOPS_REPO_CREDENTIALS_FILE"]).stat().st_mode)[-3:] == "600"
    assert run_cli_capturing("repo", "remove", url)[0] == 0
    assert run_cli_capturing("repo", "remove", url)[0] == 1


def test_cluster_registry_project_set_and_sync_dry_run_and_prune(
    stack, secret, uid, repo, namespace, tmp_path
):
    target = f"ctx-alias-{uid}"
    assert run_cli_capturing("cluster", "add", target, "--context", "local")[0] == 0
    with open(stack.env["KUBECONFIG"]) as f:
        config = yaml.safe_load(f)
    import base64

    ca = tmp_path / "ca.pem"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    token = Path(stack.env["GITOPS_CLUSTER_TOKEN_DIR"]) / f"token-{uid}"
    token.write_text(config["users"][0]["user"]["token"])
    assert (
        run_cli_capturing(
            "cluster",
            "add",
            f"url-{uid}",
            "--server",
            config["clusters"][0]["cluster"]["server"],
            "--ca-file",
            str(ca),
            "--token-file",
            str(token),
        )[0]
        == 0
    )
    code, out, _ = run_cli_capturing("-o", "json", "cluster", "list")
    listed = {c["name"]: c for c in json.loads(out)}
    assert listed[target]["context"] == "local" and listed[f"url-{uid}"]["token"] == "file"
    assert config["users"][0]["user"]["token"] not in out
    assert run_cli_capturing("cluster", "add", "broken")[0] == 1
    code, _, _ = run_cli_capturing(
        "project",
        "set",
        f"p-{uid}",
        "--source-repo",
        repo.url,
        "--destination",
        f"{target}/{namespace}",
        "--allow-cluster-kind",
        "/Namespace",
    )
    assert code == 0
    assert store.get_project(f"p-{uid}")["destinations"] == [{"cluster": target, "namespace": namespace}]
    install_project_rbac(f"p-{uid}", target)
    app = f"via-{uid}"
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
            "--dest-cluster",
            target,
            "--dest-namespace",
            namespace,
            "--project",
            f"p-{uid}",
        )[0]
        == 0
    )
    repo.commit_and_push(
        "two", {"app/a.yaml": manifests.configmap("a"), "app/b.yaml": manifests.configmap("b")}
    )
    code, out, _ = run_cli_capturing("-o", "json", "app", "sync", app, "--dry-run")
    assert code == 0 and {o["name"]: o["action"] for o in json.loads(out)["objects"]} == {
        "a": "created",
        "b": "created",
    }
    assert "configmap/a\n" not in kubectl("get", "configmap", "-n", namespace, "-o", "name")
    assert run_cli_capturing("app", "sync", app, "--wait", "--timeout", "30")[0] == 0
    repo.commit_and_push("one", {"app/b.yaml": None})
    code, out, _ = run_cli_capturing("-o", "json", "app", "sync", app, "--dry-run")
    assert {o["name"]: o["action"] for o in json.loads(out)["objects"]} == {"a": "unchanged", "b": "skipped"}
    assert run_cli_capturing("app", "sync", app, "--prune", "--wait", "--timeout", "30")[0] == 0
    assert {r["name"]: r["action"] for r in store.get_history(app, 2)["resources"]} == {
        "a": "unchanged",
        "b": "pruned",
    }
    assert run_cli_capturing("cluster", "remove", f"url-{uid}")[0] == 0


def test_sync_wait_health_reports_progress_until_healthy(stack, uid, repo, namespace):
    app = f"healthy-{uid}"
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
        )[0]
        == 0
    )
    repo.commit_and_push("idle", {"app/deploy.yaml": manifests.deployment(replicas=0)})
    code, out, err = run_cli_capturing(
        "-o", "json", "app", "sync", app, "--wait", "--health", "--timeout", "60"
    )
    assert code == 0, err
    assert json.loads(out)["health"]["status"] == "Healthy"
    assert "sync 1 of" in err and "health: Healthy" in err  # progress lines on stderr
