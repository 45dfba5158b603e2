"""The security gate: checks every rendered object before anything touches the cluster.

Each check has a stable id, a severity and a default mode. Per application the mode of
any check can be set (`checks: {ID: enforce|warn|off}` in the spec): an `enforce`d
finding blocks the revision (the cluster keeps the last good one), a `warn`ed one is
recorded and shown. One object opts out of one check with the annotation
`gitops.dev/allow-<ID>: <reason>` (the reason is required and recorded).

Findings carry the file, line and column of the field, and the object's identity.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.core import syncoptions
from shared.core.findings import Finding
from shared.core.manifests import ObjectId
from shared.gate import schema
from shared.platform import config, logs
from shared.render.parse import Rendered, without_gc

Path = tuple[str | int, ...]
POD_KINDS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
)


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    severity: str  # error | warning
    default: str  # enforce | warn | off
    run: Callable[[dict[str, Any]], Iterator[tuple[Path, str]]]
    kinds: tuple[str, ...] = POD_KINDS  # the kinds it looks at (others are skipped unasked)


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
            yield (
                (*path, "securityContext", "allowPrivilegeEscalation") if value is True else path,
                (f"container {c.get('name')}: allowPrivilegeEscalation is {state}"),
            )


def _non_root(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, pod in _containers(obj):
        value = (c.get("securityContext") or {}).get(
            "runAsNonRoot", (pod.get("securityContext") or {}).get("runAsNonRoot")
        )
        if value is not True:
            yield path, f"container {c.get('name')}: runAsNonRoot is {'false' if value is False else 'unset'}"


def _read_only_root(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield path, f"container {c.get('name')}: readOnlyRootFilesystem is not set"


def _resources(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for path, c, _ in _containers(obj):
        res = c.get("resources") or {}
        missing = [
            f"{kind}.{r}"
            for kind in ("requests", "limits")
            for r in ("cpu", "memory")
            if r not in (res.get(kind) or {})
        ]
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


def _secret_in_git(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return
    for key in ("data", "stringData"):
        values = obj.get(key)
        if isinstance(values, dict) and values:
            # names only: the values never reach a finding, a log or Firestore
            names = ", ".join(sorted(map(str, values)))
            yield (
                (key,),
                (
                    f"{len(values)} value(s) in plain text in Git ({names}); base64 is not "
                    "encryption: use Sealed Secrets, SOPS or External Secrets"
                ),
            )


def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _template_labels(obj: dict[str, Any]) -> dict[str, Any]:
    return ((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}


def _selector_matches_template(obj: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    if obj.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if selector and not _matches(selector, _template_labels(obj)):
        yield (
            ("spec", "selector", "matchLabels"),
            (f"selector {selector} does not match the pod template's labels {_template_labels(obj)}"),
        )


CHECKS: tuple[Check, ...] = (
    Check("SEC001", "privileged", "error", "enforce", _privileged),
    Check("SEC002", "privilege-escalation", "error", "warn", _escalation),
    Check("SEC003", "run-as-non-root", "warning", "warn", _non_root),
    Check("SEC004", "read-only-root-filesystem", "warning", "warn", _read_only_root),
    Check("SEC005", "host-namespaces", "error", "enforce", _host_namespaces),
    Check("SEC006", "host-path", "error", "enforce", _host_path),
    Check("SEC007", "secret-in-git", "warning", "warn", _secret_in_git, kinds=("Secret",)),
    Check("RES001", "resources", "warning", "warn", _resources),
    Check("IMG001", "latest-tag", "warning", "warn", _latest),
    Check("XREF002", "selector-matches-template", "error", "enforce", _selector_matches_template),
)
# checks over the whole application rather than one object (run in `run` itself)
NETWORK_POLICY = Check("NET001", "namespace-without-network-policy", "warning", "warn", lambda obj: iter(()))
# (apiVersion, kind) -> (first served, deprecated, removed); "" = not applicable.
# Every removal from 1.16 to 1.32 (the Kubernetes deprecated-API migration guide), and where the
# replacement was first served, for destinations older than that.
API_VERSIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    **{
        ("extensions/v1beta1", k): ("", "1.8", "1.16")
        for k in ("Deployment", "DaemonSet", "ReplicaSet", "NetworkPolicy", "PodSecurityPolicy")
    },
    ("extensions/v1beta1", "Ingress"): ("", "1.14", "1.22"),
    **{
        (f"apps/{v}", k): ("", "1.9", "1.16")
        for v in ("v1beta1", "v1beta2")
        for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
    },
    ("networking.k8s.io/v1beta1", "Ingress"): ("", "1.19", "1.22"),
    ("networking.k8s.io/v1beta1", "IngressClass"): ("", "1.19", "1.22"),
    ("networking.k8s.io/v1", "Ingress"): ("1.19", "", ""),
    ("networking.k8s.io/v1", "IngressClass"): ("1.19", "", ""),
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
    ("events.k8s.io/v1beta1", "Event"): ("", "1.19", "1.25"),
    ("events.k8s.io/v1", "Event"): ("1.19", "", ""),
    ("node.k8s.io/v1beta1", "RuntimeClass"): ("", "1.20", "1.25"),
    ("node.k8s.io/v1", "RuntimeClass"): ("1.20", "", ""),
    **{
        ("rbac.authorization.k8s.io/v1beta1", k): ("", "1.17", "1.22")
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): ("", "1.16", "1.22"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("1.16", "", ""),
    **{
        ("admissionregistration.k8s.io/v1beta1", k): ("", "1.16", "1.22")
        for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    },
    **{
        ("admissionregistration.k8s.io/v1", k): ("1.16", "", "")
        for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    },
    ("apiregistration.k8s.io/v1beta1", "APIService"): ("", "1.19", "1.22"),
    ("authentication.k8s.io/v1beta1", "TokenReview"): ("", "1.19", "1.22"),
    **{
        ("authorization.k8s.io/v1beta1", k): ("", "1.19", "1.22")
        for k in ("SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview")
    },
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"): ("", "1.19", "1.22"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): ("1.19", "", ""),
    ("coordination.k8s.io/v1beta1", "Lease"): ("", "1.19", "1.22"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): ("", "1.14", "1.22"),
    **{
        ("storage.k8s.io/v1beta1", k): ("", "1.19", "1.22")
        for k in ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment")
    },
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): ("", "1.24", "1.27"),
    ("storage.k8s.io/v1", "CSIStorageCapacity"): ("1.24", "", ""),
    **{
        (f"flowcontrol.apiserver.k8s.io/{v}", k): ("", deprecated, removed)
        for v, deprecated, removed in (
            ("v1beta1", "1.23", "1.26"),
            ("v1beta2", "1.26", "1.29"),
            ("v1beta3", "1.29", "1.32"),
        )
        for k in ("FlowSchema", "PriorityLevelConfiguration")
    },
    **{
        ("flowcontrol.apiserver.k8s.io/v1", k): ("1.29", "", "")
        for k in ("FlowSchema", "PriorityLevelConfiguration")
    },
}
UNSERVED_API = Check("API001", "api-not-served", "error", "enforce", lambda obj: iter(()))
DEPRECATED_API = Check("API002", "api-deprecated", "warning", "warn", lambda obj: iter(()))


@functools.cache
def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


@functools.cache
def newest_known() -> str:
    """The newest Kubernetes version this tool knows: its newest bundled schema, or the newest
    version the API table names, whichever is later."""
    table = [_version(v) for entry in API_VERSIONS.values() for v in entry if v]
    newest = max([*table, *schema.bundled()])
    return ".".join(str(n) for n in newest)


def _api_findings(obj: dict[str, Any], kube_version: str) -> tuple[Check, str] | None:
    """API001/API002 for an apiVersion the destination does not serve or deprecates. With no
    destination version, judged against the newest version known, and the finding says so."""
    entry = API_VERSIONS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if entry is None:
        return None
    judged = kube_version or newest_known()
    target = _version(judged)
    served, deprecated, removed = entry
    runs = (
        f"(the destination runs {kube_version})"
        if kube_version
        else f"(no destination version given: judged against Kubernetes {judged}, the newest this tool knows)"
    )
    api = f"{obj['apiVersion']} {obj['kind']}"
    if removed and target >= _version(removed):
        return UNSERVED_API, f"{api} was removed in Kubernetes {removed} {runs}"
    if served and target < _version(served):
        return UNSERVED_API, f"{api} is served from Kubernetes {served} {runs}"
    if deprecated and target >= _version(deprecated):
        return DEPRECATED_API, (
            f"{api} is deprecated since Kubernetes {deprecated}"
            + (f" and removed in {removed}" if removed else "")
            + ("" if kube_version else f" {runs}")
        )
    return None


SERVICE_SELECTS_NOTHING = Check("XREF001", "service-selects-no-pods", "warning", "warn", lambda obj: iter(()))
INGRESS_BACKEND = Check("XREF003", "ingress-backend-missing", "warning", "warn", lambda obj: iter(()))
MISSING_REFERENCE = Check("XREF004", "reference-not-in-app", "warning", "warn", lambda obj: iter(()))
SCHEMA = Check("SCH001", "schema", "error", "enforce", lambda obj: iter(()))
SCHEMA_UNKNOWN = Check("SCH002", "schema-unknown-kind", "warning", "warn", lambda obj: iter(()))
BY_ID = {
    c.id: c
    for c in (
        *CHECKS,
        NETWORK_POLICY,
        SERVICE_SELECTS_NOTHING,
        INGRESS_BACKEND,
        MISSING_REFERENCE,
        UNSERVED_API,
        DEPRECATED_API,
        SCHEMA,
        SCHEMA_UNKNOWN,
    )
}
_ALLOW = "gitops.dev/allow-"


@dataclass(frozen=True)
class CheckFinding:
    check: Check
    finding: Finding
    object: str
    mode: str  # enforce | warn

    def __str__(self) -> str:
        f = self.finding
        field = f"{f.field}: " if f.field else ""
        return (
            f"{f.file}:{f.line}:{f.column}: {self.check.id} {self.check.name}: {field}{f.message} "
            f"({self.object})"
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            **self.finding.to_doc(),
            "check": self.check.id,
            "name": self.check.name,
            "severity": self.check.severity,
            "mode": self.mode,
            "object": self.object,
        }


def _allowances(obj: dict[str, Any]) -> set[str]:
    """Check ids this object opts out of (`gitops.dev/allow-<ID>: <reason>`, reason required)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return set()
    return {
        k[len(_ALLOW) :]
        for k, v in annotations.items()
        if isinstance(k, str) and k.startswith(_ALLOW) and str(v).strip()
    }


class _Gate:
    """One run of the gate: modes, opt-outs, and findings placed at their source positions."""

    def __init__(self, rendered: Rendered, modes: dict[str, str], ids: list[ObjectId]) -> None:
        self.rendered, self.modes, self.ids = rendered, modes, ids
        self.allow = [
            _allowances(o) if (o.get("metadata") or {}).get("annotations") else set()
            for o in rendered.objects
        ]
        self.found: list[tuple[Check, int, Path, str, str]] = []  # placed at the end, file by file

    def mode(self, check: Check) -> str:
        return self.modes.get(check.id, check.default)

    def add(self, check: Check, index: int, path: Path, message: str) -> None:
        mode = self.mode(check)
        if mode == "off" or check.id in self.allow[index]:
            return
        self.found.append((check, index, path, message, mode))

    def findings(self) -> list[CheckFinding]:
        """The findings in the order found, each at its file, line and column. Placed file by
        file (the objects are in file order), each file's YAML composed once and let go when
        its last finding is placed: the nodes of every file of a large render at once would be
        hundreds of MiB (and each garbage collection would walk them all)."""
        sources = self.rendered.sources
        placed: list[tuple[int, int]] = [(0, 0)] * len(self.found)
        previous = None
        for n in sorted(range(len(self.found)), key=lambda n: self.found[n][1]):
            src = sources[self.found[n][1]]
            if previous is not None and previous.file != src.file:
                previous.release()
            placed[n], previous = src.position(self.found[n][2]), src
        if previous is not None:
            previous.release()
        return [
            CheckFinding(
                check,
                Finding(sources[index].file, *place, _dotted(path), message),
                str(self.ids[index]),
                mode,
            )
            for (check, index, path, message, mode), place in zip(self.found, placed, strict=True)
        ]


def run(
    rendered: Rendered,
    modes: dict[str, str] | None = None,
    default_namespace: str = "default",
    kube_version: str = "",
    sync_options: tuple[str, ...] = (),
) -> list[CheckFinding]:
    """Every finding of every check over a render, in file order, with its mode.

    `kube_version` (e.g. "1.20") is the destination's version, for the API version checks and
    the schemas (the nearest bundled version when its own is not bundled; "" = the newest,
    which the API version findings then name).
    `sync_options`: the application's; with Validate=false (or an object's own sync-options
    annotation saying it) the schema checks skip the object, as `kubectl --validate=false`.
    """
    with without_gc():
        return _run(rendered, modes or {}, default_namespace, kube_version, sync_options)


def _unvalidated(obj: dict[str, Any], sync_options: tuple[str, ...]) -> bool:
    """Validate=false for this object (its annotation first, then the application's)."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    own = (
        syncoptions.of_annotations(annotations, (config.ANNOTATION_OPTIONS, config.ARGO_ANNOTATION_OPTIONS))
        if isinstance(annotations, dict)
        else {}
    )
    return syncoptions.disabled("Validate", sync_options, own)


def _run(
    rendered: Rendered,
    modes: dict[str, str],
    default_namespace: str,
    kube_version: str,
    sync_options: tuple[str, ...] = (),
) -> list[CheckFinding]:
    objs = rendered.objects
    ids = [ObjectId.of(o, default_namespace) for o in objs]
    gate = _Gate(rendered, modes, ids)
    active = [c for c in CHECKS if gate.mode(c) != "off"]
    validate = gate.mode(SCHEMA) != "off" or gate.mode(SCHEMA_UNKNOWN) != "off"
    validator = _SchemaRun(objs, kube_version) if validate else None
    namespaces: dict[str, int] = {}
    policies: set[str] = set()
    for index, (obj, oid) in enumerate(zip(objs, ids, strict=True)):
        kind = obj.get("kind")
        if kind == "NetworkPolicy":
            policies.add(oid.namespace)
        if oid.namespace and kind in POD_KINDS:
            namespaces.setdefault(oid.namespace, index)
        api = _api_findings(obj, kube_version)
        if api:
            gate.add(api[0], index, ("apiVersion",), api[1])
        allow = gate.allow[index]
        for check in active:
            if check.id in allow or kind not in check.kinds:
                continue
            for path, message in check.run(obj):
                gate.add(check, index, path, message)
        if validator is not None and not _unvalidated(obj, sync_options):
            for check, path, message in validator.check(obj):
                gate.add(check, index, path, message)
    _cross_references(gate)
    for ns, index in sorted(namespaces.items()):
        if ns not in policies:
            gate.add(
                NETWORK_POLICY, index, (), f"namespace {ns} has workloads and no NetworkPolicy in this app"
            )
    return gate.findings()


class _SchemaRun:
    """Schema validation for one render: built-in kinds against the bundled schemas of the
    destination's version, custom resources against the render's own CRDs."""

    def __init__(self, objs: list[dict[str, Any]], kube_version: str) -> None:
        self.version, exact = schema.choose(kube_version)
        self.schemas = schema.schemas(self.version)
        self.note = (
            ""
            if exact
            else (
                f" (Kubernetes {self.version} schema; the destination's {kube_version} is not bundled)"
                if kube_version
                else f" (Kubernetes {self.version} schema; destination version unknown)"
            )
        )
        if not exact:
            _log_version_once(kube_version, self.version)
        self.crds = schema.crd_rules(
            (
                o
                for o in objs
                if o.get("kind") == "CustomResourceDefinition"
                and str(o.get("apiVersion", "")).startswith("apiextensions.k8s.io/")
            ),
            self.schemas.object_meta,
        )

    def check(self, obj: dict[str, Any]) -> Iterator[tuple[Check, Path, str]]:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        rule = self.schemas.rule(*key) or self.crds.get(key)
        if rule is None:
            group = key[0].rsplit("/", 1)[0] if "/" in key[0] else ""
            what = (
                f"{key[0]} {key[1]} is not in the Kubernetes {self.version} schema"
                if group in self.schemas.groups
                else f"unknown kind {key[1]} ({key[0]}) and no CustomResourceDefinition for it in this app"
            )
            yield SCHEMA_UNKNOWN, ("apiVersion",), f"{what}: not validated"
            return
        problems: list[schema.Problem] = []
        schema.walk(rule, obj, (), problems)
        for path, message in problems[: schema.MAX_PROBLEMS]:
            yield SCHEMA, path, message + self.note


@functools.cache
def _log_version_once(wanted: str, used: str) -> None:
    logs.info(
        "schema version is not the destination's",
        destination=wanted or "unknown",
        schema=used,
        bundled=[f"{a}.{b}" for a, b in schema.bundled()],
    )


_REF_KINDS = ("ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim")


def _pod_references(pod: dict[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """(path inside the pod spec, kind, name) of every ConfigMap/Secret/ServiceAccount/PVC the
    pod needs (optional references left out)."""
    for key in ("serviceAccountName", "serviceAccount"):
        name = pod.get(key)
        if isinstance(name, str) and name and name != "default":
            yield (key,), "ServiceAccount", name
            break
    for i, ref in enumerate(pod.get("imagePullSecrets") or []):
        if isinstance(ref, dict) and ref.get("name"):
            yield ("imagePullSecrets", i, "name"), "Secret", ref["name"]
    for i, vol in enumerate(pod.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        for key, kind, field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "claimName"),
        ):
            src = vol.get(key)
            if isinstance(src, dict) and src.get(field) and not src.get("optional"):
                yield ("volumes", i, key, field), kind, src[field]
        for j, proj in enumerate((vol.get("projected") or {}).get("sources") or []):
            for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                src = (proj or {}).get(key)
                if isinstance(src, dict) and src.get("name") and not src.get("optional"):
                    yield ("volumes", i, "projected", "sources", j, key, "name"), kind, src["name"]
    for group in ("initContainers", "containers"):
        for i, c in enumerate(pod.get(group) or []):
            if not isinstance(c, dict):
                continue
            for j, env_from in enumerate(c.get("envFrom") or []):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    ref = (env_from or {}).get(key)
                    if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                        yield (group, i, "envFrom", j, key, "name"), kind, ref["name"]
            for j, env in enumerate(c.get("env") or []):
                source = (env or {}).get("valueFrom") or {}
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    ref = source.get(key)
                    if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                        yield (group, i, "env", j, "valueFrom", key, "name"), kind, ref["name"]


def _ingress_backends(obj: dict[str, Any]) -> Iterator[tuple[Path, Any, Any]]:
    """(path, service name, port number or name) of every backend of an Ingress, in both the
    networking.k8s.io/v1 shape (service: {name, port: {number|name}}) and the v1beta1 one
    (serviceName, servicePort)."""
    spec = obj.get("spec") or {}
    found: list[tuple[Path, Any]] = [
        (("spec", key), spec[key]) for key in ("defaultBackend", "backend") if isinstance(spec.get(key), dict)
    ]
    for i, rule in enumerate(spec.get("rules") or []):
        for j, p in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
            if isinstance((p or {}).get("backend"), dict):
                found.append((("spec", "rules", i, "http", "paths", j, "backend"), p["backend"]))
    for path, backend in found:
        if isinstance(backend.get("service"), dict):
            svc = backend["service"]
            port = svc.get("port") or {}
            yield (*path, "service"), svc.get("name"), port.get("number", port.get("name"))
        elif "serviceName" in backend:
            yield (*path, "serviceName"), backend.get("serviceName"), backend.get("servicePort")


class _Templates:
    """The labels of a render's pod templates, indexed by namespace and by (namespace, label,
    value), so that a Service searches only the templates that carry the rarest of its
    selector's pairs (all of them carrying `app: shop` is common), not all of them; and each
    selector once (Services sharing one that no template carries whole would each search
    thousands of templates)."""

    def __init__(self) -> None:
        self.by_pair: dict[tuple[str, Any, Any], list[dict[str, Any]]] = {}
        self.by_namespace: dict[str, list[dict[str, Any]]] = {}
        self.answers: dict[tuple[str, frozenset[tuple[Any, Any]]], bool] = {}

    def add(self, namespace: str, labels: dict[str, Any]) -> None:
        self.by_namespace.setdefault(namespace, []).append(labels)
        for key, value in labels.items():
            if isinstance(value, Hashable):  # a list or a map is no label (the schema says so)
                self.by_pair.setdefault((namespace, key, value), []).append(labels)

    def selected(self, namespace: str, selector: dict[str, Any]) -> bool:
        """Whether a template in the namespace carries every pair of the selector."""
        if not all(isinstance(v, Hashable) for v in selector.values()):
            return self._search(namespace, selector)
        key = (namespace, frozenset(selector.items()))
        found = self.answers.get(key)
        if found is None:
            found = self.answers[key] = self._search(namespace, selector)
        return found

    def _search(self, namespace: str, selector: dict[str, Any]) -> bool:
        lists = []
        for key, value in selector.items():
            if isinstance(value, Hashable):
                found = self.by_pair.get((namespace, key, value))
                if found is None:
                    return False
                lists.append(found)
        candidates = min(lists, key=len) if lists else self.by_namespace.get(namespace, [])
        return any(_matches(selector, labels) for labels in candidates)


def _cross_references(gate: _Gate) -> None:
    """Links inside the application: Services that select no pod template, Ingress backends
    naming a Service (or port) the application does not define, pods needing a ConfigMap,
    Secret, ServiceAccount or PersistentVolumeClaim the application does not define."""
    objs, ids = gate.rendered.objects, gate.ids
    templates = _Templates()
    services: dict[tuple[str, str], dict[str, Any]] = {}
    ports: dict[tuple[str, str], set[Any]] = {}  # a Service's port numbers and names, once asked
    defined: set[tuple[str, str, str]] = set()
    any_template = False
    for obj, oid in zip(objs, ids, strict=True):
        kind = obj.get("kind")
        if kind in POD_KINDS:
            labels = (
                _template_labels(obj) if kind != "Pod" else (obj.get("metadata") or {}).get("labels") or {}
            )
            any_template = True
            if isinstance(labels, dict):
                templates.add(oid.namespace, labels)
        elif kind == "Service":
            services[(oid.namespace, oid.name)] = obj
        if kind in _REF_KINDS:
            defined.add((kind, oid.namespace, oid.name))
    for index, (obj, oid) in enumerate(zip(objs, ids, strict=True)):
        kind = obj.get("kind")
        if kind == "Service":
            selector = (obj.get("spec") or {}).get("selector") or {}
            if (
                selector
                and isinstance(selector, dict)
                and any_template
                and not templates.selected(oid.namespace, selector)
            ):
                gate.add(
                    SERVICE_SELECTS_NOTHING,
                    index,
                    ("spec", "selector"),
                    f"selector {selector} matches no pod template in this application",
                )
        elif kind == "Ingress":
            for path, name, port in _ingress_backends(obj):
                svc = services.get((oid.namespace, name)) if isinstance(name, str) else None
                problem = (
                    f"Service {name!r} is not in this application"
                    if svc is None
                    else f"Service {name!r} has no port {port!r}"
                    if port is not None and port not in _ports(ports, (oid.namespace, name), svc)
                    else ""
                )
                if problem:
                    gate.add(INGRESS_BACKEND, index, path, problem)
        elif kind in POD_KINDS:
            found = _pod_spec(obj)
            if found is None:
                continue
            base, pod = found
            for path, ref_kind, name in _pod_references(pod):
                if (ref_kind, oid.namespace, name) not in defined:
                    gate.add(
                        MISSING_REFERENCE,
                        index,
                        (*base, *path),
                        f"{ref_kind} {name!r} is not in this application (it may exist in the cluster)",
                    )


def _ports(known: dict[tuple[str, str], set[Any]], key: tuple[str, str], svc: dict[str, Any]) -> set[Any]:
    """The Service's port numbers and names, read once per Service (an Ingress of many paths
    to one Service of many ports asks again and again)."""
    found = known.get(key)
    if found is None:
        ports = (svc.get("spec") or {}).get("ports") or []
        found = known[key] = {q.get("port") for q in ports if isinstance(q, dict)} | {
            q.get("name") for q in ports if isinstance(q, dict) and q.get("name")
        }
    return found


def blocking(findings: list[CheckFinding]) -> list[CheckFinding]:
    return [f for f in findings if f.mode == "enforce"]


def _dotted(path: Path) -> str:
    text = ""
    for seg in path:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else seg)
    return text
