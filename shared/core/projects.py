"""Projects (multi-tenancy): which repositories, destinations and kinds an application may use.

A project is a plain document (Argo CD's AppProject fields). Checks are pure and run before
any write; every violation names the object and the rule it broke. The `default` project,
when not defined, allows everything.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from shared.core import repourl
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec

ALLOW_ALL: dict[str, Any] = {
    "sourceRepos": ["*"],
    "destinations": [{"cluster": "*", "namespace": "*"}],
    "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
}


def _match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _kind_in(rules: list[dict[str, str]], oid: ObjectId) -> dict[str, str] | None:
    for rule in rules or []:
        if _match(rule.get("group", "*"), oid.group) and _match(rule.get("kind", "*"), oid.kind):
            return rule
    return None


def check_source(project_name: str, project: dict[str, Any], spec: AppSpec) -> list[str]:
    repo = repourl.normalize(spec.repoURL)
    patterns = project.get("sourceRepos") or []
    if any(p == "*" or _match(repourl.normalize(p), repo) for p in patterns):
        return []
    return [f"repository {spec.repoURL} is not in project {project_name!r} sourceRepos {patterns}"]


def _destination_allowed(project: dict[str, Any], cluster: str, namespace: str) -> bool:
    return any(
        _match(d.get("cluster", "*"), cluster) and _match(d.get("namespace", "*"), namespace)
        for d in project.get("destinations") or []
    )


def check_objects(
    project_name: str, project: dict[str, Any], spec: AppSpec, objs: list[dict[str, Any]]
) -> dict[ObjectId, str]:
    """Violations by object: namespace outside the destinations, kind not allowed."""
    out: dict[ObjectId, str] = {}
    cluster = spec.destination.cluster
    for obj in objs:
        oid = ObjectId.of(obj)
        if oid.namespace:
            if not _destination_allowed(project, cluster, oid.namespace):
                out[oid] = (
                    f"{oid}: namespace {oid.namespace!r} on cluster {cluster!r} is not a "
                    f"destination of project {project_name!r}"
                )
                continue
            denied = _kind_in(project.get("namespaceResourceBlacklist") or [], oid)
            allowed = project.get("namespaceResourceWhitelist")
            if denied or (allowed is not None and not _kind_in(allowed, oid)):
                rule = f"namespaceResourceBlacklist {denied}" if denied else "namespaceResourceWhitelist"
                out[oid] = f"{oid}: kind {oid.kind} is not allowed by project {project_name!r} {rule}"
        else:
            denied = _kind_in(project.get("clusterResourceBlacklist") or [], oid)
            if denied or not _kind_in(project.get("clusterResourceWhitelist") or [], oid):
                rule = f"clusterResourceBlacklist {denied}" if denied else "clusterResourceWhitelist"
                out[oid] = (
                    f"{oid}: cluster-scoped kind {oid.kind} is not allowed by project {project_name!r} {rule}"
                )
    return out
