"""Injected faults: crashes, restarts, outages, duplicate and out-of-order deliveries.

Each scenario ends converged: the final objects are the newest revision's, the history has
exactly the entries it should (none lost, none doubled), and the stack is healthy for the
tests after it (a restarted component comes back on its port, as it was).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from shared.adapters import bus, store
from shared.core import topology
from shared.core import webhook as github
from shared.core.messages import ApplyRequest, AuditRequest, RenderRequest, SweepRequest
from stack import local
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    image_of,
    kubectl,
    kubectl_json,
    push,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.fault


def configmaps(count: int, greeting: str = "v1") -> str:
    return "---\n".join(manifests.configmap(f"cm-{i:03d}", greeting) for i in range(count))


def owned(namespace: str, app: str) -> list[str]:
    out = subprocess.run(
        ["kubectl", "get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.split()


def wait_kube(timeout: float = 60) -> None:
    wait_for(
        lambda: (
            subprocess.run(
                ["kubectl", "get", "namespace", "default"], capture_output=True, timeout=10
            ).returncode
            == 0
        ),
        "the API server to answer",
        timeout,
    )


def converged(
    app: str, namespace: str, count: int, entries: int, greeting: str = "v1", timeout: float = 120
) -> dict:
    """The app's last history entry is `entries`, Succeeded, and the cluster has every object."""
    entry = wait_history(app, entries, timeout)
    failed = [r.get("message") for r in entry.get("resources") or [] if r.get("action") == "failed"]
    assert entry["phase"] == "Succeeded", (entry["summary"], failed[:3])
    assert history_count(app) == entries
    assert [e["sequence"] for e in store.history(app)] == list(range(1, entries + 1))
    items = kubectl_json("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}")["items"]
    assert len(items) == count and {i["data"]["greeting"] for i in items} == {greeting}
    assert store.get_app(app).status["sync"]["status"] == "Synced"
    return entry


def first_writes(namespace: str, app: str) -> int:
    return wait_for(lambda: (n := len(owned(namespace, app))) > 0 and n, "the first writes", 60)


@contextlib.contextmanager
def outage(stack, component: str, *, kill: bool = False) -> Iterator[Callable[[], None]]:
    """Stop a component; yields `back()` to start it again (done at the end in any case)."""
    launch = local.stop_component(stack, component, kill=kill)
    started = []

    def back() -> None:
        if not started:
            started.append(local.start_component(stack, launch))

    try:
        yield back
    finally:
        back()


@pytest.fixture
def short_lease(stack):
    """The apply function with a 4-second lease, so a killed holder frees it quickly."""
    local.restart(stack, "apply", kill=True, env={"GITOPS_LEASE_S": "4"})
    yield
    local.restart(stack, "apply", kill=True, env={"GITOPS_LEASE_S": "60"})


def test_apply_function_killed_mid_sync_of_500_objects(stack, secret, uid, repo, namespace, short_lease):
    app = f"kill-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "500", {"app/cms.yaml": configmaps(500)})
    seen = first_writes(namespace, app)
    with outage(stack, "apply", kill=True):
        assert history_count(app) == 0  # the crash wrote no history
    # Pub/Sub redelivers; the dead holder's lease expires; the same operation resumes
    entry = converged(app, namespace, 500, 1)
    assert entry["initiator"] == "webhook" and sum(entry["counts"].values()) == 500
    assert 0 < seen < 500  # the kill came mid-sync: some objects were written, not all


def test_api_server_stopped_mid_sync_and_restarted(stack, secret, uid, repo, namespace):
    app = f"api-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "200", {"app/cms.yaml": configmaps(200)})
    first_writes(namespace, app)
    with outage(stack, "kube-apiserver"):
        time.sleep(2)
    wait_kube()
    converged(app, namespace, 200, 1)


def test_etcd_restarted_keeps_the_objects_and_the_next_sync_works(stack, secret, uid, repo, namespace):
    app = f"etcd-{uid}"
    create_app(app, repo, namespace)
    first = push(stack, secret, repo, "v1", {"app/cms.yaml": configmaps(5)})
    converged(app, namespace, 5, 1)
    local.restart(stack, "etcd")
    wait_kube()
    assert len(owned(namespace, app)) == 5  # etcd kept its data
    push(stack, secret, repo, "v2", {"app/cms.yaml": configmaps(5, "v2")}, first)
    converged(app, namespace, 5, 2, "v2")


def test_pubsub_emulator_restarted_and_a_push_during_the_outage_is_redelivered(
    stack, secret, uid, repo, namespace
):
    app = f"pubsub-{uid}"
    create_app(app, repo, namespace)
    sha = repo.commit_and_push("v1", {"app/cms.yaml": configmaps(3)})
    body = github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha)
    delivery = f"outage-{uid}"
    with outage(stack, "pubsub"):  # an emulator forgets everything: topology re-created
        status, _ = webhook(stack, secret, body, delivery=delivery)
        assert status >= 500  # GitHub shows the failure and redelivers
    status, answer = webhook(stack, secret, body, delivery=delivery)  # GitHub's redelivery
    assert (status, answer["apps"]) == (200, [app])
    converged(app, namespace, 3, 1)


def test_git_server_down_during_render_is_retried_until_it_is_back(stack, secret, uid, repo, namespace):
    app = f"git-{uid}"
    create_app(app, repo, namespace)
    sha = repo.commit_and_push("v1", {"app/cms.yaml": configmaps(3)})
    with outage(stack, "git"):
        status, _ = webhook(
            stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha)
        )
        assert status == 200
        time.sleep(3)  # the render function fails to fetch, answers 500, Pub/Sub retries
        assert history_count(app) == 0
    converged(app, namespace, 3, 1)


def test_duplicate_deliveries_of_every_message_type(stack, secret, uid, repo, namespace):
    app = f"dups-{uid}"
    create_app(app, repo, namespace, self_heal=True)
    sha = repo.commit_and_push("v1", {"app/cms.yaml": configmaps(3)})
    body = github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha)
    delivery = f"dup-{uid}"
    assert webhook(stack, secret, body, delivery=delivery)[1]["result"] == "accepted"
    assert webhook(stack, secret, body, delivery=delivery)[1]["result"] == "duplicate"
    converged(app, namespace, 3, 1)
    # render: the same operation twice -> one apply, one history entry
    render = RenderRequest(
        app=app, commit=sha, ref="refs/heads/main", initiator="manual", operation=f"r-{uid}"
    )
    bus.publish(topology.RENDER, [render, render])
    converged(app, namespace, 3, 2)
    revision = store.get_history(app, 1)["revision"]
    apply = ApplyRequest(app=app, revision=revision, initiator="manual", operation=f"a-{uid}")
    bus.publish(topology.APPLY, [apply, apply, apply])
    converged(app, namespace, 3, 3)
    # audit: a hand edit, audited twice under one operation -> one drift heal
    kubectl("patch", "configmap", "cm-000", "-n", namespace, "-p", '{"data":{"greeting":"hand"}}')
    audit = AuditRequest(app=app, operation=f"au-{uid}")
    bus.publish(topology.AUDIT, [audit, audit])
    converged(app, namespace, 3, 4)
    assert store.get_history(app, 4)["initiator"] == "self-heal"
    # sweep: twice under one operation -> its audits are duplicates too; nothing to heal
    sweep = SweepRequest(apps=(app,), operation=f"sw-{uid}")
    bus.publish(topology.SWEEP, [sweep, sweep], order_by_app=False)
    wait_for(
        lambda: (
            (store.get_app(app).status.get("lastAuditAt") or store.now())
            > store.get_history(app, 4)["finishedAt"]
        ),
        "the sweep's audit",
    )
    time.sleep(1)
    assert history_count(app) == 4
    assert len(list(store.drift_records(app))) == 1


def test_older_revision_delivered_after_the_newer_never_regresses(stack, secret, uid, repo, namespace):
    app = f"order-{uid}"
    create_app(app, repo, namespace)
    old = push(stack, secret, repo, "v1", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    wait_history(app, 1)
    push(stack, secret, repo, "v2", {"app/deploy.yaml": manifests.deployment(image="nginx:2")}, old)
    wait_history(app, 2)
    # GitHub redelivers the older push late: rendered, then skipped at apply (out of order)
    late = f"late-{uid}"
    webhook(
        stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, old), delivery=late
    )
    wait_for(
        lambda: (store.get_app(app).status.get("lastSkipped") or {}).get("operation", "").startswith(late),
        "the older revision to be skipped",
    )
    assert history_count(app) == 2 and image_of(namespace) == "nginx:2"


@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_two_pushes_50ms_apart_end_on_the_newer(stack, secret, uid, repo, namespace, order):
    app = f"burst-{uid}"
    create_app(app, repo, namespace)
    v1 = repo.commit_and_push("v1", {"app/deploy.yaml": manifests.deployment(image="nginx:1")})
    v2 = repo.commit_and_push("v2", {"app/deploy.yaml": manifests.deployment(image="nginx:2")})
    bodies = [
        github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, v1),
        github.push_payload(repo.url, "refs/heads/main", v1, v2),
    ]
    for body in bodies if order == "older-first" else bodies[::-1]:
        assert webhook(stack, secret, body)[0] == 200
        time.sleep(0.05)
    wait_for(lambda: (store.get_app(app).status.get("sync") or {}).get("commit") == v2, "v2 synced")
    # v1 is no longer main's head when its delivery is applied, in either order: skipped
    wait_for(
        lambda: (store.get_app(app).status.get("lastSkipped") or {}).get("commit") == v1, "v1 to be skipped"
    )
    time.sleep(2)  # anything still in flight must not move it back
    assert (store.get_app(app).status["sync"]["commit"], image_of(namespace)) == (v2, "nginx:2")
    assert [e["commit"] for e in store.history(app)] == [v2]


def test_a_lease_holder_that_dies_is_taken_over_after_expiry(stack, secret, uid, repo, namespace):
    app = f"lease-{uid}"
    create_app(app, repo, namespace)
    # another delivery took the lease and died without finishing (no heartbeat, no release)
    assert store.begin_operation(app, f"dead-{uid}", "dead-holder", lease_s=4).sequence == 1
    push(stack, secret, repo, "v1", {"app/cms.yaml": configmaps(3)})
    time.sleep(2)
    assert history_count(app) == 0  # busy: Pub/Sub retries
    entry = converged(app, namespace, 3, 1)
    assert entry["sequence"] == 1 and entry["operation"] != f"dead-{uid}"
    assert "lease" not in (store.client().collection("applications").document(app).get().to_dict() or {})


def test_a_poison_message_is_dead_lettered_and_does_not_block_its_ordering_key(
    stack, secret, uid, repo, namespace, observe
):
    app = f"poison-{uid}"
    create_app(app, repo, namespace)
    dead = observe(topology.dead_letter_of(topology.APPLY))
    # same ordering key (the app's name) as the good messages after it
    bus.publish(
        topology.APPLY,
        [ApplyRequest(app=app, revision="gone-00000000", initiator="webhook", operation=f"poison-{uid}")],
    )
    push(stack, secret, repo, "v1", {"app/cms.yaml": configmaps(3)})
    converged(app, namespace, 3, 1)
    got = wait_for(lambda: dead.drain_raw(0.3), "the dead letter")
    assert [json.loads(d)["operation"] for d, _ in got] == [f"poison-{uid}"]
    assert "revision 'gone-00000000'" in got[0][1]["reason"]


def test_objects_owned_by_another_field_manager_are_taken_back(stack, secret, uid, repo, namespace):
    app = f"owner-{uid}"
    create_app(app, repo, namespace)
    first = push(stack, secret, repo, "v1", {"app/cms.yaml": configmaps(2)})
    converged(app, namespace, 2, 1)
    theirs = manifests.configmap("cm-000", "theirs").replace(
        "metadata:\n", f"metadata:\n  namespace: {namespace}\n"
    )
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=someone-else",
        "--force-conflicts",
        "-f",
        "-",
        input_text=theirs,
    )
    push(stack, secret, repo, "v2", {"app/cms.yaml": configmaps(2, "v2")}, first)
    converged(app, namespace, 2, 2, "v2")
    live = kubectl_json("get", "configmap", "cm-000", "-n", namespace, "--show-managed-fields")
    managers = {m["manager"]: m for m in live["metadata"]["managedFields"]}
    assert "f:greeting" in json.dumps(managers["gitops-apply"]["fieldsV1"])
    assert "f:greeting" not in json.dumps((managers.get("someone-else") or {}).get("fieldsV1", {}))
