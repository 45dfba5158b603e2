"""Health rules per group and kind (after gitops-engine, Argo CD's documented rules and
kstatus), objects without health, and custom health as CEL (shared/core/healthcel.py)."""

import json

import pytest

from shared.core import health, healthcel
from shared.core.model import AppSpec, SpecError

H, S, P, M, D, U = "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"


def obj(api, kind, spec=None, status=None, generation=1, **meta):
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "x", "generation": generation, **meta},
        "spec": spec or {},
        "status": status or {},
    }


def cond(type_, status="True", reason="", message=""):
    return {"type": type_, "status": status, "reason": reason, "message": message}


def dep(replicas=1, generation=1, observed=1, updated=1, available=1, total=1, conditions=(), **spec):
    status = {
        "observedGeneration": observed,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "replicas": total,
        "conditions": list(conditions),
    }
    return obj("apps/v1", "Deployment", {"replicas": replicas, **spec}, status, generation)


def sts(replicas=2, ready=2, updated=2, observed=1, generation=1, strategy=None, current="a", update="a"):
    spec = {"replicas": replicas, **({"updateStrategy": strategy} if strategy else {})}
    status = {
        "observedGeneration": observed,
        "readyReplicas": ready,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
    }
    return obj("apps/v1", "StatefulSet", spec, status, generation)


def ds(desired=2, updated=2, available=2, observed=1, generation=1, strategy="RollingUpdate"):
    status = {
        "observedGeneration": observed,
        "desiredNumberScheduled": desired,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
    }
    return obj("apps/v1", "DaemonSet", {"updateStrategy": {"type": strategy}}, status, generation)


def rs(replicas=2, available=2, observed=1, generation=1, conditions=()):
    status = {"observedGeneration": observed, "availableReplicas": available, "conditions": list(conditions)}
    return obj("apps/v1", "ReplicaSet", {"replicas": replicas}, status, generation)


def job(conditions=(), suspend=False):
    return obj("batch/v1", "Job", {"suspend": suspend}, {"conditions": list(conditions)})


def cronjob(suspend=False, scheduled=None, succeeded=None, active=()):
    status = {"active": list(active)}
    if scheduled:
        status["lastScheduleTime"] = scheduled
    if succeeded:
        status["lastSuccessfulTime"] = succeeded
    return obj("batch/v1", "CronJob", {"suspend": suspend}, status)


LB = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}


def hpa_v1(conditions):
    annotations = {health.HPA_CONDITIONS_ANNOTATION: json.dumps(conditions)} if conditions is not None else {}
    return obj("autoscaling/v1", "HorizontalPodAutoscaler", annotations=annotations)


def hpa_v2(conditions):
    return obj("autoscaling/v2", "HorizontalPodAutoscaler", status={"conditions": conditions})


def crd(*conditions):
    return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", status={"conditions": list(conditions)})


def argo_app(health_doc):
    return obj("argoproj.io/v1alpha1", "Application", status={"health": health_doc} if health_doc else {})


CASES = {
    # Deployment
    "deployment ready": (dep(), H),
    "deployment scaled to zero": (dep(replicas=0, updated=0, available=0, total=0), H),
    "deployment not observed": (dep(generation=2), P),
    "deployment updating": (dep(replicas=2), P),
    "deployment old replicas": (dep(total=2), P),
    "deployment not available": (dep(available=0), P),
    "deployment paused": (dep(paused=True), S),
    "deployment deadline exceeded": (
        dep(available=0, conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded", "exceeded")]),
        D,
    ),
    "extensions deployment": ({**dep(generation=2), "apiVersion": "extensions/v1beta1"}, P),
    # StatefulSet
    "statefulset ready": (sts(), H),
    "statefulset never observed": (sts(observed=0), P),
    "statefulset not observed": (sts(generation=2), P),
    "statefulset not ready": (sts(ready=1), P),
    "statefulset rolling": (sts(update="b"), P),
    "statefulset partition pending": (
        sts(
            replicas=4,
            ready=4,
            updated=1,
            strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        ),
        P,
    ),
    "statefulset partition done": (
        sts(
            replicas=4,
            ready=4,
            updated=2,
            update="b",
            strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        ),
        H,
    ),
    "statefulset OnDelete, old revision": (sts(update="b", strategy={"type": "OnDelete"}), H),
    # DaemonSet
    "daemonset ready": (ds(), H),
    "daemonset not observed": (ds(generation=2), P),
    "daemonset updating": (ds(updated=1), P),
    "daemonset not available": (ds(available=1), P),
    "daemonset OnDelete never updated": (ds(updated=0, available=2, strategy="OnDelete"), H),
    "daemonset OnDelete not observed": (ds(updated=0, generation=2, strategy="OnDelete"), P),
    # ReplicaSet
    "replicaset ready": (rs(), H),
    "replicaset not observed": (rs(generation=2), P),
    "replicaset waiting": (rs(available=1), P),
    "replicaset failure": (rs(available=0, conditions=[cond("ReplicaFailure", message="quota")]), D),
    # Job and CronJob
    "job running": (job(), P),
    "job complete": (job([cond("Complete")]), H),
    "job failed": (job([cond("Failed", message="BackoffLimitExceeded")]), D),
    "job suspended": (job(suspend=True), S),
    "cronjob never scheduled": (cronjob(), H),
    "cronjob suspended": (cronjob(suspend=True, scheduled="2026-01-01T00:00:00Z"), S),
    "cronjob running": (cronjob(scheduled="2026-01-01T01:00:00Z", active=[{"name": "j"}]), P),
    "cronjob last run failed": (
        cronjob(scheduled="2026-01-01T01:00:00Z", succeeded="2026-01-01T00:00:30Z"),
        D,
    ),
    "cronjob never succeeded": (cronjob(scheduled="2026-01-01T01:00:00Z"), D),
    "cronjob last run succeeded": (
        cronjob(scheduled="2026-01-01T01:00:00Z", succeeded="2026-01-01T01:00:40Z"),
        H,
    ),
    # Service and Ingress
    "service ClusterIP": (obj("v1", "Service", {"type": "ClusterIP"}), H),
    "service LoadBalancer without address": (obj("v1", "Service", {"type": "LoadBalancer"}), P),
    "service LoadBalancer with address": (obj("v1", "Service", {"type": "LoadBalancer"}, LB), H),
    "ingress without address": (obj("networking.k8s.io/v1", "Ingress"), P),
    "ingress with address": (obj("networking.k8s.io/v1", "Ingress", status=LB), H),
    "extensions ingress without address": (obj("extensions/v1beta1", "Ingress"), P),
    # PersistentVolumeClaim
    "pvc bound": (obj("v1", "PersistentVolumeClaim", status={"phase": "Bound"}), H),
    "pvc pending": (obj("v1", "PersistentVolumeClaim", status={"phase": "Pending"}), P),
    "pvc lost": (obj("v1", "PersistentVolumeClaim", status={"phase": "Lost"}), D),
    "pvc no phase": (obj("v1", "PersistentVolumeClaim"), U),
    # HorizontalPodAutoscaler, v1 annotations and v2 conditions
    "hpa v1 no annotation": (hpa_v1(None), P),
    "hpa v1 healthy": (hpa_v1([cond("AbleToScale", reason="SucceededRescale")]), H),
    "hpa v1 degraded": (hpa_v1([cond("ScalingActive", "False", "FailedGetResourceMetric", "no metrics")]), D),
    "hpa v1 other condition": (hpa_v1([cond("ScalingActive", reason="ValidMetricFound")]), P),
    "hpa v1 bad annotation": (
        obj("autoscaling/v1", "HorizontalPodAutoscaler", annotations={health.HPA_CONDITIONS_ANNOTATION: "{"}),
        U,
    ),
    "hpa v2 healthy": (hpa_v2([cond("ScalingLimited", "False", "DesiredWithinRange")]), H),
    "hpa v2 degraded": (hpa_v2([cond("AbleToScale", "False", "FailedGetScale", "no scale")]), D),
    "hpa v2 waiting": (hpa_v2([]), P),
    # APIService
    "apiservice available": (
        obj("apiregistration.k8s.io/v1", "APIService", status={"conditions": [cond("Available")]}),
        H,
    ),
    "apiservice unavailable": (
        obj(
            "apiregistration.k8s.io/v1",
            "APIService",
            status={"conditions": [cond("Available", "False", "MissingEndpoints")]},
        ),
        P,
    ),
    "apiservice unprocessed": (obj("apiregistration.k8s.io/v1", "APIService"), P),
    # CustomResourceDefinition
    "crd established": (crd(cond("NamesAccepted"), cond("Established")), H),
    "crd no conditions": (crd(), P),
    "crd names not accepted": (
        crd(cond("NamesAccepted", "False", message="conflict"), cond("Established", "False")),
        D,
    ),
    "crd not established": (crd(cond("NamesAccepted"), cond("Established", "False")), D),
    "crd terminating": (crd(cond("Established"), cond("Terminating")), P),
    "crd non-structural": (crd(cond("Established"), cond("NonStructuralSchema")), D),
    # Argo CD Applications (apps of apps)
    "argo app healthy": (argo_app({"status": "Healthy"}), H),
    "argo app degraded": (argo_app({"status": "Degraded", "message": "m"}), D),
    "argo app suspended": (argo_app({"status": "Suspended"}), S),
    "argo app missing": (argo_app({"status": "Missing"}), M),
    "argo app no health yet": (argo_app(None), P),
    # kinds nobody knows: kstatus generic rules
    "knative service not ready (not the core Service rule)": (
        obj(
            "serving.knative.dev/v1",
            "Service",
            status={"conditions": [cond("Ready", "False", message="rev")]},
        ),
        P,
    ),
    "knative service ready": (
        obj(
            "serving.knative.dev/v1",
            "Service",
            status={"conditions": [cond("Ready")], "observedGeneration": 1},
        ),
        H,
    ),
    "custom ready, spec not observed": (
        obj(
            "x.dev/v1",
            "Widget",
            status={"conditions": [cond("Ready")], "observedGeneration": 1},
            generation=2,
        ),
        P,
    ),
    "custom available": (obj("x.dev/v1", "Widget", status={"conditions": [cond("Available")]}), H),
    "custom not available": (
        obj("x.dev/v1", "Widget", status={"conditions": [cond("Available", "False")]}),
        P,
    ),
    "custom stalled": (
        obj("x.dev/v1", "Widget", status={"conditions": [cond("Stalled"), cond("Ready", "False")]}),
        D,
    ),
    "custom reconciling": (obj("x.dev/v1", "Widget", status={"conditions": [cond("Reconciling")]}), P),
    # missing and deleting
    "missing": (None, M),
    "deleting": (obj("v1", "ConfigMap", deletionTimestamp="2026-01-01T00:00:00Z"), P),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule(name):
    o, want = CASES[name]
    got = health.of(o)
    assert got is not None and got.status == want, got


def test_messages_name_the_reason():
    stuck = dep(
        available=0, conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded", "exceeded")]
    )
    assert health.of(stuck) == health.Health(D, "exceeded")
    assert health.of(job([cond("Failed", message="BackoffLimitExceeded")])) == health.Health(
        D, "BackoffLimitExceeded"
    )
    assert health.of(CASES["custom stalled"][0]).status == D
    assert health.of(argo_app({"status": "Degraded", "message": "m"})) == health.Health(D, "m")


NO_HEALTH = {
    "configmap": obj("v1", "ConfigMap"),
    "secret": obj("v1", "Secret"),
    "role": obj("rbac.authorization.k8s.io/v1", "Role"),
    "custom resource without conditions": obj("x.dev/v1", "Widget", status={"phase": "Running"}),
    "custom resource, observed, no conditions": obj("x.dev/v1", "Widget", status={"observedGeneration": 1}),
    "a kind without apiVersion": {"kind": "Widget", "metadata": {}},
}


@pytest.mark.parametrize("name", list(NO_HEALTH))
def test_no_health(name):
    assert health.of(NO_HEALTH[name]) is None
    assert health.label(health.of(NO_HEALTH[name])) == "-"
    assert health.is_healthy(NO_HEALTH[name])  # nothing to wait for


def test_worst_leaves_out_objects_without_health():
    assert health.worst([health.HEALTHY, health.Health(D, "x"), health.Health(P)]).status == D
    assert health.worst([]).status == H
    assert health.worst([None, None]) == health.HEALTHY  # Argo CD: no health is not unhealthy
    assert health.worst([None, health.Health(P, "p"), None]) == health.Health(P, "p")
    assert health.worst([health.Health(S), None]).status == S
    assert not health.is_healthy(None)  # missing


# ---- the Pod rule (gitops-engine's semantics) -------------------------------------------------


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
        "apiVersion": "v1",
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
    assert health.of(pod("Running", ready=True)).status == H
    assert health.of(pod("Running")).status == P  # running, not ready (yet)
    assert health.of(pod("Pending", waiting="ContainerCreating")).status == P
    for reason in ("ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError"):
        assert health.of(pod("Pending", waiting=reason)) == health.Health(D, f"c: {reason} (m)")
    assert health.of(pod("Running", last_exit=1)).status == D  # restarted, not ready
    # a Job's pod (or a hook's) is not judged by its waits: it runs to completion
    assert health.of(pod("Pending", policy="Never", waiting="ImagePullBackOff")).status == P
    assert health.of(pod("Running", policy="OnFailure", ready=True)).status == P
    assert health.of(pod("Succeeded", policy="Never", exit_code=0)).status == H
    assert health.of(pod("Failed", policy="Never", exit_code=1)) == health.Health(D, "c exited 1")


# ---- custom health as CEL -------------------------------------------------------------------------

DB = [
    {
        "apiVersion": "db.example/v1",
        "kind": "Database",
        "current": "status.phase == 'Running'",
        "inProgress": "status.phase in ['Pending', 'Provisioning']",
        "failed": "status.phase == 'Failed'",
    }
]


def database(phase=None, generation=1, observed=None):
    status = {} if phase is None else {"phase": phase}
    if observed is not None:
        status["observedGeneration"] = observed
    return obj("db.example/v2", "Database", status=status, generation=generation)


CEL_CASES = {
    "current": (database("Running"), H),
    "in progress": (database("Provisioning"), P),
    "failed": (database("Failed"), D),
    "none true": (database("Deleting"), P),
    "field not there yet": (database(None), P),
    "spec not observed": (database("Running", generation=2, observed=1), P),
    "observed": (database("Running", generation=2, observed=2), H),
}


@pytest.mark.parametrize("name", list(CEL_CASES))
def test_cel_rule(name):
    o, want = CEL_CASES[name]
    got = health.of(o, healthcel.parse(DB))
    assert got is not None and got.status == want, got


def test_cel_rules_come_first_and_only_for_their_group_and_kind():
    checks = healthcel.parse(
        [
            {"group": "", "kind": "ConfigMap", "current": "has(data.ready)"},
            {"group": "apps", "kind": "Deployment", "current": "status.availableReplicas >= 1"},
        ]
    )
    cm = {**obj("v1", "ConfigMap"), "data": {"ready": "1"}}
    assert health.of(cm) is None and health.of(cm, checks).status == H
    assert health.of(dep(generation=1, updated=0), checks).status == H  # the custom rule decides
    assert health.of(obj("serving.knative.dev/v1", "ConfigMap"), checks) is None  # another group
    assert health.of(database("Running"), checks) is None  # no rule for it


def test_cel_messages_and_errors():
    checks = healthcel.parse(DB)
    assert health.of(database("Failed"), checks).message == "healthChecks failed: status.phase == 'Failed'"
    assert "phase" in health.of(database(None), checks).message
    not_bool = healthcel.parse(
        [{"kind": "Database", "apiVersion": "db.example/v1", "current": "status.phase"}]
    )
    h = health.of(database("Running"), not_bool)
    assert h.status == P and "not a bool" in h.message


@pytest.mark.parametrize(
    "check, error",
    [
        ({"kind": "Database", "current": "status.phase =="}, "healthChecks[0].current: "),
        ({"kind": "Database", "current": "true", "failed": "status.(phase"}, "healthChecks[0].failed: "),
        ({"kind": "Database", "current": "true", "inProgress": "a &&"}, "healthChecks[0].inProgress: "),
        ({"kind": "Database"}, "healthChecks[0].current: required"),
        ({"current": "true"}, "healthChecks[0].kind: required"),
        (
            {"kind": "Database", "current": "true", "healthy": "x"},
            "healthChecks[0]: unknown field(s) healthy",
        ),
        ({"kind": "Database", "current": 1}, "healthChecks[0].current: must be a CEL expression"),
        ({"kind": "Database", "current": "a" * 2001}, "healthChecks[0].current: longer than"),
    ],
)
def test_cel_checked_when_the_application_is_saved(check, error):
    spec = AppSpec(name="a", repoURL="http://git.example/r.git", healthChecks=(check,))
    with pytest.raises(SpecError) as exc:
        spec.validate()
    assert str(exc.value).startswith(error), str(exc.value)


def test_cel_checks_round_trip_through_the_stored_spec():
    spec = AppSpec(name="a", repoURL="http://git.example/r.git", healthChecks=tuple(DB)).validate()
    again = AppSpec.from_doc("a", spec.to_doc())
    assert again.healthChecks == spec.healthChecks
    assert again.health_checks.find("db.example", "Database") is not None
    assert AppSpec(name="b", repoURL="http://git.example/r.git").health_checks.find("", "Pod") is None


# ---- custom health in the project too: the application's entry for a kind wins ---------------

PROJECT_DB = {"kind": "Database", "apiVersion": "db.example/v1", "current": "status.phase == 'Ready'"}
APP_DB = {"kind": "Database", "apiVersion": "db.example/v1", "current": "status.phase == 'Running'"}
PROJECT_CM = {"group": "", "kind": "ConfigMap", "current": "has(data.ready)"}


@pytest.mark.parametrize(
    ("app", "project", "phase", "want"),
    [
        ([], [PROJECT_DB], "Ready", H),  # the project's rule alone
        ([], [PROJECT_DB], "Running", P),
        ([APP_DB], [PROJECT_DB], "Running", H),  # the application's overrides the project's
        ([APP_DB], [PROJECT_DB], "Ready", P),
        ([APP_DB], [], "Running", H),
        ([PROJECT_CM], [PROJECT_DB], "Ready", H),  # rules for other kinds add up
        ([], [], "Ready", None),  # nobody knows a Database: no health
    ],
)
def test_project_cel_rules_under_the_applications(app, project, phase, want):
    checks = healthcel.parse(app).over(healthcel.of_project({"healthChecks": project}))
    got = health.of(database(phase), checks)
    assert (got.status if got else None) == want, got


def test_project_cel_rules_keep_order_and_name_the_project_in_errors():
    merged = healthcel.parse([APP_DB]).over(healthcel.parse([PROJECT_DB, PROJECT_CM]))
    assert [(c.kind, c.current) for c in merged.checks] == [
        ("Database", APP_DB["current"]),
        ("ConfigMap", PROJECT_CM["current"]),
    ]
    assert healthcel.of_project(None) == healthcel.of_project({}) == healthcel.HealthChecks()
    with pytest.raises(SpecError, match=r"^spec\.healthChecks\[0\]\.current: required"):
        healthcel.parse([{"kind": "Database"}], "spec.healthChecks")
    with pytest.raises(SpecError, match="healthChecks: must be a list"):
        healthcel.parse({"kind": "Database"})  # type: ignore[arg-type]
