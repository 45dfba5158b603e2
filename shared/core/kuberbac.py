"""Tenancy the API server enforces: each project's own ServiceAccount and its RBAC.

Our project checks (shared/core/projects.py) refuse an object outside a project before any
write. So a bug in them cannot write outside a project, the apply and audit functions do not
write as themselves: their kube client impersonates the project's ServiceAccount
(`Impersonate-User: system:serviceaccount:gitops-projects:project-NAME`), Flux's
`serviceAccountName` model, and the API server's RBAC holds that account to the project.
The functions' own identity keeps only `impersonate` on those accounts (infra/kubernetes).

`generate` turns a project's destinations and kinds into that RBAC for one cluster, like
`flux create tenant`: the destination namespaces, the ServiceAccount, a ClusterRole of the
namespaced kinds bound in each destination namespace by a RoleBinding (or cluster-wide when
the project allows every namespace), and a ClusterRole of the cluster-scoped kinds, with
`get`/`patch` on the destination Namespaces themselves (CreateNamespace creates one with a
server-side apply, a PATCH naming it).

RBAC only adds, so what it cannot say is refused or reported, never silently widened:
- a namespace pattern other than `*` (`team-*`): RBAC binds named namespaces; refused;
- a cluster-scoped kind `*` while the namespaces are limited: a cluster-wide grant of every
  resource includes every namespaced resource in every namespace; refused;
- blacklists (namespaceResourceBlacklist, clusterResourceBlacklist): RBAC cannot subtract;
  enforced by our check alone, and said so in the notes printed with the YAML.

Kinds become resources (RBAC names plurals) as Kubernetes guesses them
(meta.UnsafeGuessKindToResource: lower case, `s`, `es` after s/x/z/ch/sh, `ies` after a
consonant's `y`), with the irregular built-in kinds in IRREGULAR.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "gitops-projects"  # where the projects' ServiceAccounts live
PREFIX = "gitops-project"  # of the roles and bindings: gitops-project:NAME[:cluster]
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
NAMESPACE_VERBS = ["get", "patch"]  # read a destination namespace; create it (SSA) when missing
IRREGULAR = {"Endpoints": "endpoints"}
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GLOB = re.compile(r"[*?\[]")


class RbacError(ValueError):
    """A project whose rules RBAC cannot express without granting more."""


def service_account(project: str) -> tuple[str, str]:
    """(namespace, name) of the project's ServiceAccount."""
    name = f"project-{project}"
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        raise RbacError(f"project {project!r}: {name!r} is not a valid ServiceAccount name")
    return NAMESPACE, name


def impersonated_user(project: str) -> str:
    """The user name the apply and audit functions act as for a project's applications."""
    namespace, name = service_account(project)
    return f"system:serviceaccount:{namespace}:{name}"


def resource_of(kind: str) -> str:
    """The resource (plural) of a kind, as Kubernetes guesses it; `*` stays `*`."""
    if kind == "*" or kind in IRREGULAR:
        return IRREGULAR.get(kind, kind)
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def _rules(project_name: str, field_name: str, kinds: list[dict[str, str]]) -> list[dict[str, Any]]:
    """PolicyRules of a kind list, one per API group (in the order first seen)."""
    by_group: dict[str, list[str]] = {}
    for rule in kinds:
        group, kind = rule.get("group", "*"), rule.get("kind", "*")
        for value, what in ((group, "group"), (kind, "kind")):
            if value != "*" and _GLOB.search(value):
                raise RbacError(
                    f"project {project_name!r} {field_name}: {what} pattern {value!r}: RBAC names "
                    "groups and kinds exactly (or '*')"
                )
        resources = by_group.setdefault(group, [])
        if resource_of(kind) not in resources:
            resources.append(resource_of(kind))
    return [
        {"apiGroups": [group], "resources": ["*"] if "*" in resources else resources, "verbs": list(VERBS)}
        for group, resources in by_group.items()
    ]


@dataclass
class Generated:
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what RBAC leaves to our checks


def generate(project_name: str, project: dict[str, Any], cluster: str) -> Generated:
    """The RBAC (and namespaces) that hold `project`'s ServiceAccount to the project on
    `cluster` (a destination name: the project's destinations whose cluster pattern matches)."""
    ns, sa = service_account(project_name)
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    out = Generated()
    namespaces: list[str] = []
    every_namespace = False
    for dest in project.get("destinations") or []:
        if not fnmatch.fnmatchcase(cluster, dest.get("cluster", "*")):
            continue
        pattern = dest.get("namespace", "*")
        if pattern == "*":
            every_namespace = True
        elif _GLOB.search(pattern):
            raise RbacError(
                f"project {project_name!r} destination {dest.get('cluster', '*')}/{pattern}: RBAC binds "
                "named namespaces only; list the namespaces, or use '*'"
            )
        elif pattern not in namespaces:
            namespaces.append(pattern)
    if every_namespace:
        namespaces = []
    allowed: list[dict[str, str]] | None = project.get("namespaceResourceWhitelist")
    namespaced = _rules(
        project_name,
        "namespaceResourceWhitelist",
        [{"group": "*", "kind": "*"}] if allowed is None else allowed,
    )
    cluster_kinds = project.get("clusterResourceWhitelist") or []
    if not every_namespace and any(k.get("kind", "*") == "*" for k in cluster_kinds):
        raise RbacError(
            f"project {project_name!r} clusterResourceWhitelist allows every kind of a group while its "
            "namespaces are limited: a cluster-wide grant of '*' would reach every namespace; name the kinds"
        )
    cluster_rules = _rules(project_name, "clusterResourceWhitelist", cluster_kinds)
    ns_rule: dict[str, Any] = {"apiGroups": [""], "resources": ["namespaces"], "verbs": list(NAMESPACE_VERBS)}
    if not every_namespace:
        ns_rule["resourceNames"] = list(namespaces)
    if every_namespace or namespaces:
        cluster_rules.append(ns_rule)
    for what in ("namespaceResourceBlacklist", "clusterResourceBlacklist"):
        if project.get(what):
            out.notes.append(f"{what} {project[what]}: enforced by our project check only (RBAC only adds)")
    name = f"{PREFIX}:{project_name}"

    def meta(object_name: str, **extra: str) -> dict[str, Any]:
        return {"name": object_name, "labels": {"gitops.dev/project": project_name}, **extra}

    out.objects += [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa, namespace=ns)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(name),
            "rules": namespaced,
        },
    ]
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
    if every_namespace:
        out.objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta(name),
                "roleRef": role_ref,
                "subjects": subject,
            }
        )
    out.objects += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(name, namespace=n),
            "roleRef": role_ref,
            "subjects": subject,
        }
        for n in namespaces
    ]
    if cluster_rules:
        out.objects += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": meta(f"{name}:cluster"),
                "rules": cluster_rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta(f"{name}:cluster"),
                "roleRef": {**role_ref, "name": f"{name}:cluster"},
                "subjects": subject,
            },
        ]
    return out
