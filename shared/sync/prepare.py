"""Objects as they will be applied: namespace defaulted, tracking marks, normalised, ordered."""

from __future__ import annotations

import base64
import copy
from typing import Any

from shared.adapters.kube import Cluster, UnknownKind
from shared.core import hooks, names, ordering
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec
from shared.platform import config


def tracking_id(app: str, oid: ObjectId) -> str:
    return f"{app}:{oid.group}/{oid.kind}:{oid.namespace}/{oid.name}"


def prepare(spec: AppSpec, objs: list[dict[str, Any]], cluster: Cluster) -> list[dict[str, Any]]:
    """Copies of the objects as they will be applied: namespace, tracking marks, normalised."""
    crd_scopes = _crd_scopes(objs)
    out = []
    for src in objs:
        obj = copy.deepcopy(src)
        meta = obj.setdefault("metadata", {})
        namespaced = crd_scopes.get((group_of(obj), obj["kind"]))
        if namespaced is None:
            namespaced = _is_namespaced(cluster, obj)
        if namespaced:
            meta.setdefault("namespace", spec.destination.namespace)
        else:
            meta.pop("namespace", None)
        label = config.LABEL_HOOK_OF if hooks.is_hook(obj) or hooks.deletion_phases(obj) else config.LABEL_APP
        meta.setdefault("labels", {})[label] = names.label_value(spec.name)
        meta.setdefault("annotations", {})[config.ANNOTATION_TRACKING] = tracking_id(
            spec.name, ObjectId.of(obj)
        )
        normalise(obj)
        out.append(obj)
    return ordering.in_apply_order(out)


def _is_namespaced(cluster: Cluster, obj: dict[str, Any]) -> bool:
    """A kind the cluster does not serve yet (its CRD comes from elsewhere) counts as
    namespaced, as in Argo CD; its dry-run then says it is unknown."""
    try:
        return cluster.is_namespaced(obj["apiVersion"], obj["kind"])
    except UnknownKind:
        return True


def group_of(obj: dict[str, Any]) -> str:
    api_version = obj.get("apiVersion", "")
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _crd_scopes(objs: list[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for custom resources defined in the same revision."""
    scopes = {}
    for obj in objs:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            scopes[(spec.get("group", ""), kind)] = spec.get("scope") == "Namespaced"
    return scopes


def normalise(obj: dict[str, Any]) -> None:
    """Fix what the API server would reject, or report as drift forever.

    - Service and container ports without `protocol` cannot be server-side applied on
      Kubernetes 1.20 (the list's key includes it): default it to TCP.
    - Secret `stringData` is write-only (the server folds it into `data`), so a live Secret
      never shows it back: apply it as base64 `data` instead.
    """
    if obj["kind"] == "Service" and obj["apiVersion"] == "v1":
        for port in (obj.get("spec") or {}).get("ports") or []:
            port.setdefault("protocol", "TCP")
    for pod_spec in _pod_specs(obj):
        for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")
    if obj["kind"] == "Secret" and obj["apiVersion"] == "v1" and isinstance(obj.get("stringData"), dict):
        data = obj.setdefault("data", {}) or {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return [spec]
    template = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template") or {}
    return [template["spec"]] if isinstance(template.get("spec"), dict) else []
