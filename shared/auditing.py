"""The audit step: the sweep's fan-out, and one application's drift audit.

Live state is read with one list request per kind and namespace (by the tracking
label); each object that exists is then compared with what a server-side dry-run
apply of its desired state predicts, so server defaults never count as drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared import config, drift, inventory, kube, logs, rendering, store
from shared.kube import Cluster
from shared.manifests import ObjectId
from shared.messages import ApplyRequest, AuditRequest, SweepRequest
from shared.prepare import prepare
from shared.sync import live_objects, with_retries


@dataclass
class ObjectDrift:
    id: ObjectId
    kind: str  # modified | missing | extra
    fields: list[dict[str, Any]] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return {"object": str(self.id), "drift": self.kind, "fields": self.fields}

    def describe(self) -> str:
        if self.kind != "modified":
            return f"{self.id} {self.kind}"
        parts = []
        for f in self.fields:
            who = (f" by {f['manager']} at {f['time']}" if f.get("manager")
                   else " by an unrecorded writer" if f.get("note") else "")
            parts.append(f"{f['path']}: {f['desired']!r} -> {f['live']!r}{who}")
        return f"{self.id} modified: " + "; ".join(parts)


@dataclass(frozen=True)
class AuditOutcome:
    drifted: list[ObjectDrift]
    heal: ApplyRequest | None


def fan_out(req: SweepRequest, operation: str) -> list[AuditRequest]:
    """One audit request per application (all, or those the sweep names)."""
    names = [a.name for a in store.list_apps()]
    if req.apps:
        names = [n for n in names if n in set(req.apps)]
    return [AuditRequest(app=n, operation=f"{operation}:{n}") for n in sorted(names)]


def find_drift(cluster: Cluster, desired: list[dict[str, Any]],
               live: dict[ObjectId, dict[str, Any]],
               owned: dict[ObjectId, dict[str, str]]) -> list[ObjectDrift]:
    """Drift of every desired object; objects untouched since our apply cost no request."""
    out: list[ObjectDrift] = []
    wanted = set()
    for obj in desired:
        oid = ObjectId.of(obj)
        wanted.add(oid)
        current = live.get(oid)
        if current is None:
            out.append(ObjectDrift(oid, "missing"))
            continue
        if inventory.untouched(owned.get(oid), obj, current):
            continue
        _, predicted = with_retries(
            lambda o=obj: cluster.apply(o, field_manager=config.FIELD_MANAGER, dry_run=True))
        found = [drift.mask(oid.kind, c) for c in drift.changes(predicted, current)]
        if found:
            fields = [_attributed(change, current) for change in found]
            out.append(ObjectDrift(oid, "modified", fields))
    out.extend(ObjectDrift(oid, "extra") for oid in sorted(set(live) - wanted))
    return out


UNRECORDED = ("no field manager recorded this write (Kubernetes < 1.22 does not track "
              "/scale subresource writes such as kubectl scale)")


def _attributed(change: drift.Change, live: dict[str, Any]) -> dict[str, Any]:
    """The change as a record, with the field manager that made it when one is recorded."""
    owners = drift.owners(live, change.path)
    other = next((o for o in owners if o.manager != config.FIELD_MANAGER), None)
    record = {"path": change.field, "desired": change.desired, "live": change.live,
              "manager": other.manager if other else "", "operation": other.operation if other else "",
              "time": other.time if other else ""}
    if other is None and owners:
        record["note"] = UNRECORDED
    return record


def audit(req: AuditRequest) -> AuditOutcome:
    app = store.get_app(req.app)
    sync = app.status.get("sync") or {}
    if not sync.get("revision"):
        logs.info("nothing synced yet; nothing to audit", app=req.app)
        return AuditOutcome([], None)
    revision = store.get_revision(req.app, sync["revision"])
    cluster = kube.cluster(app.spec.destination.cluster)
    desired = prepare(app.spec, rendering.revision_objects(app.spec, revision), cluster)
    owned = {inventory.entry_id(e): e for e in app.status.get("inventory") or []}
    live = live_objects(cluster, req.app, desired + [inventory.as_stub(e) for e in owned.values()])
    drifted = find_drift(cluster, desired, live, owned)
    now = store.now()
    if not drifted:
        store.update_status(req.app, {"sync.status": "Synced", "drift": None,
                                      "lastAuditAt": now})
        logs.info("audit clean", app=req.app, objects=len(desired))
        return AuditOutcome([], None)
    heal = None
    if app.spec.syncPolicy.selfHeal:
        heal = ApplyRequest(app=req.app, revision=sync["revision"], initiator="self-heal",
                            operation=f"heal:{req.operation}", triggered_by=req.operation)
    record = {
        "detectedAt": now,
        "revision": sync["revision"],
        "commit": sync.get("commit", ""),
        "objects": [d.to_doc() for d in drifted],
        "summary": "; ".join(d.describe() for d in drifted)[:1500],
        "action": "self-heal requested" if heal else "reported (self-heal is off)",
        "operation": req.operation,
    }
    record_id = store.put_drift(req.app, record)
    store.update_status(req.app, {
        "sync.status": "OutOfSync", "lastAuditAt": now,
        "drift": {"detectedAt": now, "record": record_id, "objects": len(drifted),
                  "summary": record["summary"]}})
    logs.warning("drift found", app=req.app, drift=record["summary"], heal=bool(heal))
    return AuditOutcome(drifted, heal)


