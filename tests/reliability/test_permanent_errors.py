"""A permanent Firestore error ends the operation Failed once: never retried forever.

The apply function runs with its document bound lowered below the size of an inventory part
(GITOPS_FIRESTORE_MAX_BYTES), so recording a 500-object sync is refused after every object
was applied: the issue's case (a record over Firestore's limit), made to happen on purpose.
"""

from __future__ import annotations

import time

import pytest

from shared.adapters import store
from shared.core import topology
from stack import local
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    function_log,
    history_count,
    kubectl_json,
    push,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.fault


def configmaps(count: int) -> str:
    return "---\n".join(manifests.configmap(f"cm-{i:03d}") for i in range(count))


def owned(namespace: str, app: str) -> set[str]:
    items = kubectl_json("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}")["items"]
    return {i["metadata"]["name"] for i in items}


@pytest.fixture
def small_documents(stack):
    """The apply function refusing documents over 32 KiB (an inventory part of 500 objects
    is about 120 KiB; the application document and a history entry are a few KiB)."""
    local.restart(stack, "apply", kill=True, env={"GITOPS_FIRESTORE_MAX_BYTES": "32768"})
    yield
    local.restart(stack, "apply", kill=True, env={"GITOPS_FIRESTORE_MAX_BYTES": ""})


def test_a_refused_record_ends_the_sync_failed_once_and_the_next_sync_starts_from_the_truth(
    stack, secret, uid, repo, namespace, observe, small_documents
):
    app = f"refused-{uid}"
    events = observe(topology.NOTIFICATIONS)
    create_app(app, repo, namespace)
    push(stack, secret, repo, "500", {"app/cms.yaml": configmaps(500)})
    entry = wait_history(app, 1, timeout=120)
    assert entry["phase"] == "Failed"
    assert "the sync's record was refused" in entry["summary"]
    assert "document limit" in entry["error"] and "inventory" in entry["error"]
    assert entry["counts"] == {"created": 500, "failed": 1}  # what was applied, as applied
    status = store.get_app(app).status
    assert status["operation"]["phase"] == "Failed" and status["sync"]["status"] != "Synced"
    assert status["inventory"]["unrecorded"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": namespace}
    ]
    assert len(owned(namespace, app)) == 500
    # one notification, the message acknowledged: no redelivery, no second attempt
    sent = [e for e in events.drain(settle=3) if e.get("app") == app]
    assert [(e["type"], e["phase"]) for e in sent] == [("sync", "Failed")]
    log = function_log(stack, "apply")
    assert log.count(f'"app":"{app}"') == 3  # the refusal, the summary, handled
    time.sleep(3)
    assert function_log(stack, "apply").count(f'"app":"{app}"') == 3
    assert history_count(app) == 1

    # with the bound back, the next push starts from the cluster's truth: the 500 objects the
    # refused record never listed are found by their label, and the 250 Git dropped are pruned
    local.restart(stack, "apply", kill=True, env={"GITOPS_FIRESTORE_MAX_BYTES": ""})
    push(stack, secret, repo, "250", {"app/cms.yaml": configmaps(250)})
    entry = wait_history(app, 2, timeout=120)
    assert entry["phase"] == "Succeeded", entry["summary"]
    assert entry["counts"] == {"unchanged": 250, "pruned": 250}
    assert owned(namespace, app) == {f"cm-{i:03d}" for i in range(250)}
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and "unrecorded" not in status["inventory"]
    assert len(store.inventory(app, status)) == 250


@pytest.fixture
def small_render_documents(stack):
    """The render function refusing documents over 32 KiB (a revision of 400 ConfigMaps
    keeps about 60 KiB of YAML inline)."""
    local.restart(stack, "render", kill=True, env={"GITOPS_FIRESTORE_MAX_BYTES": "32768"})
    yield
    local.restart(stack, "render", kill=True, env={"GITOPS_FIRESTORE_MAX_BYTES": ""})


def test_a_refused_revision_is_a_render_error_recorded_once(
    stack, secret, uid, repo, namespace, small_render_documents
):
    app = f"refused-rev-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "400", {"app/cms.yaml": configmaps(400)})

    def render_error():
        return (store.get_app(app).status.get("render") or {}).get("message")

    message = wait_for(render_error, "the render error", 60)
    assert "the rendered revision could not be stored" in message and "document limit" in message
    time.sleep(3)
    handled = [
        line
        for line in function_log(stack, "render").splitlines()
        if '"message":"handled"' in line and f'"app":"{app}"' in line
    ]
    assert len(handled) == 1  # rendered once, acknowledged
    assert history_count(app) == 0 and owned(namespace, app) == set()
