"""Health of live objects, per kind, as data (after Argo CD's gitops-engine and kstatus).

Statuses, from best to worst: Healthy, Suspended, Progressing, Missing, Degraded, Unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.core.status import HealthState, HealthStatus

ORDER = tuple(HealthStatus)  # best to worst


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    message: str = ""

    def to_doc(self) -> HealthState:
        return HealthState(status=self.status, message=self.message)


HEALTHY = Health(HealthStatus.HEALTHY)


def worst(healths: Iterable[Health]) -> Health:
    result = HEALTHY
    for h in healths:
        if ORDER.index(h.status) > ORDER.index(result.status):
            result = h
    return result


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _stale(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return bool(obj["metadata"].get("generation", 0) > status.get("observedGeneration", 0))


def _deployment(obj: dict[str, Any]) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("paused"):
        return Health(HealthStatus.SUSPENDED, "deployment is paused")
    if _stale(obj):
        return Health(HealthStatus.PROGRESSING, "waiting for the rollout to be observed")
    progressing = _conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(HealthStatus.DEGRADED, progressing.get("message") or "progress deadline exceeded")
    want = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < want:
        return Health(HealthStatus.PROGRESSING, f"{updated} of {want} replicas updated")
    if status.get("replicas", 0) > updated:
        return Health(HealthStatus.PROGRESSING, "old replicas are pending termination")
    if available < updated:
        return Health(HealthStatus.PROGRESSING, f"{available} of {updated} updated replicas available")
    return HEALTHY


def _statefulset(obj: dict[str, Any]) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not status.get("observedGeneration") or _stale(obj):
        return Health(HealthStatus.PROGRESSING, "waiting for the statefulset to be observed")
    want = spec.get("replicas", 1)
    if status.get("readyReplicas", 0) < want:
        return Health(HealthStatus.PROGRESSING, f"{status.get('readyReplicas', 0)} of {want} replicas ready")
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return Health(HealthStatus.PROGRESSING, "rolling update in progress")
    return HEALTHY


def _daemonset(obj: dict[str, Any]) -> Health:
    status = obj.get("status") or {}
    if _stale(obj):
        return Health(HealthStatus.PROGRESSING, "waiting for the daemonset to be observed")
    desired = status.get("desiredNumberScheduled", 0)
    if status.get("updatedNumberScheduled", 0) < desired or status.get("numberAvailable", 0) < desired:
        return Health(
            HealthStatus.PROGRESSING, f"{status.get('numberAvailable', 0)} of {desired} pods available"
        )
    return HEALTHY


def _replicaset(obj: dict[str, Any]) -> Health:
    if _stale(obj):
        return Health(HealthStatus.PROGRESSING, "waiting for the replicaset to be observed")
    failure = _conditions(obj).get("ReplicaFailure") or {}
    if failure.get("status") == "True":
        return Health(HealthStatus.DEGRADED, failure.get("message", "replica failure"))
    want = (obj.get("spec") or {}).get("replicas", 1)
    if (obj.get("status") or {}).get("availableReplicas", 0) < want:
        return Health(HealthStatus.PROGRESSING, "waiting for replicas")
    return HEALTHY


def _waiting_on_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _pod(obj: dict[str, Any]) -> Health:
    """As gitops-engine: a restartable pod with a container stuck on an error (ErrImagePull,
    ImagePullBackOff, CrashLoopBackOff, ...) is Degraded; Running counts as Healthy only when
    Ready; a pod that runs to completion (a Job's, a hook) is Progressing until it Succeeded."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    always = spec.get("restartPolicy", "Always") == "Always"
    containers = status.get("containerStatuses") or []
    if always:
        stuck = [
            f"{c.get('name')}: {w.get('reason')}" + (f" ({w['message']})" if w.get("message") else "")
            for c in containers
            if _waiting_on_error((w := (c.get("state") or {}).get("waiting") or {}).get("reason", ""))
        ]
        if stuck:
            return Health(HealthStatus.DEGRADED, "; ".join(stuck))
    phase = status.get("phase", "")
    if phase == "Succeeded":
        return HEALTHY
    if phase == "Failed":
        failed = [
            f"{c.get('name')} exited {t.get('exitCode')}"
            for c in (status.get("initContainerStatuses") or []) + containers
            if (t := (c.get("state") or {}).get("terminated") or {}).get("exitCode")
        ]
        return Health(HealthStatus.DEGRADED, status.get("message") or "; ".join(failed) or "pod failed")
    if phase == "Running" and always:
        if (_conditions(obj).get("Ready") or {}).get("status") == "True":
            return HEALTHY
        if any((c.get("lastState") or {}).get("terminated") for c in containers):
            return Health(HealthStatus.DEGRADED, "a container exited and the pod is not ready")
        return Health(HealthStatus.PROGRESSING, "pod is running, not ready")
    return Health(HealthStatus.PROGRESSING, f"pod is {phase or 'Pending'}")


def _job(obj: dict[str, Any]) -> Health:
    cond = _conditions(obj)
    if (cond.get("Failed") or {}).get("status") == "True":
        return Health(HealthStatus.DEGRADED, cond["Failed"].get("message", "job failed"))
    if (cond.get("Complete") or {}).get("status") == "True":
        return HEALTHY
    if (obj.get("spec") or {}).get("suspend"):
        return Health(HealthStatus.SUSPENDED, "job is suspended")
    return Health(HealthStatus.PROGRESSING, "job is running")


def _pvc(obj: dict[str, Any]) -> Health:
    phase = (obj.get("status") or {}).get("phase", "")
    return {
        "Bound": HEALTHY,
        "Pending": Health(HealthStatus.PROGRESSING, "claim is pending"),
        "Lost": Health(HealthStatus.DEGRADED, "claim is lost"),
    }.get(phase, Health(HealthStatus.UNKNOWN, phase))


def _service(obj: dict[str, Any]) -> Health:
    lb = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if (obj.get("spec") or {}).get("type") == "LoadBalancer" and not lb:
        return Health(HealthStatus.PROGRESSING, "waiting for a load balancer")
    return HEALTHY


def _crd(obj: dict[str, Any]) -> Health:
    established = _conditions(obj).get("Established") or {}
    return (
        HEALTHY
        if established.get("status") == "True"
        else Health(HealthStatus.PROGRESSING, "not established")
    )


def _generic(obj: dict[str, Any]) -> Health:
    ready = _conditions(obj).get("Ready")
    if ready is None:
        return HEALTHY
    if ready.get("status") == "True":
        return (
            Health(HealthStatus.PROGRESSING, "waiting for the object to be observed")
            if _stale(obj)
            else HEALTHY
        )
    return Health(HealthStatus.PROGRESSING, ready.get("message") or "not ready")


RULES: dict[str, Callable[[dict[str, Any]], Health]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "ReplicaSet": _replicaset,
    "Pod": _pod,
    "Job": _job,
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "CustomResourceDefinition": _crd,
}


def of(obj: dict[str, Any] | None) -> Health:
    if obj is None:
        return Health(HealthStatus.MISSING, "object does not exist")
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return Health(HealthStatus.PROGRESSING, "pending deletion")
    return RULES.get(obj.get("kind", ""), _generic)(obj)
