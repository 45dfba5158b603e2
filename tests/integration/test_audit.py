"""The drift audit through the served audit function: no false drift, detection, attribution, heal."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl,
    kubectl_json,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration

ALL_KINDS = {
    "app/deploy.yaml": manifests.deployment(replicas=2),
    "app/svc.yaml": manifests.service(),
    "app/cm.yaml": manifests.configmap(),
    "app/ingress.yaml": manifests.ingress(),
}


def sync(stack, secret, repo, app, files):
    sha = repo.commit_and_push("deploy", files)
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    return wait_history(app, 1)


def sweep(*apps):
    assert main.main(["sweep", *apps, "--wait", "--timeout", "30"]) == 0


def latest_drift(app):
    records = list(store.drift_records(app))
    return records[-1] if records else None


def test_fresh_sync_audits_clean_across_kinds(stack, secret, uid, repo, namespace):
    app = f"clean-{uid}"
    create_app(app, repo, namespace)
    sync(stack, secret, repo, app, ALL_KINDS)
    sweep(app)
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced"
    assert status.get("drift") is None
    assert latest_drift(app) is None


def test_hand_edits_are_found_attributed_and_healed(stack, secret, uid, repo, namespace):
    app = f"heal-{uid}"
    create_app(app, repo, namespace)
    sync(stack, secret, repo, app, ALL_KINDS)
    kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=5")
    kubectl("set", "image", "deployment/web", "-n", namespace, "nginx=nginx:hacked")
    kubectl("delete", "configmap", "settings", "-n", namespace)
    sweep(app)
    record = latest_drift(app)
    by_object = {o["object"]: o for o in record["objects"]}
    deploy = by_object[f"Deployment.apps/{namespace}/web"]
    fields = {f["path"]: f for f in deploy["fields"]}
    assert deploy["drift"] == "modified"
    assert (fields["spec.replicas"]["desired"], fields["spec.replicas"]["live"]) == (2, 5)
    image = fields["spec.template.spec.containers[name=nginx].image"]
    assert (image["desired"], image["live"], image["manager"]) == (
        "nginx:1.25",
        "nginx:hacked",
        "kubectl-set",
    )
    assert by_object[f"ConfigMap/{namespace}/settings"]["drift"] == "missing"
    assert record["action"] == "self-heal requested"
    entry = wait_history(app, 2)
    assert entry["initiator"] == "self-heal"
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert live["spec"]["replicas"] == 2
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    kubectl("get", "configmap", "settings", "-n", namespace)


def test_without_self_heal_drift_is_reported_not_healed(stack, secret, uid, repo, namespace):
    app = f"report-{uid}"
    create_app(app, repo, namespace, self_heal=False)
    sync(stack, secret, repo, app, {"app/cm.yaml": manifests.configmap()})
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"hi"}}')
    sweep(app)
    status = store.get_app(app).status
    assert status["sync"]["status"] == "OutOfSync"
    assert "data.greeting" in status["drift"]["summary"]
    field = latest_drift(app)["objects"][0]["fields"][0]
    assert (field["path"], field["manager"]) == ("data.greeting", "kubectl-patch")
    assert latest_drift(app)["action"] == "reported (self-heal is off)"
    assert history_count(app) == 1
    assert kubectl_json("get", "configmap", "settings", "-n", namespace)["data"]["greeting"] == "hi"
    out = io.StringIO()
    with redirect_stdout(out):
        assert main.main(["app", "get", app]) == 0
    row = next(line for line in out.getvalue().splitlines() if line.startswith("ConfigMap"))
    assert "settings" in row and "OutOfSync" in row  # the resource table marks the drifted object


def test_orphan_with_the_apps_label_is_reported_as_extra(stack, secret, uid, repo, namespace):
    app = f"orphan-{uid}"
    create_app(app, repo, namespace, self_heal=False)
    sync(stack, secret, repo, app, {"app/cm.yaml": manifests.configmap()})
    kubectl("create", "configmap", "stray", "-n", namespace)
    kubectl("label", "configmap", "stray", "-n", namespace, f"gitops.dev/app={app}")
    sweep(app)
    kinds = {o["object"]: o["drift"] for o in latest_drift(app)["objects"]}
    assert kinds == {f"ConfigMap/{namespace}/stray": "extra"}
