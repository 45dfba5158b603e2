"""Health of live objects, chosen by API group and kind, as data.

After Argo CD: gitops-engine's pkg/health (GetHealthCheckFunc dispatches on group and kind)
and its documented rules (operator-manual/health.md), Argo CD's Lua for batch/CronJob and
argoproj.io/Application, and kstatus's generic rules (conditions Ready, Available,
Reconciling, Stalled; status.observedGeneration) for kinds nobody else knows.

An object may have NO health (`of` returns None): a ConfigMap, a Role, a custom resource
without conditions. Argo CD leaves such resources out of the application's health, and so
does `worst`. Custom rules (CEL expressions per group and kind, shared/core/healthcel.py)
come before the built-in ones, as Argo CD's health customizations do.

Statuses, from best to worst: Healthy, Suspended, Progressing, Missing, Degraded, Unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.core.status import HealthState, HealthStatus

if TYPE_CHECKING:
    from shared.core.healthcel import HealthChecks

ORDER = tuple(HealthStatus)  # best to worst


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    message: str = ""

    def to_doc(self) -> HealthState:
        return HealthState(status=self.status, message=self.message)


HEALTHY = Health(HealthStatus.HEALTHY)
NO_HEALTH_LABEL = "-"  # how an object without health is shown


def label(h: Health | None) -> str:
    """The health as shown per object: its status, or '-' when the object has no health."""
    return h.status if h is not None else NO_HEALTH_LABEL


def worst(healths: Iterable[Health | None]) -> Health:
    """The application's health: the worst of its objects', objects without health left out
    (Argo CD: Healthy when no object has health)."""
    result = HEALTHY
    for h in healths:
        if h is not None and ORDER.index(h.status) > ORDER.index(result.status):
            result = h
    return result


def _progressing(message: str) -> Health:
    return Health(HealthStatus.PROGRESSING, message)


def _degraded(message: str) -> Health:
    return Health(HealthStatus.DEGRADED, message)


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _true(cond: dict[str, Any] | None) -> bool:
    return (cond or {}).get("status") == "True"


def _stale(obj: dict[str, Any]) -> bool:
    """The controller has not yet observed the latest spec (generation > observedGeneration)."""
    status = obj.get("status") or {}
    return bool((obj.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0))


# ---- apps ------------------------------------------------------------------------------------


def _deployment(obj: dict[str, Any]) -> Health:
    """gitops-engine health_deployment.go (kubectl rollout status)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("paused"):
        return Health(HealthStatus.SUSPENDED, "deployment is paused")
    if _stale(obj):
        return _progressing("waiting for the rollout to be observed")
    progressing = _conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return _degraded(progressing.get("message") or "progress deadline exceeded")
    want = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < want:
        return _progressing(f"{updated} of {want} replicas updated")
    if status.get("replicas", 0) > updated:
        return _progressing(f"{status.get('replicas', 0) - updated} old replicas are pending termination")
    if available < updated:
        return _progressing(f"{available} of {updated} updated replicas available")
    return HEALTHY


def _statefulset(obj: dict[str, Any]) -> Health:
    """gitops-engine health_statefulset.go: a partitioned rolling update is done when the
    replicas above the partition are updated; OnDelete is Healthy once its pods are ready."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not status.get("observedGeneration") or _stale(obj):
        return _progressing("waiting for the statefulset spec to be observed")
    want, ready = spec.get("replicas", 1), status.get("readyReplicas", 0)
    if ready < want:
        return _progressing(f"{ready} of {want} replicas ready")
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if kind == "RollingUpdate" and rolling is not None:
        partition = rolling.get("partition")
        updated = status.get("updatedReplicas", 0)
        if partition is not None and updated < want - partition:
            return _progressing(f"partitioned roll out: {updated} of {want - partition} pods updated")
        return Health(HealthStatus.HEALTHY, f"partitioned roll out complete: {updated} pods updated")
    if kind == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"{ready} pods ready (OnDelete)")
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return _progressing(f"rolling update to {status.get('updateRevision')} in progress")
    return HEALTHY


def _daemonset(obj: dict[str, Any]) -> Health:
    """gitops-engine health_daemonset.go: with OnDelete nothing rolls pods over, so it is
    Healthy once the spec is observed (never Progressing forever)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if _stale(obj):
        return _progressing("waiting for the daemonset spec to be observed")
    desired, updated = status.get("desiredNumberScheduled", 0), status.get("updatedNumberScheduled", 0)
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"{updated} of {desired} pods updated (OnDelete)")
    if updated < desired:
        return _progressing(f"{updated} of {desired} pods updated")
    if status.get("numberAvailable", 0) < desired:
        return _progressing(f"{status.get('numberAvailable', 0)} of {desired} pods available")
    return HEALTHY


def _replicaset(obj: dict[str, Any]) -> Health:
    """gitops-engine health_replicaset.go."""
    if _stale(obj):
        return _progressing("waiting for the replicaset spec to be observed")
    failure = _conditions(obj).get("ReplicaFailure")
    if _true(failure):
        return _degraded((failure or {}).get("message", "replica failure"))
    want = (obj.get("spec") or {}).get("replicas", 1)
    available = (obj.get("status") or {}).get("availableReplicas", 0)
    if available < want:
        return _progressing(f"{available} of {want} replicas available")
    return HEALTHY


# ---- core --------------------------------------------------------------------------------------


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
            return _degraded("; ".join(stuck))
    phase = status.get("phase", "")
    if phase == "Succeeded":
        return HEALTHY
    if phase == "Failed":
        failed = [
            f"{c.get('name')} exited {t.get('exitCode')}"
            for c in (status.get("initContainerStatuses") or []) + containers
            if (t := (c.get("state") or {}).get("terminated") or {}).get("exitCode")
        ]
        return _degraded(status.get("message") or "; ".join(failed) or "pod failed")
    if phase == "Running" and always:
        if _true(_conditions(obj).get("Ready")):
            return HEALTHY
        if any((c.get("lastState") or {}).get("terminated") for c in containers):
            return _degraded("a container exited and the pod is not ready")
        return _progressing("pod is running, not ready")
    return _progressing(f"pod is {phase or 'Pending'}")


def _load_balanced(obj: dict[str, Any]) -> bool:
    return bool(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"))


def _service(obj: dict[str, Any]) -> Health:
    """gitops-engine health_service.go: a LoadBalancer is Progressing until it has an address."""
    if (obj.get("spec") or {}).get("type") == "LoadBalancer" and not _load_balanced(obj):
        return _progressing("waiting for a load balancer address")
    return HEALTHY


def _pvc(obj: dict[str, Any]) -> Health:
    """gitops-engine health_pvc.go."""
    phase = (obj.get("status") or {}).get("phase", "")
    return {
        "Bound": HEALTHY,
        "Pending": _progressing("claim is pending"),
        "Lost": _degraded("claim is lost"),
    }.get(phase, Health(HealthStatus.UNKNOWN, f"claim phase {phase!r}"))


# ---- batch, networking, autoscaling, APIs --------------------------------------------------------


def _job(obj: dict[str, Any]) -> Health:
    """gitops-engine health_job.go, and Argo CD's documented Suspended for spec.suspend."""
    cond = _conditions(obj)
    if "Failed" in cond and _true(cond["Failed"]):
        return _degraded(cond["Failed"].get("message") or "job failed")
    if _true(cond.get("Complete")):
        return Health(HealthStatus.HEALTHY, cond["Complete"].get("message", ""))
    if (obj.get("spec") or {}).get("suspend"):
        return Health(HealthStatus.SUSPENDED, "job is suspended")
    return _progressing("job is running")


def _cronjob(obj: dict[str, Any]) -> Health:
    """Argo CD's documented CronJob health (resource_customizations/batch/CronJob): suspended,
    a running job Progressing, a last run that did not succeed Degraded."""
    if (obj.get("spec") or {}).get("suspend"):
        return Health(HealthStatus.SUSPENDED, "cronjob is suspended")
    status = obj.get("status") or {}
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if not scheduled:
        return Health(HealthStatus.HEALTHY, "not scheduled yet")
    if status.get("active"):
        return _progressing("a job is running")
    # RFC 3339 times in UTC ("...Z") compare as strings
    if not succeeded or str(succeeded) < str(scheduled):
        return _degraded("the last run did not complete successfully")
    return Health(HealthStatus.HEALTHY, "the last run completed successfully")


def _ingress(obj: dict[str, Any]) -> Health:
    """gitops-engine health_ingress.go: Progressing until the controller sets an address."""
    return HEALTHY if _load_balanced(obj) else _progressing("waiting for a load balancer address")


# autoscaling/v1 keeps the v2 conditions in this annotation (gitops-engine health_hpa.go)
HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
HPA_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
}
HPA_HEALTHY = {
    ("AbleToScale", "SucceededRescale"),
    ("ScalingLimited", "DesiredWithinRange"),
    ("ScalingLimited", "TooFewReplicas"),
    ("ScalingLimited", "TooManyReplicas"),
}


def _hpa(obj: dict[str, Any]) -> Health:
    """gitops-engine health_hpa.go: the first condition that says failed or healthy decides;
    v1 carries its conditions as JSON in an annotation, v2 in status.conditions."""
    conditions: Any = (obj.get("status") or {}).get("conditions")
    if str(obj.get("apiVersion", "")).endswith("/v1"):
        raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(HPA_CONDITIONS_ANNOTATION)
        try:
            conditions = json.loads(raw) if raw else []
        except ValueError:
            return Health(HealthStatus.UNKNOWN, f"{HPA_CONDITIONS_ANNOTATION} is not JSON")
    for c in conditions or []:
        key = (c.get("type", ""), c.get("reason", ""))
        if key in HPA_DEGRADED:
            return _degraded(c.get("message", ""))
        if key in HPA_HEALTHY:
            return Health(HealthStatus.HEALTHY, c.get("message", ""))
    return _progressing("waiting to autoscale")


def _apiservice(obj: dict[str, Any]) -> Health:
    """gitops-engine health_apiservice.go: the Available condition."""
    available = _conditions(obj).get("Available")
    if available is None:
        return _progressing("waiting to be processed")
    message = f"{available.get('reason', '')}: {available.get('message', '')}".strip(": ")
    return Health(HealthStatus.HEALTHY if _true(available) else HealthStatus.PROGRESSING, message)


def _crd(obj: dict[str, Any]) -> Health:
    """gitops-engine health_customresourcedefinition.go."""
    cond = _conditions(obj)
    if not cond:
        return _progressing("no status conditions yet")
    if _true(cond.get("Terminating")):
        return _progressing(f"being terminated: {cond['Terminating'].get('message', '')}")
    names = cond.get("NamesAccepted")
    if names is not None and names.get("status") == "False":
        return _degraded(f"names not accepted: {names.get('message', '')}")
    if not _true(cond.get("Established")):
        return _degraded(f"not established: {(cond.get('Established') or {}).get('message', '')}")
    if _true(cond.get("NonStructuralSchema")):
        return _degraded(f"schema violations: {cond['NonStructuralSchema'].get('message', '')}")
    return HEALTHY


def _argo_application(obj: dict[str, Any]) -> Health:
    """An Argo CD Application (apps of apps): its own status.health, as Argo CD documents
    restoring it (operator-manual/health.md, "Argocd App"); Progressing until it has one."""
    reported = (obj.get("status") or {}).get("health") or {}
    try:
        status = HealthStatus(reported.get("status", ""))
    except ValueError:
        return _progressing("waiting for the application's health")
    return Health(status, reported.get("message", ""))


# ---- kinds nobody knows: kstatus --------------------------------------------------------------


def _kstatus(obj: dict[str, Any]) -> Health | None:
    """kstatus's generic rules (sigs.k8s.io/cli-utils kstatus, the conventions Flux reads):
    a spec not yet observed is in progress; Stalled is failed, Reconciling in progress; then
    Ready, else Available, decides. Without any of these signals the object has no health."""
    cond = _conditions(obj)
    if "observedGeneration" in (obj.get("status") or {}) and _stale(obj):
        return _progressing("waiting for the spec to be observed")
    if _true(cond.get("Stalled")):
        return _degraded(cond["Stalled"].get("message") or "stalled")
    if _true(cond.get("Reconciling")):
        return _progressing(cond["Reconciling"].get("message") or "reconciling")
    for name in ("Ready", "Available"):
        if name in cond:
            c = cond[name]
            if _true(c):
                return HEALTHY
            return _progressing(c.get("message") or f"not {name.lower()}")
    return None


Rule = Callable[[dict[str, Any]], Health]

# (group, kind) -> rule, as gitops-engine's GetHealthCheckFunc (which also keeps the
# pre-apps/v1 "extensions" group)
RULES: dict[tuple[str, str], Rule] = {
    **{
        (group, kind): rule
        for group in ("apps", "extensions")
        for kind, rule in (
            ("Deployment", _deployment),
            ("ReplicaSet", _replicaset),
            ("DaemonSet", _daemonset),
        )
    },
    ("apps", "StatefulSet"): _statefulset,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _pvc,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("extensions", "Ingress"): _ingress,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("apiregistration.k8s.io", "APIService"): _apiservice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("argoproj.io", "Application"): _argo_application,
}


def group_of(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def of(obj: dict[str, Any] | None, checks: HealthChecks | None = None) -> Health | None:
    """The object's health, None when it has none; `checks` are the application's custom
    rules (CEL), which come before the built-in ones for their group and kind."""
    if obj is None:
        return Health(HealthStatus.MISSING, "object does not exist")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return _progressing("pending deletion")
    key = (group_of(obj), str(obj.get("kind", "")))
    if checks is not None:
        custom = checks.find(*key)
        if custom is not None:
            return custom.evaluate(obj)
    rule = RULES.get(key)
    return rule(obj) if rule is not None else _kstatus(obj)


def is_healthy(obj: dict[str, Any] | None, checks: HealthChecks | None = None) -> bool:
    """Healthy, or without health (nothing to wait for: Argo CD's waves wait only on health)."""
    h = of(obj, checks)
    return h is None or h.status == HealthStatus.HEALTHY
