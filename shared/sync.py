"""Apply one revision of an application to its destination cluster.

The result is data: one `ObjectResult` per object (created, configured, unchanged,
pruned, skipped, failed) with the reason. Nothing raises past a sync except a
transient cluster error before any write (so the message is retried).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import config, drift, health, ordering
from shared.kube import Cluster, KubeError
from shared.manifests import ObjectId
from shared.model import AppSpec

RETRIES = 4


@dataclass(frozen=True)
class ObjectResult:
    id: ObjectId
    action: str  # created | configured | unchanged | pruned | skipped | failed
    message: str = ""
    health: health.Health | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"group": self.id.group, "kind": self.id.kind,
                               "namespace": self.id.namespace, "name": self.id.name,
                               "action": self.action}
        if self.message:
            doc["message"] = self.message
        if self.health:
            doc["health"] = self.health.status
        return doc


@dataclass
class SyncResult:
    objects: list[ObjectResult] = field(default_factory=list)
    inventory: list[dict[str, str]] = field(default_factory=list)  # what the app now owns

    @property
    def failed(self) -> bool:
        return any(r.action == "failed" for r in self.objects)

    @property
    def health(self) -> health.Health:
        return health.worst(r.health for r in self.objects if r.health)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.objects:
            out[r.action] = out.get(r.action, 0) + 1
        return out


def inventory_entry(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "namespace": meta.get("namespace", ""), "name": meta["name"]}


def entry_id(entry: dict[str, str]) -> ObjectId:
    return ObjectId.of({"apiVersion": entry["apiVersion"], "kind": entry["kind"],
                        "metadata": {"namespace": entry["namespace"], "name": entry["name"]}})


def tracking_id(app: str, oid: ObjectId) -> str:
    return f"{app}:{oid.group}/{oid.kind}:{oid.namespace}/{oid.name}"


def prepare(spec: AppSpec, objs: list[dict[str, Any]], cluster: Cluster) -> list[dict[str, Any]]:
    """Copies of the objects as they will be applied: namespace, tracking marks, normalised."""
    crd_scopes = _crd_scopes(objs)
    out = []
    for src in objs:
        obj = copy.deepcopy(src)
        meta = obj.setdefault("metadata", {})
        namespaced = crd_scopes.get((obj["apiVersion"].split("/")[0], obj["kind"]))
        if namespaced is None:
            namespaced = cluster.is_namespaced(obj["apiVersion"], obj["kind"])
        if namespaced:
            meta.setdefault("namespace", spec.destination.namespace)
        else:
            meta.pop("namespace", None)
        meta.setdefault("labels", {})[config.LABEL_APP] = spec.name
        meta.setdefault("annotations", {})[config.ANNOTATION_TRACKING] = tracking_id(
            spec.name, ObjectId.of(obj))
        _normalise(obj)
        out.append(obj)
    return ordering.in_apply_order(out)


def _crd_scopes(objs: list[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for custom resources defined in the same revision."""
    scopes = {}
    for obj in objs:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            scopes[(spec.get("group", ""), kind)] = spec.get("scope") == "Namespaced"
    return scopes


def _normalise(obj: dict[str, Any]) -> None:
    """Fix what the API server would reject or report as drift forever."""
    if obj["kind"] == "Service" and obj["apiVersion"] == "v1":
        for port in (obj.get("spec") or {}).get("ports") or []:
            port.setdefault("protocol", "TCP")
    for pod_spec in _pod_specs(obj):
        for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return [spec]
    template = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template") or {}
    return [template["spec"]] if isinstance(template.get("spec"), dict) else []


def with_retries(call: Callable[[], Any], deadline_s: float = 30.0) -> Any:
    """Run a cluster call, retrying transient errors with backoff inside a deadline."""
    start, delay = time.monotonic(), 0.2
    for attempt in range(RETRIES + 1):
        try:
            return call()
        except KubeError as exc:
            if not exc.transient or attempt == RETRIES or time.monotonic() - start + delay > deadline_s:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def live_objects(cluster: Cluster, app: str, objs: list[dict[str, Any]],
                 extra: list[ObjectId] = ()) -> dict[ObjectId, dict[str, Any]]:
    """The app's live objects: one list request per (apiVersion, kind, namespace)."""
    groups: set[tuple[str, str, str]] = {
        (o["apiVersion"], o["kind"], o["metadata"].get("namespace", "")) for o in objs}
    live: dict[ObjectId, dict[str, Any]] = {}
    selector = f"{config.LABEL_APP}={app}"
    for api_version, kind, namespace in sorted(groups):
        try:
            items = with_retries(lambda a=api_version, k=kind, n=namespace:
                                 cluster.list(a, k, n, selector))
        except KubeError as exc:
            if exc.status == 404:  # the kind does not exist yet (CRD in this revision)
                continue
            raise
        for item in items:
            live[ObjectId.of(item)] = item
    return live


def apply_all(cluster: Cluster, spec: AppSpec, desired: list[dict[str, Any]],
              old_inventory: list[dict[str, str]], *, prune: bool) -> SyncResult:
    """Apply prepared objects in order, then prune what the old inventory had and this lacks.

    Two passes. First a server-side dry-run of every object: an object the dry-run
    predicts equal to live is `unchanged` and never written, and any object the API
    server refuses fails the whole sync before anything is written (nothing is ever
    half-applied because of bad input). Then the real applies, in order.
    """
    live = live_objects(cluster, spec.name, desired)
    outcome: dict[ObjectId, ObjectResult] = {}
    to_write = []
    for obj in desired:
        oid = ObjectId.of(obj)
        try:
            _, predicted = with_retries(lambda o=obj: cluster.apply(
                o, field_manager=config.FIELD_MANAGER, dry_run=True))
        except KubeError as exc:
            if exc.transient:
                raise
            if exc.status == 404 and _created_by_this_sync(obj, desired):
                to_write.append(obj)  # its CRD or namespace comes earlier in this sync
            else:
                outcome[oid] = ObjectResult(oid, "failed", f"{oid}: {exc}")
            continue
        before = live.get(oid)
        if before is not None and not drift.changes(predicted, before):
            outcome[oid] = ObjectResult(oid, "unchanged", health=health.of(before))
        else:
            to_write.append(obj)
    result = SyncResult()
    if any(r.action == "failed" for r in outcome.values()):
        for obj in desired:
            oid = ObjectId.of(obj)
            result.objects.append(outcome.get(oid) or ObjectResult(
                oid, "skipped", "not applied: another object failed the server-side dry-run"))
        result.inventory = list(old_inventory)
        return result
    failed = False
    for obj in to_write:
        oid = ObjectId.of(obj)
        if failed:
            outcome[oid] = ObjectResult(oid, "skipped", "an earlier object failed")
            continue
        try:
            status, applied = with_retries(
                lambda o=obj: cluster.apply(o, field_manager=config.FIELD_MANAGER))
        except KubeError as exc:
            failed = True
            outcome[oid] = ObjectResult(oid, "failed", f"{oid}: {exc}")
            continue
        action = "created" if status == 201 or oid not in live else "configured"
        outcome[oid] = ObjectResult(oid, action, health=health.of(applied))
    for obj in desired:
        oid = ObjectId.of(obj)
        result.objects.append(outcome[oid])
        if outcome[oid].action in ("created", "configured", "unchanged"):
            result.inventory.append(inventory_entry(obj))
    if failed:
        # keep everything the app may still own, so a later sync can prune it
        have = {entry_id(e) for e in result.inventory}
        result.inventory += [e for e in old_inventory if entry_id(e) not in have]
        return result
    result.objects.extend(_prune(cluster, spec, old_inventory, prune, result))
    return result


def _created_by_this_sync(obj: dict[str, Any], desired: list[dict[str, Any]]) -> bool:
    """True when the object's kind (a CRD) or namespace is itself part of this sync."""
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    namespace = obj["metadata"].get("namespace")
    for other in desired:
        if other["kind"] == "CustomResourceDefinition":
            names = (other.get("spec") or {}).get("names") or {}
            if names.get("kind") == obj["kind"] and (other.get("spec") or {}).get("group") == group:
                return True
        if other["kind"] == "Namespace" and namespace and other["metadata"]["name"] == namespace:
            return True
    return False


def _prune(cluster: Cluster, spec: AppSpec, old_inventory: list[dict[str, str]], prune: bool,
           result: SyncResult) -> list[ObjectResult]:
    keep = {entry_id(e) for e in result.inventory}
    gone = [e for e in old_inventory if entry_id(e) not in keep]
    gone.sort(key=lambda e: ordering.sort_key(
        {"kind": e["kind"], "apiVersion": e["apiVersion"],
         "metadata": {"namespace": e["namespace"], "name": e["name"]}}), reverse=True)
    out = []
    for entry in gone:
        oid = entry_id(entry)
        if not prune:
            out.append(ObjectResult(oid, "skipped", "no longer in Git; prune is off"))
            result.inventory.append(entry)
            continue
        args = (entry["apiVersion"], entry["kind"], entry["namespace"], entry["name"])
        try:
            live = with_retries(lambda a=args: cluster.get(*a))
            if live is None:
                out.append(ObjectResult(oid, "pruned", "already gone"))
                continue
            if (live["metadata"].get("labels") or {}).get(config.LABEL_APP) != spec.name:
                out.append(ObjectResult(oid, "skipped", "not pruned: it no longer carries this app's label"))
                continue
            with_retries(lambda a=args: cluster.delete(*a))
            out.append(ObjectResult(oid, "pruned"))
        except KubeError as exc:
            out.append(ObjectResult(oid, "failed", f"prune {oid}: {exc}"))
            result.inventory.append(entry)
    return out
