"""Health rules per kind (after gitops-engine)."""

from shared.core import health


def dep(replicas=1, generation=1, observed=1, updated=1, available=1, total=1, conditions=()):
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "replicas": total,
            "conditions": list(conditions),
        },
    }


def test_deployment_rules():
    assert health.of(dep()).status == "Healthy"
    assert health.of(dep(replicas=0, updated=0, available=0, total=0)).status == "Healthy"
    assert health.of(dep(generation=2)).status == "Progressing"
    assert health.of(dep(replicas=2)).status == "Progressing"
    assert health.of(dep(available=0)).status == "Progressing"
    stuck = dep(
        available=0,
        conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "exceeded"}],
    )
    assert health.of(stuck) == health.Health("Degraded", "exceeded")
    paused = dep()
    paused["spec"]["paused"] = True
    assert health.of(paused).status == "Suspended"


def test_missing_deleting_and_generic():
    assert health.of(None).status == "Missing"
    assert health.of({"kind": "ConfigMap", "metadata": {"deletionTimestamp": "t"}}).status == "Progressing"
    assert health.of({"kind": "ConfigMap", "metadata": {}}).status == "Healthy"
    not_ready = {
        "kind": "Widget",
        "metadata": {},
        "status": {"conditions": [{"type": "Ready", "status": "False", "message": "warming"}]},
    }
    assert health.of(not_ready) == health.Health("Progressing", "warming")


def pod(phase, *, ready=False, policy="Always", waiting="", last_exit=None, exit_code=None):
    state = (
        {"waiting": {"reason": waiting, "message": "m"}}
        if waiting
        else {"terminated": {"exitCode": exit_code}}
        if exit_code is not None
        else {"running": {}}
    )
    container = {
        "name": "c",
        "state": state,
        "lastState": {"terminated": {"exitCode": last_exit}} if last_exit is not None else {},
    }
    return {
        "kind": "Pod",
        "metadata": {},
        "spec": {"restartPolicy": policy},
        "status": {
            "phase": phase,
            "containerStatuses": [container],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_pod_rules():
    assert health.of(pod("Running", ready=True)).status == "Healthy"
    assert health.of(pod("Running")).status == "Progressing"  # running, not ready (yet)
    assert health.of(pod("Pending", waiting="ContainerCreating")).status == "Progressing"
    for reason in ("ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError"):
        assert health.of(pod("Pending", waiting=reason)) == health.Health("Degraded", f"c: {reason} (m)")
    assert health.of(pod("Running", last_exit=1)).status == "Degraded"  # restarted, not ready
    # a Job's pod (or a hook's) is not judged by its waits: it runs to completion
    assert health.of(pod("Pending", policy="Never", waiting="ImagePullBackOff")).status == "Progressing"
    assert health.of(pod("Running", policy="OnFailure", ready=True)).status == "Progressing"
    assert health.of(pod("Succeeded", policy="Never", exit_code=0)).status == "Healthy"
    assert health.of(pod("Failed", policy="Never", exit_code=1)) == health.Health("Degraded", "c exited 1")


def test_job_pvc_service():
    job = {"kind": "Job", "metadata": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert health.of(job).status == "Degraded"
    assert (
        health.of({"kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Bound"}}).status
        == "Healthy"
    )
    lb = {"kind": "Service", "metadata": {}, "spec": {"type": "LoadBalancer"}, "status": {}}
    assert health.of(lb).status == "Progressing"


def test_worst_orders_statuses():
    hs = [health.HEALTHY, health.Health("Degraded", "x"), health.Health("Progressing")]
    assert health.worst(hs).status == "Degraded"
    assert health.worst([]).status == "Healthy"
