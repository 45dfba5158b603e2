"""Workloads that really roll out: the real scheduler binds pods to the simulated nodes and the
node agent (stack/simnodes) runs them, so health, waves, Jobs and automated rollback meet
live pods. Each test in its own namespace.

- a release rolls out to Healthy (2/2 Ready), and a new image rolls over with the old pods gone;
- a release whose pods crash-loop ends Degraded, and AutoRollback brings back the last Healthy;
- a wave waits for the pods' real readiness before the next wave starts;
- a Job completes, a failing one fails;
- the health rules on live Deployments, StatefulSets, DaemonSets, Pods and Jobs;
- the nodes: capacity the scheduler counts ("Insufficient cpu"), heartbeats, deletion with grace.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import yaml

from shared.adapters import kube, store
from shared.core import health
from tests.integration import live_manifests as live
from tests.integration.conftest import (
    app_health_after_sweeps,
    create_app,
    kubectl_json,
    push,
    sweep,
    sync,
    wait_for,
    wait_history,
    with_policy,
)

pytestmark = pytest.mark.integration


def live_object(kind: str, name: str, namespace: str, api_version: str = "apps/v1"):
    return kube.cluster().get(api_version, kind, namespace, name)


def health_of(kind: str, name: str, namespace: str, api_version: str = "apps/v1") -> health.Health:
    return health.of(live_object(kind, name, namespace, api_version))


def wait_health(kind, name, namespace, status, api_version="apps/v1", timeout=60) -> health.Health:
    return wait_for(
        lambda: (h := health_of(kind, name, namespace, api_version)).status == status and h,
        f"{kind} {name} {status}",
        timeout,
    )


def pods(namespace: str, selector: str) -> list[dict]:
    return kube.cluster().list("v1", "Pod", namespace, label_selector=selector)


def apply_all(namespace: str, *objs: dict) -> None:
    """Apply objects into the namespace; bare Pods wait for its ServiceAccount token first."""
    cluster = kube.cluster()
    wait_for(
        lambda: (cluster.get("v1", "ServiceAccount", namespace, "default") or {}).get("secrets"),
        "the default ServiceAccount's token",
    )
    for obj in objs:
        obj["metadata"]["namespace"] = namespace
        cluster.apply(obj, field_manager="test")


def test_a_release_rolls_out_to_healthy_and_a_new_image_rolls_over(stack, secret, uid, repo, namespace):
    app = f"roll-{uid}"
    create_app(app, repo, namespace)
    first = push(
        stack,
        secret,
        repo,
        "change",
        {"app/web.yaml": live.text(live.deployment("web", "nginx:1.25", ready_delay=1))},
    )
    wait_history(app, 1)
    app_health_after_sweeps(app, "Healthy")
    running = pods(namespace, "app=web")
    assert len(running) == 2
    assert all(
        p["status"]["phase"] == "Running" and p["spec"]["nodeName"].startswith("sim-node-") for p in running
    )
    assert all(health.of(p).status == "Healthy" for p in running)
    assert live_object("Deployment", "web", namespace)["status"]["readyReplicas"] == 2

    push(
        stack,
        secret,
        repo,
        "change",
        {"app/web.yaml": live.text(live.deployment("web", "nginx:1.27", ready_delay=1))},
        before=first,
    )
    entry = wait_history(app, 2)
    assert entry["summary"].endswith("Succeeded, Progressing"), entry["summary"]  # pods not Ready yet
    app_health_after_sweeps(app, "Healthy")
    wait_for(
        lambda: {p["spec"]["containers"][0]["image"] for p in pods(namespace, "app=web")} == {"nginx:1.27"},
        "the old pods to be gone",
        30,
    )
    status = live_object("Deployment", "web", namespace)["status"]
    assert (status["updatedReplicas"], status["availableReplicas"]) == (2, 2)


def test_a_crash_looping_release_is_degraded_and_auto_rollback_restores_the_last_healthy(
    stack, secret, uid, repo, namespace
):
    app = f"crash-{uid}"
    create_app(app, repo, namespace)
    with_policy(app, syncOptions=("AutoRollback=true",))
    good = push(
        stack,
        secret,
        repo,
        "change",
        {"app/web.yaml": live.text(live.deployment("web", "nginx:1.25", deadline=8))},
    )
    wait_history(app, 1)
    app_health_after_sweeps(app, "Healthy")
    assert store.get_app(app).status["lastHealthy"]["commit"] == good

    bad = live.deployment("web", "nginx:1.27-crashloop", deadline=8, backoff_seconds=1)
    push(stack, secret, repo, "change", {"app/web.yaml": live.text(bad)}, before=good)
    wait_history(app, 2)
    crashing = wait_for(
        lambda: [
            p
            for p in pods(namespace, "app=web")
            if p["spec"]["containers"][0]["image"].endswith("crashloop")
            and p["status"]["containerStatuses"][0]["restartCount"] >= 1
        ],
        "a restart",
        30,
    )
    assert health.of(crashing[0]).status == "Degraded"
    degraded = wait_health("Deployment", "web", namespace, "Degraded")
    assert "progress" in degraded.message.lower()
    sweep(app)  # sees Degraded within the window: rolls back to the last Healthy and pins it
    entry = wait_history(app, 3)
    assert (entry["initiator"], entry["commit"]) == ("rollback", good)
    assert store.get_app(app).status["pin"]["by"] == "auto-rollback"
    app_health_after_sweeps(app, "Healthy")
    wait_for(
        lambda: all(p["spec"]["containers"][0]["image"] == "nginx:1.25" for p in pods(namespace, "app=web")),
        "the crash-looping pods to be gone",
        30,
    )


def test_a_wave_waits_for_real_readiness_before_the_next(stack, uid, namespace):
    web = live.deployment("web", "nginx:1.25", replicas=2, ready_delay=3)
    web["metadata"]["annotations"] = {"gitops.dev/sync-wave": "0"}
    later = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "later", "annotations": {"gitops.dev/sync-wave": "1"}},
        "data": {"a": "b"},
    }
    started = time.monotonic()
    result, by_name = sync(
        f"waves-{uid}", namespace, [yaml.safe_dump(later), yaml.safe_dump(web)], wave_timeout_s=60
    )
    assert not result.failed, [r.message for r in result.objects]
    assert by_name["later"].action == "created" and time.monotonic() - started >= 3
    created = kubectl_json("get", "configmap", "later", "-n", namespace)["metadata"]["creationTimestamp"]
    for p in pods(namespace, "app=web"):
        (ready,) = [c for c in p["status"]["conditions"] if c["type"] == "Ready"]
        assert ready["status"] == "True" and ready["lastTransitionTime"] <= created


def test_a_job_completes_and_a_failing_job_fails(stack, uid, namespace):
    sync(
        f"jobs-{uid}",
        namespace,
        [
            live.text(live.job("migrate", "busybox:1.36", run_seconds=1)),
            live.text(live.job("broken", "busybox:1.36-fail")),
        ],
    )
    done = wait_health("Job", "migrate", namespace, "Healthy", "batch/v1", 30)
    assert done == health.HEALTHY
    job = live_object("Job", "migrate", namespace, "batch/v1")
    assert job["status"]["succeeded"] == 1
    (p,) = pods(namespace, "job=migrate")
    assert p["status"]["phase"] == "Succeeded" and health.of(p).status == "Healthy"
    failed = wait_health("Job", "broken", namespace, "Degraded", "batch/v1", 30)
    assert "backoff" in failed.message.lower()
    (p,) = pods(namespace, "job=broken")
    assert p["status"]["phase"] == "Failed" and health.of(p) == health.Health("Degraded", "app exited 1")


def test_health_rules_on_live_statefulsets_daemonsets_and_pods(stack, uid, namespace):
    apply_all(
        namespace,
        live.statefulset("db", "postgres:16", replicas=2, ready_delay=1),
        live.daemonset("agent", "fluentd:1"),
        live.pod("ok", "nginx:1.25"),
        live.pod("pull", "registry.invalid/app:1"),
        live.pod("crash", "app:crashloop", backoff_seconds=1),
        live.pod("unready", "app:unready"),
        live.pod("huge", "nginx:1.25", cpu="1000"),
    )
    assert health_of("StatefulSet", "db", namespace).status == "Progressing"
    wait_health("StatefulSet", "db", namespace, "Healthy", timeout=30)
    assert [p["metadata"]["name"] for p in pods(namespace, "app=db")] == ["db-0", "db-1"]
    wait_health("DaemonSet", "agent", namespace, "Healthy", timeout=30)
    nodes = {p["spec"]["nodeName"] for p in pods(namespace, "app=agent")}
    assert nodes == {"sim-node-1", "sim-node-2", "sim-node-3"}  # one pod on every node
    wait_health("Pod", "ok", namespace, "Healthy", "v1", 30)
    pull = wait_health("Pod", "pull", namespace, "Degraded", "v1", 30)
    assert "ImagePullBackOff" in pull.message or "ErrImagePull" in pull.message
    crash = wait_health("Pod", "crash", namespace, "Degraded", "v1", 30)
    assert "CrashLoopBackOff" in crash.message or "exited" in crash.message
    unready = live_object("Pod", "unready", namespace, "v1")
    assert unready["status"]["phase"] == "Running" and health.of(unready).status == "Progressing"
    huge = wait_for(
        lambda: [
            c
            for c in (live_object("Pod", "huge", namespace, "v1").get("status") or {}).get("conditions") or []
            if c["type"] == "PodScheduled" and c["status"] == "False"
        ],
        "the scheduler's answer",
        30,
    )
    assert "Insufficient cpu" in huge[0]["message"]
    assert health_of("Pod", "huge", namespace, "v1") == health.Health("Progressing", "pod is Pending")


def test_nodes_keep_their_heartbeats_and_deletion_honours_the_grace_period(stack, uid, namespace):
    now = dt.datetime.now(dt.UTC)
    for node in kube.cluster().list("v1", "Node", label_selector="node.gitops.dev/simulated=true"):
        (ready,) = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready["status"] == "True"
        assert node["status"]["allocatable"]["pods"] and not node["spec"].get("taints")
        lease = kube.cluster().get(
            "coordination.k8s.io/v1", "Lease", "kube-node-lease", node["metadata"]["name"]
        )
        renewed = dt.datetime.strptime(lease["spec"]["renewTime"][:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=dt.UTC
        )
        assert now - renewed < dt.timedelta(seconds=15)
    cluster = kube.cluster()
    slow = live.pod("slow", "nginx:1.25", stop_seconds=3)  # exits 3 s after SIGTERM
    stubborn = live.pod("stubborn", "nginx:1.25", stop_seconds=600)  # killed at the grace period's end
    stubborn["spec"]["terminationGracePeriodSeconds"] = 1
    apply_all(namespace, slow, stubborn)
    for name in ("slow", "stubborn"):
        wait_health("Pod", name, namespace, "Healthy", "v1", 30)
    started = time.monotonic()
    for name in ("slow", "stubborn"):
        cluster.delete("v1", "Pod", namespace, name)
    wait_for(lambda: live_object("Pod", "stubborn", namespace, "v1") is None, "stubborn gone", 10)
    assert live_object("Pod", "slow", namespace, "v1")["metadata"]["deletionTimestamp"]
    wait_for(lambda: live_object("Pod", "slow", namespace, "v1") is None, "slow gone", 10)
    assert 2.5 <= time.monotonic() - started < 8
