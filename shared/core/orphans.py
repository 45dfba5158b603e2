"""Orphaned resources: objects in an application's destination namespaces that no
application owns, as Argo CD's project setting `orphanedResources` reports them.

Opt-in per project, Argo CD's shape:

    orphanedResources:
      warn: true                                   # a warning on the application, not just a list
      ignore: [{group: "", kind: ConfigMap, name: "team-*"}]   # globs; kind and name optional

What is never an orphan (Argo CD skips the same): an object with ownerReferences (a
controller made it: a ReplicaSet's Pods, a Job's Pods), an object an application tracks
(our tracking label), the namespace's own `default` ServiceAccount and `kube-root-ca.crt`
ConfigMap, the `kubernetes` Service in `default`, the token Secrets Kubernetes before 1.24
makes for ServiceAccounts (`{account}-token-{suffix}`), and the kinds Argo CD's resource
exclusions leave out by default (Events, Endpoints, EndpointSlices, Leases).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from shared.core.errors import SpecError
from shared.core.manifests import ObjectId

# (group, kind) Argo CD's default resource exclusions leave out of its cache
EXCLUDED_KINDS = frozenset(
    {
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "Endpoints"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("coordination.k8s.io", "Lease"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "LocalSubjectAccessReview"),
        ("metrics.k8s.io", "PodMetrics"),
    }
)
# (group, kind, name) every namespace has, made by Kubernetes itself
KNOWN = frozenset({("", "ServiceAccount", "default"), ("", "ConfigMap", "kube-root-ca.crt")})
MAX_LISTED = 100  # orphans named on the application (the count is exact)


@dataclass(frozen=True)
class Settings:
    """A project's orphanedResources: watched when set at all; `warn` raises a warning."""

    warn: bool = False
    ignore: tuple[dict[str, str], ...] = ()

    @classmethod
    def of(cls, project: dict[str, Any] | None) -> Settings | None:
        """The project's settings; None when it does not watch orphaned resources."""
        doc = (project or {}).get("orphanedResources")
        if doc is None:
            return None
        validate(doc)
        return cls(warn=bool(doc.get("warn")), ignore=tuple(dict(i) for i in doc.get("ignore") or ()))


def validate(doc: Any) -> None:
    """Raise SpecError naming the field for a malformed orphanedResources."""
    if not isinstance(doc, dict):
        raise SpecError("orphanedResources: must be a map {warn, ignore}")
    unknown = set(doc) - {"warn", "ignore"}
    if unknown:
        raise SpecError(f"orphanedResources.{sorted(unknown)[0]}: unknown field (warn, ignore)")
    if not isinstance(doc.get("warn", False), bool):
        raise SpecError("orphanedResources.warn: must be true or false")
    ignore = doc.get("ignore") or []
    if not isinstance(ignore, list):
        raise SpecError("orphanedResources.ignore: must be a list of {group, kind, name}")
    for i, item in enumerate(ignore):
        if not isinstance(item, dict) or set(item) - {"group", "kind", "name"}:
            raise SpecError(f"orphanedResources.ignore[{i}]: must be a map of group, kind and name")
        if not all(isinstance(v, str) for v in item.values()):
            raise SpecError(f"orphanedResources.ignore[{i}]: group, kind and name must be strings")


# ours, not an application's: the RBAC `gitops project rbac` installs for a project's account
PROJECT_RBAC_LABEL = "gitops.dev/project"


def is_orphan(obj: dict[str, Any], settings: Settings, tracking_label: str) -> bool:
    """Whether a live object is an orphan under the project's settings (see the module)."""
    oid = ObjectId.of(obj)
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if meta.get("ownerReferences") or tracking_label in labels or PROJECT_RBAC_LABEL in labels:
        return False
    if (oid.group, oid.kind) in EXCLUDED_KINDS or (oid.group, oid.kind, oid.name) in KNOWN:
        return False
    if (oid.group, oid.kind, oid.namespace, oid.name) == ("", "Service", "default", "kubernetes"):
        return False
    if _service_account_token(obj):
        return False
    return not any(_ignored(rule, oid) for rule in settings.ignore)


def _service_account_token(obj: dict[str, Any]) -> bool:
    """A token Secret the token controller of Kubernetes before 1.24 made for a ServiceAccount
    (named after it, `{account}-token-{suffix}`): Kubernetes' own, like the account."""
    meta = obj.get("metadata") or {}
    account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
    return (
        obj.get("kind") == "Secret"
        and obj.get("type") == "kubernetes.io/service-account-token"
        and bool(account)
        and str(meta.get("name", "")).startswith(f"{account}-token-")
    )


def _ignored(rule: dict[str, str], oid: ObjectId) -> bool:
    kind, name = rule.get("kind") or "", rule.get("name") or ""
    return (
        (not kind or fnmatch.fnmatchcase(oid.kind, kind))
        and fnmatch.fnmatchcase(oid.group, rule.get("group") or "")
        and (not name or fnmatch.fnmatchcase(oid.name, name))
    )


def find(live: list[dict[str, Any]], settings: Settings, tracking_label: str) -> list[ObjectId]:
    """The orphans among the live objects of the destination namespaces, sorted."""
    return sorted({ObjectId.of(o) for o in live if is_orphan(o, settings, tracking_label)})


def message(orphans: list[ObjectId]) -> str:
    """The warning shown on the application (Argo CD's OrphanedResourceWarning)."""
    shown = ", ".join(str(o) for o in orphans[:5])
    more = f" and {len(orphans) - 5} more" if len(orphans) > 5 else ""
    return f"{len(orphans)} orphaned resource{'s' if len(orphans) != 1 else ''}: {shown}{more}"
