"""Apply order as data: which kinds go first, which last (after Flux ssa and Helm)."""

from __future__ import annotations

from typing import Any

FIRST = (
    "CustomResourceDefinition",
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
    "RuntimeClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
)
LAST = ("APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")

_INDEX = {kind: i - len(FIRST) for i, kind in enumerate(FIRST)} | {kind: i + 1 for i, kind in enumerate(LAST)}


def sort_key(obj: dict[str, Any]) -> tuple[int, str, str, str, str]:
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", ""))
    return (
        _INDEX.get(kind, 0),
        str(obj.get("apiVersion", "")),
        kind,
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def in_apply_order(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objs, key=sort_key)
