"""Drift, self-heal, pins and rollbacks through the served functions (issue: drift audit)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from stack import oidc
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl,
    kubectl_json,
    run_cli,
    sweep,
    wait_for,
    wait_history,
    webhook,
    with_policy,
)

pytestmark = pytest.mark.integration


def push(stack, secret, repo, files, message="change", before=github.ZERO_SHA):
    sha = repo.commit_and_push(message, files)
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", before, sha, message))
    return sha


def drift_records(app):
    return list(store.drift_records(app))


def image(namespace, name="web"):
    return kubectl_json("get", "deployment", name, "-n", namespace)["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]


def changed_line(diff, sign, text):
    return any(line.startswith(sign) and text in line for line in diff.splitlines())


def test_custom_resource_audits_clean_and_scale_names_its_writer(stack, secret, uid, repo, namespace):
    group = f"d{uid}.example.com"
    kubectl("apply", "-f", "-", input_text=manifests.crd(group, "Gadget", "gadgets"))
    wait_for(
        lambda: (
            "Established"
            in kubectl("get", "crd", f"gadgets.{group}", "-o", "jsonpath={.status.conditions[*].type}")
        ),
        "CRD",
    )
    app = f"cr-{uid}"
    create_app(app, repo, namespace, self_heal=False)
    gadget = f"apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g}}\nspec: {{size: 1}}\n"
    push(
        stack, secret, repo, {"app/gadget.yaml": gadget, "app/deploy.yaml": manifests.deployment(replicas=1)}
    )
    wait_history(app, 1)
    sweep(app)
    assert store.get_app(app).status["sync"]["status"] == "Synced"  # defaults are not drift
    kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=3")
    sweep(app)
    (obj,) = drift_records(app)[-1]["objects"]
    assert obj["fields"][0]["path"] == "spec.replicas"
    assert "kubectl" in obj["writtenBy"] and "scale" in obj["writtenBy"]
    kubectl("delete", "crd", f"gadgets.{group}", "--wait=false")


def test_heal_loop_guard_stops_after_the_limit(stack, secret, uid, repo, namespace):
    app = f"loop-{uid}"
    create_app(app, repo, namespace)
    with_policy(app, syncOptions=("SelfHealLimit=2",))
    push(stack, secret, repo, {"app/cm.yaml": manifests.configmap()})
    wait_history(app, 1)
    for heal in (2, 3):
        kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"hpa"}}')
        sweep(app)
        wait_history(app, heal)
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"hpa"}}')
    sweep(app)
    record = drift_records(app)[-1]
    assert record["action"].startswith("self-heal stopped")
    assert "data.greeting" in record["action"]
    assert history_count(app) == 3


def test_rollback_pins_against_auto_sync_until_unpinned(stack, secret, uid, repo, namespace):
    app = f"pin-{uid}"
    create_app(app, repo, namespace)
    first = push(stack, secret, repo, {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    wait_history(app, 1)
    second = push(
        stack, secret, repo, {"app/deploy.yaml": manifests.deployment(image="nginx:2")}, before=first
    )
    wait_history(app, 2)
    assert main.main(["app", "rollback", app, "1", "--wait", "--timeout", "30"]) == 0
    pin = store.get_app(app).status["pin"]
    assert pin["commit"] == first and pin["by"] == oidc.ADMIN  # who the API verified
    third = push(
        stack, secret, repo, {"app/deploy.yaml": manifests.deployment(image="nginx:3")}, before=second
    )
    wait_for(lambda: store.get_app(app).status["render"]["commit"] == third, "the pinned render")
    sweep(app)  # neither the push nor the sweep may move a pinned application
    assert image(namespace) == "nginx:1" and history_count(app) == 3
    _, out = run_cli("-o", "json", "app", "get", app)
    assert json.loads(out)["status"]["pin"]["commit"] == first
    assert main.main(["app", "unpin", app, "--wait", "--timeout", "30"]) == 0
    assert image(namespace) == "nginx:3"
    assert store.get_app(app).status.get("pin") is None


def test_automated_rollback_after_a_degraded_sync(stack, secret, uid, repo, namespace):
    app = f"auto-{uid}"
    create_app(app, repo, namespace)
    with_policy(app, syncOptions=("AutoRollback=true",))
    good = push(stack, secret, repo, {"app/deploy.yaml": manifests.deployment(image="nginx:good")})
    wait_history(app, 1)
    wait_for(
        lambda: (
            kubectl_json("get", "deployment", "web", "-n", namespace)
            .get("status", {})
            .get("observedGeneration")
        ),
        "the controller",
    )
    sweep(app)
    assert store.get_app(app).status["lastHealthy"]["commit"] == good
    # its pod crash-loops on the simulated nodes (the `crashloop` image), never Ready
    bad = manifests.deployment(image="nginx:bad-crashloop", replicas=1).replace(
        "progressDeadlineSeconds: 600", "progressDeadlineSeconds: 1"
    )
    push(stack, secret, repo, {"app/deploy.yaml": bad}, before=good)
    wait_history(app, 2)
    wait_for(
        lambda: (
            "ProgressDeadlineExceeded"
            in json.dumps(kubectl_json("get", "deployment", "web", "-n", namespace).get("status"))
        ),
        "Degraded",
        60,
    )
    sweep(app)
    entry = wait_history(app, 3)
    assert entry["initiator"] == "rollback" and entry["commit"] == good
    assert entry["triggeredBy"].startswith("auto-rollback: automated rollback")
    assert image(namespace) == "nginx:good"
    assert store.get_app(app).status["pin"]["by"] == "auto-rollback"


def test_ignore_differences_by_pointer_and_by_manager(stack, secret, uid, repo, namespace):
    app = f"ignore-{uid}"
    create_app(app, repo, namespace, self_heal=False)
    store.put_app(
        dataclasses.replace(
            store.get_app(app).spec,
            ignoreDifferences=(
                {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
                {"group": "", "kind": "ConfigMap", "managedFieldsManagers": ["kubectl-patch"]},
            ),
        )
    )
    push(
        stack, secret, repo, {"app/deploy.yaml": manifests.deployment(), "app/cm.yaml": manifests.configmap()}
    )
    wait_history(app, 1)
    kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=4")
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"hpa"}}')
    sweep(app)
    assert store.get_app(app).status["sync"]["status"] == "Synced"
    kubectl("set", "image", "deployment/web", "-n", namespace, "nginx=nginx:other")
    sweep(app)
    (obj,) = drift_records(app)[-1]["objects"]
    assert [f["path"] for f in obj["fields"]] == ["spec.template.spec.containers[name=nginx].image"]


def test_sweep_catches_a_push_whose_webhook_never_came(stack, secret, uid, repo, namespace):
    app = f"missed-{uid}"
    create_app(app, repo, namespace)
    first = push(stack, secret, repo, {"app/cm.yaml": manifests.configmap()})
    wait_history(app, 1)
    silent = repo.commit_and_push("no webhook", {"app/cm.yaml": manifests.configmap(greeting="later")})
    sweep(app)
    entry = wait_history(app, 2)
    assert (entry["commit"], entry["initiator"]) == (silent, "sweep")
    assert first != silent


def test_history_retention_drops_the_oldest_entries_and_their_manifests(stack, secret, uid, repo, namespace):
    app = f"keep2-{uid}"
    create_app(app, repo, namespace)
    store.put_app(dataclasses.replace(store.get_app(app).spec, revisionHistoryLimit=2))
    before, revisions = github.ZERO_SHA, []
    for n in range(3):
        before = push(
            stack, secret, repo, {"app/cm.yaml": manifests.configmap(greeting=f"v{n}")}, before=before
        )
        revisions.append(wait_history(app, n + 1)["revision"])
    # trimming follows the history write: wait for it
    wait_for(lambda: [e["sequence"] for e in store.history(app)] == [2, 3], "the trim")
    with pytest.raises(store.NotFound):
        store.get_revision(app, revisions[0])
    store.get_revision(app, revisions[1])


def test_diff_cli_shows_live_vs_desired_and_revision_vs_revision(stack, secret, uid, repo, namespace):
    app = f"diff-{uid}"
    create_app(app, repo, namespace, self_heal=False)
    first = push(
        stack,
        secret,
        repo,
        {
            "app/deploy.yaml": manifests.deployment(image="nginx:1"),
            "app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: "
            "{name: s}\ndata: {token: c2VjcmV0LXZhbHVl}\n",
        },
    )
    wait_history(app, 1)
    assert run_cli("app", "diff", app)[0] == 0
    kubectl("set", "image", "deployment/web", "-n", namespace, "nginx=nginx:hand")
    kubectl("patch", "secret", "s", "-n", namespace, "-p", '{"data":{"token":"b3RoZXI="}}')
    code, out = run_cli("app", "diff", app)
    assert code == 1
    assert changed_line(out, "-", "image: nginx:hand") and changed_line(out, "+", "image: nginx:1")
    assert "c2VjcmV0LXZhbHVl" not in out and "b3RoZXI=" not in out and "token: '***" in out
    code, out = run_cli("-o", "json", "app", "diff", app)
    assert {d["object"] for d in json.loads(out)} == {
        f"Deployment.apps/{namespace}/web",
        f"Secret/{namespace}/s",
    }
    push(stack, secret, repo, {"app/deploy.yaml": manifests.deployment(image="nginx:2")}, before=first)
    wait_history(app, 2)
    code, out = run_cli("app", "diff", app, "--revisions", "1", "2")
    assert code == 1
    assert changed_line(out, "-", "image: nginx:1") and changed_line(out, "+", "image: nginx:2")


def test_a_batch_of_audits_shares_its_lists_and_finds_each_apps_drift(stack, secret, uid, repo, namespace):
    """A sweep's batch (shared/steps/audit.py audit_all): two applications in one namespace
    cost one list of their ConfigMaps; the hand edit of one is drift of that one only."""
    from shared.adapters import kube
    from shared.core.messages import AuditBatch, AuditRequest
    from shared.steps import audit

    apps = [f"ba-{uid}", f"bb-{uid}"]
    for app, path in zip(apps, ("a", "b"), strict=True):
        create_app(app, repo, namespace, self_heal=False, path=path)
    push(
        stack,
        secret,
        repo,
        {
            "a/cm.yaml": manifests.configmap("cm-a"),
            "a/cm2.yaml": manifests.configmap("cm-a2"),
            "b/cm.yaml": manifests.configmap("cm-b"),
        },
    )
    for app in apps:
        assert wait_history(app, 1)["phase"] == "Succeeded"
    kubectl("patch", "configmap", "cm-b", "-n", namespace, "-p", '{"data":{"greeting":"by hand"}}')
    cluster = kube.cluster()
    wait_for(  # the audit reads the API server's watch cache, which may trail a write by moments
        lambda: any(
            (i.get("data") or {}).get("greeting") == "by hand"
            for i in cluster.list("v1", "ConfigMap", namespace, cached=True)
        ),
        "the hand edit in the watch cache",
    )
    audits = kube.for_project("in-cluster", "default")  # the audit's own client: the project's account
    before = audits.request_counts().get("list", 0)
    done = audit.audit_all(AuditBatch(tuple(AuditRequest(a, f"batch-{uid}:{a}") for a in apps), "batch"))
    assert audits.request_counts().get("list", 0) - before == 1
    assert [[str(d.id) for d in o.drifted] for o in done.outcomes] == [[], [f"ConfigMap/{namespace}/cm-b"]]
    assert done.retries == []
    assert store.get_app(apps[1]).status["drift"]["objects"] == 1
    assert store.get_app(apps[0]).status.get("drift") is None
