"""Render and apply through the served functions: errors, manual sync, idempotency, order, prune."""

from __future__ import annotations

import pytest

from shared.adapters import bus, store
from shared.cli import main
from shared.core import messages, topology
from shared.core.messages import ApplyRequest
from stack import oidc
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    function_log,
    history_count,
    image_of,
    kubectl,
    kubectl_json,
    push,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.integration


def test_first_sync_creates_objects_in_order_and_records_history(stack, secret, uid, repo, namespace):
    app = f"first-{uid}"
    create_app(app, repo, namespace)
    sha = push(
        stack,
        secret,
        repo,
        "deploy",
        {
            "app/deploy.yaml": manifests.deployment(),
            "app/svc.yaml": manifests.service(),
            "app/config/cm.yaml": manifests.configmap(),
        },
    )
    entry = wait_history(app, 1)
    assert entry["commit"] == sha and entry["initiator"] == "webhook"
    assert entry["phase"] == "Succeeded"
    assert [(r["kind"], r["action"]) for r in entry["resources"]] == [
        ("ConfigMap", "created"),
        ("Service", "created"),
        ("Deployment", "created"),
    ]
    cm = kubectl_json("get", "configmap", "settings", "-n", namespace)
    assert cm["metadata"]["labels"]["gitops.dev/app"] == app
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and status["sync"]["commit"] == sha
    # the inventory is kept in parts; the status points at them (issue 23: it was inline)
    assert status["inventory"]["count"] == 3 and len(store.inventory(app, status)) == 3


def test_render_error_is_recorded_and_nothing_is_applied(stack, secret, uid, repo, namespace):
    app = f"bad-{uid}"
    create_app(app, repo, namespace)
    good = push(stack, secret, repo, "good", {"app/deploy.yaml": manifests.deployment()})
    wait_history(app, 1)
    broken = manifests.deployment(image="nginx:2").replace("  replicas: 0", "   replicas: 0")
    bad = push(
        stack,
        secret,
        repo,
        "broken",
        {"app/deploy.yaml": broken, "app/cm.yaml": manifests.configmap()},
        before=good,
    )
    render = wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == bad and r, "render error"
    )
    assert render["errors"][0]["file"] == "app/deploy.yaml"
    # replicas is indented one space too far (line 7); the parser stops at the next key (line 8)
    assert render["errors"][0]["line"] == 8
    assert "app/deploy.yaml:8:" in render["message"]
    assert history_count(app) == 1
    assert image_of(namespace) == "nginx:1.25"  # the last good revision keeps running
    assert "settings" not in kubectl("get", "configmap", "-n", namespace)  # nothing half-applied


def test_manual_app_is_rendered_but_applied_only_by_sync(stack, secret, uid, repo, namespace):
    app = f"manual-{uid}"
    create_app(app, repo, namespace, automated=False)
    sha = push(stack, secret, repo, "deploy", {"app/cm.yaml": manifests.configmap()})
    wait_for(lambda: store.get_app(app).status.get("render", {}).get("commit") == sha, "render")
    assert store.get_app(app).status["sync"]["status"] == "OutOfSync"
    assert history_count(app) == 0
    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    entry = store.get_history(app, 1)
    assert (entry["initiator"], entry["commit"]) == ("manual", sha)
    assert entry["triggeredBy"] == oidc.ADMIN  # the verified principal of the token, not a local name


def test_redelivered_apply_does_not_duplicate_history(stack, secret, uid, repo, namespace):
    app = f"redeliver-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "deploy", {"app/cm.yaml": manifests.configmap()})
    entry = wait_history(app, 1)
    again = ApplyRequest(
        app=app,
        revision=entry["revision"],
        initiator="webhook",
        operation=entry["operation"],
        triggered_by="redelivery",
    )
    bus.publish(topology.APPLY, [again, again])
    wait_for(
        lambda: function_log(stack, "apply").count(f'"operation":"{entry["operation"]}"') >= 3,
        "the redeliveries to be handled",
    )
    assert history_count(app) == 1


def test_older_revision_delivered_late_is_skipped(stack, secret, uid, repo, namespace):
    app = f"late-{uid}"
    create_app(app, repo, namespace)
    old = push(stack, secret, repo, "v1", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    first = wait_history(app, 1)
    push(stack, secret, repo, "v2", {"app/deploy.yaml": manifests.deployment(image="nginx:2")}, old)
    wait_history(app, 2)
    late = ApplyRequest(
        app=app, revision=first["revision"], initiator="webhook", operation=f"late-{uid}", triggered_by="late"
    )
    bus.publish(topology.APPLY, [late])
    wait_for(
        lambda: (store.get_app(app).status.get("lastSkipped") or {}).get("operation") == f"late-{uid}",
        "the late revision to be skipped",
    )
    assert history_count(app) == 2
    assert image_of(namespace) == "nginx:2"


def test_a_heal_asked_before_a_newer_sync_does_not_put_the_old_revision_back(
    stack, secret, uid, repo, namespace
):
    """An audit that read the application while a sync of a new revision was applying sees
    that sync's objects as drift and asks to heal them back to the old revision; the apply
    step skips it (the race behind a flaky test of session 6: the cluster went back to v2)."""
    app = f"raced-heal-{uid}"
    create_app(app, repo, namespace)
    old = push(stack, secret, repo, "v1", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    first = wait_history(app, 1)
    push(stack, secret, repo, "v2", {"app/deploy.yaml": manifests.deployment(image="nginx:2")}, old)
    wait_history(app, 2)
    heal = ApplyRequest(
        app=app,
        revision=first["revision"],
        initiator="self-heal",
        operation=f"heal:audit-{uid}",
        triggered_by=f"audit-{uid}",
    )
    bus.publish(topology.APPLY, [heal])
    skipped = wait_for(
        lambda: (
            (store.get_app(app).status.get("lastSkipped") or {}).get("operation") == heal.operation
            and store.get_app(app).status["lastSkipped"]
        ),
        "the raced heal to be skipped",
    )
    assert skipped["reason"] == "skip-superseded", skipped
    assert history_count(app) == 2
    assert image_of(namespace) == "nginx:2"


def test_removed_object_is_pruned_only_with_prune(stack, secret, uid, repo, namespace):
    for prune in (True, False):
        mode = "on" if prune else "off"
        app, cm, path = f"prune-{mode}-{uid}", f"extra-{mode}", f"app-{mode}"
        create_app(app, repo, namespace, prune=prune, path=path)
        first = push(
            stack,
            secret,
            repo,
            "two",
            {
                f"{path}/a.yaml": manifests.configmap(f"keep-{mode}"),
                f"{path}/b.yaml": manifests.configmap(cm),
            },
        )
        wait_history(app, 1)
        push(stack, secret, repo, "one", {f"{path}/b.yaml": None}, before=first)
        entry = wait_history(app, 2)
        actions = {r["name"]: r["action"] for r in entry["resources"]}
        assert actions[cm] == ("pruned" if prune else "skipped")
        present = cm in kubectl("get", "configmap", "-n", namespace)
        assert present is (not prune)


def test_poison_messages_go_to_the_dead_letter_topic_and_the_function_keeps_serving(
    stack, secret, uid, repo, namespace, observe
):
    dead = observe(topology.dead_letter_of(topology.APPLY))
    bus.publish_raw(topology.APPLY, b"this is not json")
    bus.publish_raw(
        topology.APPLY,
        messages.encode(
            ApplyRequest(app=f"nobody-{uid}", revision="r", initiator="webhook", operation=f"poison-{uid}")
        ),
    )
    got = wait_for(lambda: (ms := dead.drain_raw(0.3)) and ms, "dead letters", timeout=15)
    got += dead.drain_raw(1.0)
    reasons = sorted(attrs["reason"] for _, attrs in got)
    assert len(got) == 2
    assert reasons[0].startswith("application 'nobody-")
    assert reasons[1].startswith("message is not JSON")
    assert "poison message sent to the dead-letter topic" in function_log(stack, "apply")
    app = f"after-poison-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "deploy", {"app/cm.yaml": manifests.configmap()})
    assert wait_history(app, 1)["phase"] == "Succeeded"


def test_object_refused_by_the_api_server_means_nothing_is_written(stack, secret, uid, repo, namespace):
    app = f"refused-{uid}"
    create_app(app, repo, namespace)
    # a port out of range: only the API server's validation knows
    bad_port = manifests.service("bad-port").replace("- port: 80", "- port: 70000")
    push(stack, secret, repo, "bad port", {"app/a.yaml": manifests.configmap("fine"), "app/b.yaml": bad_port})
    entry = wait_history(app, 1)
    assert entry["phase"] == "Failed"
    results = {r["name"]: r for r in entry["resources"]}
    assert results["bad-port"]["action"] == "failed"
    assert "70000" in results["bad-port"]["message"]
    assert results["fine"]["action"] == "skipped"
    assert "fine" not in kubectl("get", "configmap", "-n", namespace)
    assert store.get_app(app).status["sync"]["status"] == "OutOfSync"


def test_resync_of_the_same_revision_writes_nothing(stack, secret, uid, repo, namespace):
    app = f"noop-{uid}"
    create_app(app, repo, namespace)
    push(
        stack,
        secret,
        repo,
        "deploy",
        {
            "app/deploy.yaml": manifests.deployment(),
            "app/svc.yaml": manifests.service(),
            "app/cm.yaml": manifests.configmap(),
        },
    )
    wait_history(app, 1)

    def versions():
        items = kubectl_json(
            "get", "deployment,service,configmap", "-n", namespace, "-l", f"gitops.dev/app={app}"
        )["items"]
        return {
            (i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"]
            for i in items
            if i["kind"] != "Deployment"
        }  # the deployment controller writes its status

    before = versions()
    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    entry = store.get_history(app, 2)
    assert {r["action"] for r in entry["resources"]} == {"unchanged"}
    assert versions() == before


SECRET_VALUE = "cGFzc3dvcmQtZm9yLXRlc3Rz"  # base64 of a password


def test_secret_values_reach_the_cluster_but_never_firestore_or_logs(stack, secret, uid, repo, namespace):
    app = f"secret-{uid}"
    create_app(app, repo, namespace)
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
        f"data:\n  password: {SECRET_VALUE}\n"
    )
    first = push(
        stack, secret, repo, "secret", {"app/secret.yaml": manifest, "app/cm.yaml": manifests.configmap()}
    )
    entry = wait_history(app, 1)
    assert entry["phase"] == "Succeeded"
    assert kubectl_json("get", "secret", "db", "-n", namespace)["data"]["password"] == SECRET_VALUE
    revision = store.get_revision(app, entry["revision"])
    assert SECRET_VALUE not in repr(revision) and SECRET_VALUE not in repr(entry)
    # a rollback re-reads the value from Git at that commit
    push(stack, secret, repo, "drop secret", {"app/secret.yaml": None}, before=first)
    wait_history(app, 2)
    assert "db" not in kubectl("get", "secret", "-n", namespace)
    assert main.main(["app", "rollback", app, "1", "--wait", "--timeout", "30"]) == 0
    assert kubectl_json("get", "secret", "db", "-n", namespace)["data"]["password"] == SECRET_VALUE
    for name in ("intake", "render", "apply", "audit"):
        assert SECRET_VALUE not in function_log(stack, name)
    assert SECRET_VALUE not in repr(store.get_app(app).status)


def test_privileged_container_is_blocked_by_the_security_gate(stack, secret, uid, repo, namespace):
    app = f"gate-{uid}"
    create_app(app, repo, namespace)
    good = push(stack, secret, repo, "good", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    wait_history(app, 1)
    privileged = manifests.deployment(image="nginx:2").replace(
        "          resources:", "          securityContext: {privileged: true}\n          resources:"
    )
    bad = push(stack, secret, repo, "privileged", {"app/deploy.yaml": privileged}, before=good)
    render = wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == bad and r,
        "the gate's verdict",
    )
    assert "blocked by the security gate" in render["message"]
    assert "SEC001 privileged" in render["message"] and "app/deploy.yaml:" in render["message"]
    assert render["errors"][0]["field"].endswith("securityContext.privileged")
    assert history_count(app) == 1 and image_of(namespace) == "nginx:1"
