"""The audit step: the sweep's fan-out, and one application's drift audit.

Live state is read with one list request per kind and namespace (by the tracking label).
An object untouched since our apply (inventory digests) costs nothing more; the others
are compared with what a server-side dry-run apply of their desired state predicts, so
server defaults never count as drift. Each drifted field is attributed to the field
manager that owns it now, and the object to the writes the audit log recorded for it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shared.adapters import audittrail, kube, store
from shared.adapters.kube import Cluster, KubeError
from shared.core import drift, gitorder, health, hooks, inventory, notifications, policy, rbac
from shared.core.manifests import ObjectId
from shared.core.messages import ApplyRequest, AuditRequest, RenderRequest, SweepRequest
from shared.core.model import AppSpec
from shared.core.status import (
    KEEP,
    DriftState,
    Heal,
    HealthStatus,
    Healthy,
    Initiator,
    Pin,
    StatusUpdate,
    SyncState,
    SyncStatus,
)
from shared.platform import config, logs
from shared.steps import heads
from shared.steps.revision import revision_objects
from shared.sync.engine import dry_run_all, live_objects
from shared.sync.prepare import prepare

DRIFT_IDS = 500  # drifted objects named on the application (all of them: the drift record)
UNRECORDED = (
    "no field manager recorded this write (Kubernetes < 1.22 does not track "
    "/scale subresource writes such as kubectl scale)"
)


@dataclass
class ObjectDrift:
    id: ObjectId
    kind: str  # modified | missing | extra
    fields: list[dict[str, Any]] = field(default_factory=list)
    writer: str = ""  # who wrote it since our sync, from the audit log, when one is readable

    def to_doc(self) -> dict[str, Any]:
        doc = {"object": str(self.id), "drift": self.kind, "fields": self.fields}
        if self.writer:
            doc["writtenBy"] = self.writer
        return doc

    def describe(self) -> str:
        by = f" (written by {self.writer})" if self.writer else ""
        if self.kind != "modified":
            return f"{self.id} {self.kind}{by}"
        parts = []
        for f in self.fields:
            who = (
                f" by {f['manager']} at {f['time']}"
                if f.get("manager")
                else " by an unrecorded writer"
                if f.get("note")
                else ""
            )
            parts.append(f"{f['path']}: {f['desired']!r} -> {f['live']!r}{who}")
        return f"{self.id} modified: " + "; ".join(parts) + by


@dataclass(frozen=True)
class AuditOutcome:
    drifted: list[ObjectDrift]
    apply: ApplyRequest | None  # a self-heal or an automated rollback
    event: dict[str, Any] | None = None  # for the notifications topic


# ---- the sweep ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """What a sweep publishes: an audit per application, renders of heads a push never
    delivered, and the retries of failed syncs that are due (syncPolicy.retry)."""

    audits: list[AuditRequest]
    renders: list[RenderRequest]
    retries: list[ApplyRequest]


def fan_out(req: SweepRequest, operation: str) -> Sweep:
    """One audit request per application (all, a project's, or those named), a render
    request for every automated application whose target's head is not synced (a push whose
    webhook never arrived, a move backwards in Git), and an apply request for every failed
    sync whose retry is due."""
    apps = store.list_apps()
    if req.apps:
        apps = [a for a in apps if a.name in set(req.apps)]
    if req.project:
        apps = [a for a in apps if a.spec.project == req.project]
    renders, behind = compare_heads(apps, operation)
    audits = []
    for app in sorted(apps, key=lambda a: a.name):
        ref, head = behind.get(app.name, ("", ""))
        audits.append(AuditRequest(app=app.name, operation=f"{operation}:{app.name}", head=head, ref=ref))
    return Sweep(audits, renders, due_retries(apps, operation))


def due_retries(apps: list[store.App], operation: str) -> list[ApplyRequest]:
    """The next attempt of each failed sync whose backoff has passed (policy.retry_due): the
    delay is kept in Firestore (status.retry.nextAt), not in a Pub/Sub redelivery, so it
    holds for minutes as well as seconds and survives any number of attempts."""
    now = store.now()
    out = []
    for app in apps:
        state = app.status.get("retry")
        if state and policy.retry_due(state, now) and not policy.pinned(app.status):
            triggered_by = f"retry {state.get('attempt', 0)} by sweep:{operation}"
            out.append(policy.retry_request(app.name, state, triggered_by, now=now))
    return out


def compare_heads(
    apps: list[store.App], operation: str
) -> tuple[list[RenderRequest], dict[str, tuple[str, str]]]:
    """Compare each unpinned app's target head (one ref listing per repository) with what is
    synced (gitorder.sweep_action): render requests for the automated ones to move, and
    (ref, head) of the others, for their audits to compare with (OutOfSync while not applied)."""
    listed = heads.Heads()
    out, behind = [], {}
    for app in apps:
        spec, status = app.spec, app.status
        if policy.pinned(status) or spec.chart:
            # a rollback or a pin wins until unpinned (its refs are not even listed); a
            # chart from a Helm repository has no Git refs: it moves on `gitops app sync`
            continue
        ref, commit = listed.of_or_none(spec) or ("", None)
        action = policy.missed_push(spec.syncPolicy.automated, status, commit)
        if action == gitorder.RENDER and commit:
            out.append(
                heads.render_at(
                    spec.name,
                    (ref, commit),
                    operation=f"{operation}:render:{spec.name}:{commit[:12]}",
                    triggered_by=f"sweep:{operation}",
                )
            )
        elif commit:  # OutOfSync, or synced: the audit compares with this head
            behind[spec.name] = (ref, commit)
    return out, behind


# ---- one application ----------------------------------------------------------------------


def find_drift(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    live: dict[ObjectId, dict[str, Any]],
    owned: dict[ObjectId, dict[str, str]],
) -> list[ObjectDrift]:
    """Drift of every desired object; objects untouched since our apply cost no request."""
    suspects = [
        o
        for o in desired
        if (oid := ObjectId.of(o)) in live and not inventory.untouched(owned.get(oid), o, live[oid])
    ]
    predicted = dry_run_all(cluster, suspects)
    out: list[ObjectDrift] = []
    for obj in desired:
        oid = ObjectId.of(obj)
        if oid not in live:
            out.append(ObjectDrift(oid, "missing"))
        elif isinstance(predicted.get(oid), KubeError):
            out.append(
                ObjectDrift(
                    oid,
                    "modified",
                    [
                        {
                            "path": "",
                            "desired": None,
                            "live": None,
                            "manager": "",
                            "operation": "",
                            "time": "",
                            "note": f"the API server refuses the desired object: {predicted[oid]}",
                        }
                    ],
                )
            )
        elif isinstance(predicted_obj := predicted.get(oid), dict):
            rules = drift.rules_for(spec.ignoreDifferences, oid.group, oid.kind, oid.namespace, oid.name)
            fields = _changed_fields(oid, predicted_obj, live[oid], rules)
            if fields:
                out.append(ObjectDrift(oid, "modified", fields))
    wanted = {ObjectId.of(o) for o in desired}
    out.extend(ObjectDrift(oid, "extra") for oid in sorted(set(live) - wanted))
    return out


def _changed_fields(
    oid: ObjectId, predicted: dict[str, Any], current: dict[str, Any], rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if rules:
        predicted, compared = copy.deepcopy(predicted), copy.deepcopy(current)
        for rule in rules:
            for pointer in rule.get("jsonPointers") or []:
                drift.remove_pointer(predicted, pointer)
                drift.remove_pointer(compared, pointer)
    else:
        compared = current
    ignored_managers = {m for r in rules for m in r.get("managedFieldsManagers") or []}
    fields = []
    for change in drift.changes(predicted, compared):
        record = _attributed(drift.mask(oid.kind, change), current)
        if record["manager"] not in ignored_managers:
            fields.append(record)
    return fields


def _attributed(change: drift.Change, live: dict[str, Any]) -> dict[str, Any]:
    """The change as a record, with the field manager that made it when one is recorded."""
    owners = drift.owners(live, change.path)
    other = next((o for o in owners if o.manager != config.FIELD_MANAGER), None)
    record = {
        "path": change.field,
        "desired": change.desired,
        "live": change.live,
        "manager": other.manager if other else "",
        "operation": other.operation if other else "",
        "time": other.time if other else "",
    }
    if other is None and owners:
        record["note"] = UNRECORDED
    return record


def _name_writers(cluster: Cluster, drifted: list[ObjectDrift], since: Any) -> None:
    """Name who wrote each drifted object since our last sync, from the audit log."""
    resources = {d.id: plural for d in drifted if (plural := cluster.plural(d.id.group, d.id.kind))}
    since_s = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(since, dt.datetime) else ""
    found = audittrail.writers([d.id for d in drifted], resources, since_s)
    for d in drifted:
        if d.id in found:
            d.writer = "; ".join(w.describe() for w in found[d.id])


def _app_health(
    spec: AppSpec, desired: list[dict[str, Any]], live: dict[ObjectId, dict[str, Any]]
) -> health.Health:
    return health.worst(health.of(live.get(ObjectId.of(o)), spec.health_checks) for o in desired)


def audit(req: AuditRequest) -> AuditOutcome:
    app = store.get_app(req.app)
    spec, status = app.spec, app.status
    sync = status.get("sync") or SyncState()
    if not sync.get("revision"):
        logs.info("nothing synced yet; nothing to audit", app=req.app)
        return AuditOutcome([], None)
    if req.operation and status.get("lastAuditOperation") == req.operation:
        # a redelivery: looking again could find the drift its own heal is repairing right
        # now and leave the application OutOfSync (and a second drift record) once healed
        logs.info("audit already done; ignoring redelivery", app=req.app, operation=req.operation)
        return AuditOutcome([], None)
    if spec.destination.cluster == rbac.CONTROL_PLANE:
        logs.info("the RBAC policy's application has no live objects to audit", app=req.app)
        return AuditOutcome([], None)
    revision = store.get_revision(req.app, sync["revision"])
    try:
        cluster = kube.cluster(spec.destination.cluster)
        desired = prepare(spec, hooks.resources_of(revision_objects(spec, revision)), cluster)
        owned = {inventory.entry_id(e): e for e in store.inventory(req.app, status)}
        live = live_objects(
            cluster,
            req.app,
            desired + [inventory.as_stub(e) for e in owned.values()],
            complete=True,
            cached=True,
        )
        drifted = find_drift(cluster, spec, desired, live, owned)
    except KubeError as exc:
        # the cluster cannot tell us: say so rather than keep a stale Synced
        store.update_status(
            req.app,
            StatusUpdate(
                sync_status=SyncStatus.UNKNOWN,
                last_audit_at=store.now(),
                drift=DriftState(error=str(exc)[:500], detectedAt=store.now()),
            ),
        )
        logs.error("audit failed", app=req.app, reason=str(exc))
        if exc.transient:
            raise  # redelivered with backoff
        return AuditOutcome([], None)
    app_health = _app_health(spec, desired, live)
    now = store.now()
    rollback = _auto_rollback(app, app_health, req, now)
    # live against the target (the head the sweep listed, or the newest render): OutOfSync
    # whatever the cluster holds while the target is not what is applied, naming both commits
    target = policy.target_of(status, req.head)
    sync_status, behind = policy.compare(
        target, sync, drifted=bool(drifted), ref=req.ref or sync.get("ref") or ""
    )
    update = StatusUpdate(
        health=app_health.to_doc(),
        last_audit_at=now,
        last_audit_operation=req.operation,
        last_healthy=(
            Healthy(revision=sync["revision"], commit=sync.get("commit", ""), at=now)
            if app_health.status == HealthStatus.HEALTHY
            else KEEP
        ),
        pin=rollback[1] if rollback is not None else KEEP,
        sync_message=behind,
        sync_status=sync_status,
        sync_target=target if target is not None else KEEP,
    )
    if not drifted:
        store.update_status(req.app, dataclasses.replace(update, drift=None))
        logs.info(
            "audit clean",
            app=req.app,
            objects=len(desired),
            health=app_health.status,
            **({"behind": behind} if behind else {}),
        )
        return AuditOutcome([], rollback[0] if rollback else None)
    _name_writers(cluster, drifted, sync.get("syncedAt"))
    heal, action, heals = _self_heal(app, drifted, req, now)
    record: dict[str, Any] = {
        "detectedAt": now,
        "revision": sync["revision"],
        "commit": sync.get("commit", ""),
        "objects": [d.to_doc() for d in drifted],
        "summary": "; ".join(d.describe() for d in drifted)[:1500],
        "action": action,
        "operation": req.operation,
    }
    record_id = store.put_drift(req.app, record)
    store.update_status(
        req.app,
        dataclasses.replace(
            update,
            heals=heals,
            drift=DriftState(
                detectedAt=now,
                record=record_id,
                objects=len(drifted),
                ids=[str(d.id) for d in drifted[:DRIFT_IDS]],
                summary=record["summary"],
                action=action,
            ),
        ),
    )
    logs.warning("drift found", app=req.app, drift=record["summary"], action=action)
    return AuditOutcome(
        drifted, rollback[0] if rollback else heal, notifications.drift_event(req.app, spec.project, record)
    )


def _self_heal(
    app: store.App, drifted: list[ObjectDrift], req: AuditRequest, now: dt.datetime
) -> tuple[ApplyRequest | None, str, list[Heal]]:
    """A heal request unless off, or the same fields were healed too often (policy.self_heal)."""
    keys = sorted(
        {
            f"{d.id}:{f['path']}" if d.fields else f"{d.id}:{d.kind}"
            for d in drifted
            for f in (d.fields or [{}])
        }
    )
    decision = policy.self_heal(app.spec.syncPolicy, app.status.get("heals") or [], keys, now)
    if not decision.heal:
        return None, decision.action, decision.heals
    heal = ApplyRequest(
        app=app.name,
        revision=(app.status.get("sync") or SyncState())["revision"],
        initiator=Initiator.SELF_HEAL,
        operation=f"heal:{req.operation}",
        triggered_by=req.operation,
    )
    return heal, decision.action, decision.heals


def _auto_rollback(
    app: store.App, app_health: health.Health, req: AuditRequest, now: dt.datetime
) -> tuple[ApplyRequest, Pin] | None:
    """Opt-in: a sync that left the app Degraded within the window rolls back to the last
    revision seen Healthy, and pins it (policy.auto_rollback)."""
    pin = policy.auto_rollback(app.spec.syncPolicy, app_health.status, app_health.message, app.status, now)
    if pin is None:
        return None
    logs.warning(pin["reason"], app=app.name)
    return ApplyRequest(
        app=app.name,
        revision=pin["revision"],
        initiator=Initiator.ROLLBACK,
        operation=f"auto-rollback:{req.operation}",
        triggered_by=f"auto-rollback: {pin['reason']}",
    ), pin
