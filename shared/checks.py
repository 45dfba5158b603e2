"""The security gate: checks every rendered object before anything touches the cluster.

Each check has a stable id, a severity and a default mode. Per application the mode of
any check can be set (`checks: {ID: enforce|warn|off}` in the spec): an `enforce`d
finding blocks the revision (the cluster keeps the last good one), a `warn`ed one is
recorded and shown. One object opts out of one check with the annotation
`gitops.dev/allow-<ID>: <reason>` (the reason is required and recorded).

Findings carry the file, line and column of the field, and the object's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.manifests import ObjectId
from shared.render import Finding, Rendered

Path = tuple[str | int, ...]
POD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
             "ReplicationController")


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    severity: str  # error | warning
    default: str  # enforce | warn | off
    run: Callable[[dict[str, Any]], Iterator[tuple[Path, str]]]


def _pod_spec(obj: dict[str, Any]) -> tuple[Path, dict[str, Any]] | None:
    if obj.get("kind") not in POD_KINDS:
        return None
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return ("spec",), spec
    if obj["kind"] == "CronJob":
        tpl = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        return (("spec", "jobTemplate", "spec", "template", "spec"), tpl) if isinstance(tpl, dict) else None
    tpl = (spec.get("template") or {}).get("spec")
    return (("spec", "template", "spec"), tpl) if isinstance(tpl, dict) else None


def _containers(obj: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(path of the container, the container, the pod spec) for every container and init container."""
    found = _pod_spec(obj)
    if found is None:
        return
    base, pod = found
    for key in ("initContainers", "containers"):
        for i, c in enumerate(pod.get(key) or []):
            if isinstance(c, dict):
                yield (*base, key, i), c, pod


def _privileged(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        if (c.get("securityContext") or {}).get("privileged") is True:
            yield (*path, "securityContext", "privileged"), f"container {c.get('name')} is privileged"


def _escalation(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        value = (c.get("securityContext") or {}).get("allowPrivilegeEscalation")
        if value is not False:
            state = "true" if value is True else "unset (defaults to true)"
            yield (*path, "securityContext", "allowPrivilegeEscalation") if value is True else path, (
                f"container {c.get('name')}: allowPrivilegeEscalation is {state}")


def _non_root(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, pod in _containers(obj):
        value = (c.get("securityContext") or {}).get("runAsNonRoot",
                                                      (pod.get("securityContext") or {}).get("runAsNonRoot"))
        if value is not True:
            yield path, f"container {c.get('name')}: runAsNonRoot is {'false' if value is False else 'unset'}"


def _read_only_root(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield path, f"container {c.get('name')}: readOnlyRootFilesystem is not set"


def _resources(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        res = c.get("resources") or {}
        missing = [f"{kind}.{r}" for kind in ("requests", "limits") for r in ("cpu", "memory")
                   if r not in (res.get(kind) or {})]
        if missing:
            yield path, f"container {c.get('name')}: no {', '.join(missing)}"


def _latest(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        image = str(c.get("image", ""))
        name = image.rsplit("/", 1)[-1]
        if "@" not in image and (":" not in name or name.endswith(":latest")):
            yield (*path, "image"), f"container {c.get('name')}: image {image!r} is untagged or :latest"


def _host_namespaces(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    found = _pod_spec(obj)
    if found is None:
        return
    base, pod = found
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key) is True:
            yield (*base, key), f"{key} is true"


def _host_path(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    found = _pod_spec(obj)
    if found is None:
        return
    base, pod = found
    for i, v in enumerate(pod.get("volumes") or []):
        if isinstance(v, dict) and "hostPath" in v:
            yield (*base, "volumes", i, "hostPath"), f"volume {v.get('name')} mounts a host path"


def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _template_labels(obj: dict[str, Any]) -> dict[str, Any]:
    return ((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}


def _selector_matches_template(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    if obj.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if selector and not _matches(selector, _template_labels(obj)):
        yield ("spec", "selector", "matchLabels"), (
            f"selector {selector} does not match the pod template's labels {_template_labels(obj)}")


CHECKS: tuple[Check, ...] = (
    Check("SEC001", "privileged", "error", "enforce", _privileged),
    Check("SEC002", "privilege-escalation", "error", "warn", _escalation),
    Check("SEC003", "run-as-non-root", "warning", "warn", _non_root),
    Check("SEC004", "read-only-root-filesystem", "warning", "warn", _read_only_root),
    Check("SEC005", "host-namespaces", "error", "enforce", _host_namespaces),
    Check("SEC006", "host-path", "error", "enforce", _host_path),
    Check("RES001", "resources", "warning", "warn", _resources),
    Check("IMG001", "latest-tag", "warning", "warn", _latest),
    Check("XREF002", "selector-matches-template", "error", "enforce", _selector_matches_template),
)
# checks over the whole application rather than one object (run in `run` itself)
NETWORK_POLICY = Check("NET001", "namespace-without-network-policy", "warning", "warn",
                       lambda obj: iter(()))
# (apiVersion, kind) -> (first served, deprecated, removed); "" = not applicable
API_VERSIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    **{("extensions/v1beta1", k): ("", "1.8", "1.16") for k in
       ("Deployment", "DaemonSet", "ReplicaSet", "NetworkPolicy", "PodSecurityPolicy")},
    ("extensions/v1beta1", "Ingress"): ("", "1.14", "1.22"),
    **{(f"apps/{v}", k): ("", "1.9", "1.16") for v in ("v1beta1", "v1beta2")
       for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")},
    ("networking.k8s.io/v1beta1", "Ingress"): ("", "1.19", "1.22"),
    ("networking.k8s.io/v1beta1", "IngressClass"): ("", "1.19", "1.22"),
    ("networking.k8s.io/v1", "Ingress"): ("1.19", "", ""),
    ("policy/v1beta1", "PodDisruptionBudget"): ("", "1.21", "1.25"),
    ("policy/v1beta1", "PodSecurityPolicy"): ("", "1.21", "1.25"),
    ("policy/v1", "PodDisruptionBudget"): ("1.21", "", ""),
    ("batch/v1beta1", "CronJob"): ("", "1.21", "1.25"),
    ("batch/v1", "CronJob"): ("1.21", "", ""),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("", "1.22", "1.25"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("", "1.23", "1.26"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("1.23", "", ""),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): ("", "1.21", "1.25"),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("1.21", "", ""),
    **{("rbac.authorization.k8s.io/v1beta1", k): ("", "1.17", "1.22") for k in
       ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")},
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): ("", "1.16", "1.22"),
    **{("admissionregistration.k8s.io/v1beta1", k): ("", "1.16", "1.22") for k in
       ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")},
}
UNSERVED_API = Check("API001", "api-not-served", "error", "enforce", lambda obj: iter(()))
DEPRECATED_API = Check("API002", "api-deprecated", "warning", "warn", lambda obj: iter(()))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


def _api_findings(obj: dict[str, Any], kube_version: str) -> tuple[Check, str] | None:
    entry = API_VERSIONS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if entry is None or not kube_version:
        return None
    target = _version(kube_version)
    served, deprecated, removed = entry
    api, runs = f"{obj['apiVersion']} {obj['kind']}", f"(the destination runs {kube_version})"
    if removed and target >= _version(removed):
        return UNSERVED_API, f"{api} was removed in Kubernetes {removed} {runs}"
    if served and target < _version(served):
        return UNSERVED_API, f"{api} is served from Kubernetes {served} {runs}"
    if deprecated and target >= _version(deprecated):
        return DEPRECATED_API, (f"{api} is deprecated since Kubernetes {deprecated}"
                                + (f" and removed in {removed}" if removed else ""))
    return None


SERVICE_SELECTS_NOTHING = Check("XREF001", "service-selects-no-pods", "warning", "warn",
                                lambda obj: iter(()))
INGRESS_BACKEND = Check("XREF003", "ingress-backend-missing", "warning", "warn", lambda obj: iter(()))
BY_ID = {c.id: c for c in (*CHECKS, NETWORK_POLICY, SERVICE_SELECTS_NOTHING, INGRESS_BACKEND,
                            UNSERVED_API, DEPRECATED_API)}


@dataclass(frozen=True)
class CheckFinding:
    check: Check
    finding: Finding
    object: str
    mode: str  # enforce | warn

    def __str__(self) -> str:
        f = self.finding
        return f"{f.file}:{f.line}:{f.column}: {self.check.id} {self.check.name}: {f.message} ({self.object})"

    def to_doc(self) -> dict[str, Any]:
        return {**self.finding.to_doc(), "check": self.check.id, "name": self.check.name,
                "severity": self.check.severity, "mode": self.mode, "object": self.object}


def _allowed(obj: dict[str, Any], check_id: str) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(str(annotations.get(f"gitops.dev/allow-{check_id}", "")).strip())


def run(rendered: Rendered, modes: dict[str, str] | None = None,
        default_namespace: str = "default", kube_version: str = "") -> list[CheckFinding]:
    """Every finding of every check over a render, in file order, with its mode.

    `kube_version` (e.g. "1.20") is the destination's version, for the API version checks.
    """
    modes = modes or {}
    out: list[CheckFinding] = []
    namespaces: dict[str, tuple[int, str]] = {}
    policies: set[str] = set()
    for index, (obj, src) in enumerate(zip(rendered.objects, rendered.sources, strict=True)):
        oid = ObjectId.of(obj, default_namespace)
        if obj.get("kind") == "NetworkPolicy":
            policies.add(oid.namespace)
        if oid.namespace and obj.get("kind") in POD_KINDS:
            namespaces.setdefault(oid.namespace, (index, str(oid)))
        api = _api_findings(obj, kube_version)
        if api and modes.get(api[0].id, api[0].default) != "off" and not _allowed(obj, api[0].id):
            line, column = src.position(("apiVersion",))
            out.append(CheckFinding(api[0], Finding(src.file, line, column, "apiVersion", api[1]),
                                    str(oid), modes.get(api[0].id, api[0].default)))
        for check in CHECKS:
            mode = modes.get(check.id, check.default)
            if mode == "off" or _allowed(obj, check.id):
                continue
            for path, message in check.run(obj):
                line, column = src.position(path)
                out.append(CheckFinding(check, Finding(src.file, line, column, _dotted(path), message),
                                        str(oid), mode))
    out += _cross_references(rendered, modes, default_namespace)
    mode = modes.get(NETWORK_POLICY.id, NETWORK_POLICY.default)
    for ns, (index, first) in sorted(namespaces.items()):
        if mode != "off" and ns not in policies:
            src = rendered.sources[index]
            out.append(CheckFinding(NETWORK_POLICY, Finding(
                src.file, src.line, 1, "", f"namespace {ns} has workloads and no NetworkPolicy in this app"),
                first, mode))
    return out


def _cross_references(rendered: Rendered, modes: dict[str, str],
                      default_namespace: str) -> list[CheckFinding]:
    """Links inside the application: Services that select no pod template, Ingress backends
    naming a Service (or port) the application does not define."""
    objs = list(zip(rendered.objects, rendered.sources, strict=True))
    templates = [(ObjectId.of(o, default_namespace).namespace, _template_labels(o)
                  or ((o.get("metadata") or {}).get("labels") or {} if o.get("kind") == "Pod" else {}))
                 for o, _ in objs if o.get("kind") in POD_KINDS]
    services = {(ObjectId.of(o, default_namespace).namespace, o["metadata"]["name"]): o
                for o, _ in objs if o.get("kind") == "Service"}
    out: list[CheckFinding] = []
    for obj, src in objs:
        oid = ObjectId.of(obj, default_namespace)
        if obj.get("kind") == "Service" and modes.get("XREF001", "warn") != "off":
            selector = (obj.get("spec") or {}).get("selector") or {}
            if selector and templates and not any(ns == oid.namespace and _matches(selector, labels)
                                                  for ns, labels in templates):
                line, col = src.position(("spec", "selector"))
                out.append(CheckFinding(SERVICE_SELECTS_NOTHING, Finding(
                    src.file, line, col, "spec.selector",
                    f"selector {selector} matches no pod template in this application"),
                    str(oid), modes.get("XREF001", "warn")))
        if obj.get("kind") == "Ingress" and modes.get("XREF003", "warn") != "off":
            for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
                for j, p in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
                    backend = ((p or {}).get("backend") or {}).get("service") or {}
                    svc = services.get((oid.namespace, backend.get("name")))
                    number = (backend.get("port") or {}).get("number")
                    ports = [q.get("port") for q in ((svc or {}).get("spec") or {}).get("ports") or []]
                    problem = (f"Service {backend.get('name')!r} is not in this application" if svc is None
                               else f"Service {backend.get('name')!r} has no port {number}"
                               if number is not None and number not in ports else "")
                    if backend and problem:
                        path = ("spec", "rules", i, "http", "paths", j, "backend", "service")
                        line, col = src.position(path)
                        out.append(CheckFinding(INGRESS_BACKEND, Finding(
                            src.file, line, col, _dotted(path), problem), str(oid),
                            modes.get("XREF003", "warn")))
    return out


def blocking(findings: list[CheckFinding]) -> list[CheckFinding]:
    return [f for f in findings if f.mode == "enforce"]


def _dotted(path: Path) -> str:
    text = ""
    for seg in path:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else seg)
    return text
