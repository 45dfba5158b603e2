"""The audit step: the sweep's fan-out, and one application's drift audit.

Live state is read with one list request per kind and namespace (by the tracking label).
An object untouched since our apply (inventory digests) costs nothing more; the others
are compared with what a server-side dry-run apply of their desired state predicts, so
server defaults never count as drift. Each drifted field is attributed to the field
manager that owns it now, and the object to the writes the audit log recorded for it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.adapters import audittrail, git, kube, store
from shared.adapters.kube import Cluster, KubeError
from shared.core import (
    drift,
    failures,
    gitorder,
    health,
    healthcel,
    hooks,
    ignorediff,
    inventory,
    messages,
    monorepo,
    notifications,
    orphans,
    policy,
    rbac,
    syncoptions,
)
from shared.core.manifests import ObjectId
from shared.core.messages import ApplyRequest, AuditBatch, AuditRequest, RenderRequest, SweepRequest
from shared.core.model import AppSpec
from shared.core.status import (
    KEEP,
    DriftState,
    Heal,
    HealthStatus,
    Healthy,
    Initiator,
    OrphansState,
    Pin,
    SeenHead,
    StatusUpdate,
    SyncState,
    SyncStatus,
)
from shared.platform import config, logs
from shared.steps import errorkinds, heads
from shared.steps.revision import revision_objects
from shared.sync.engine import SharedLists, claimant, concurrently, dry_run_all, live_objects
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
    shared: str = ""  # missing because another application took it: Argo CD's SharedResourceWarning

    def to_doc(self) -> dict[str, Any]:
        doc = {"object": str(self.id), "drift": self.kind, "fields": self.fields}
        if self.writer:
            doc["writtenBy"] = self.writer
        if self.shared:
            doc["warning"] = self.shared
        return doc

    def describe(self) -> str:
        by = f" (written by {self.writer})" if self.writer else ""
        if self.shared:
            return f"{self.id} {self.kind}: {self.shared}"
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
    """What a sweep publishes: an audit per application (in batches), renders of heads a push
    never delivered, and the retries of failed syncs that are due (syncPolicy.retry)."""

    audits: list[AuditBatch]
    renders: list[RenderRequest]
    retries: list[ApplyRequest]


def fan_out(req: SweepRequest, operation: str) -> Sweep:
    """One audit request per application (all, a project's, or those named), a render
    request for every automated application whose target's head is not synced (a push whose
    webhook never arrived, a move backwards in Git), and an apply request for every failed
    sync whose retry is due."""
    apps = store.list_apps()
    if req.apps:
        named = set(req.apps)
        apps = [a for a in apps if a.name in named]
    if req.project:
        apps = [a for a in apps if a.spec.project == req.project]
    renders, behind = compare_heads(apps, operation)
    audits, sizes = [], []
    for app in sorted(apps, key=lambda a: a.name):
        ref, head = behind.get(app.name, ("", ""))
        audits.append(AuditRequest(app=app.name, operation=f"{operation}:{app.name}", head=head, ref=ref))
        sizes.append(store.inventory_count(app.status))
    return Sweep(messages.batches(audits, operation, sizes), renders, due_retries(apps, operation))


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
    (ref, head) of the others, for their audits to compare with (OutOfSync while not applied).
    A head whose changes since the synced commit touch nothing the application's render
    depends on is recorded as seen instead (shared/core/monorepo.py): no render, no history."""
    listed = heads.Heads()
    out, behind = [], {}
    seen: dict[str, StatusUpdate] = {}  # recorded together, in batches, after the loop
    for app in apps:
        spec, status = app.spec, app.status
        if policy.pinned(status):
            continue  # a rollback or a pin wins until unpinned (its refs are not even listed)
        # a chart from a Helm repository: its range resolved again, its ref sources' heads
        ref, commit = (listed.chart(spec, status) if spec.chart else listed.of_or_none(spec)) or ("", None)
        action = policy.missed_push(spec.syncPolicy.automated, status, commit)
        if action != gitorder.NOTHING and commit and (update := head_moved(app, ref, commit)) is not None:
            seen[app.name] = update
            action = gitorder.NOTHING  # audited against this head: the synced revision is its render
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
    store.update_statuses(seen)
    return out, behind


def head_moved(app: store.App, ref: str, head: str) -> StatusUpdate | None:
    """None (monorepo.RENDER) for an application whose target moved to `head` past its
    synced commit and whose render may change, else (monorepo.SEEN) the status update that
    records the head as seen (status.sync.seen), as Argo CD shows the new revision with
    nothing to sync: a tree diff between the two commits (dulwich), restricted to its path,
    its watchPaths and what its last render read, never a render. The caller writes the
    updates of a sweep together (store.update_statuses)."""
    spec, sync = app.spec, app.status.get("sync") or SyncState()
    synced = str(sync.get("commit") or "")
    paths = monorepo.watched(spec.path, spec.watchPaths, (app.status.get("render") or {}).get("reads") or ())
    changed: list[str] | None = None
    if synced:
        try:
            repo = git.fetch(spec.repoURL, head, ref or None)
            repo = git.fetch(spec.repoURL, synced)  # in the cache already, unless force-pushed away
            changed = git.changed_under(repo, synced, head, paths)
        except Exception as exc:  # unknown changes: render, as before
            logs.warning("cannot compare commits", app=app.name, head=head, synced=synced, reason=str(exc))
    if monorepo.on_head_moved(changed, paths) == monorepo.SEEN:
        logs.info(
            "head moved; nothing the application renders changed", app=app.name, head=head, synced=synced
        )
        return StatusUpdate(sync_seen=SeenHead(commit=head, base=synced, at=store.now()))
    logs.info("head moved", app=app.name, head=head, synced=synced, changed=(changed or [])[:5])
    return None


# ---- one application ----------------------------------------------------------------------


def claimants(cluster: Cluster, app: str, missing: list[dict[str, Any]]) -> dict[ObjectId, str]:
    """The other application owning each object missing from the app's lists ('' when none),
    one GET each, CONCURRENCY in flight (a deleted namespace: thousands of them)."""
    found = concurrently(lambda o: claimant(cluster, app, o), missing)
    return {ObjectId.of(o): other for o, (_, other) in zip(missing, found, strict=True)}


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
    claimed = claimants(cluster, spec.name, [o for o in desired if ObjectId.of(o) not in live])
    out: list[ObjectDrift] = []
    for obj in desired:
        oid = ObjectId.of(obj)
        if oid not in live:  # deleted, or another application took it (one read to tell)
            other = claimed[oid]
            shared = syncoptions.shared_message(str(oid), spec.name, other) if other else ""
            out.append(ObjectDrift(oid, "missing", shared=shared))
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
    if rules:  # jsonPointers, jqPathExpressions, and the fields managedFieldsManagers own live
        predicted = ignorediff.strip(predicted, rules, live=current)
        compared = ignorediff.strip(current, rules)
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


def _name_writers(cluster_name: str, cluster: Cluster, drifted: list[ObjectDrift], since: Any) -> None:
    """Name who wrote each drifted object since our last sync, from the audit records
    (the API server's audit log, or GKE's Cloud Audit Logs: shared/adapters/audittrail)."""
    resources = {d.id: plural for d in drifted if (plural := cluster.plural(d.id.group, d.id.kind))}
    since_s = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(since, dt.datetime) else ""
    found = audittrail.writers(cluster_name, [d.id for d in drifted], resources, since_s)
    for d in drifted:
        if d.id in found:
            d.writer = "; ".join(w.describe() for w in found[d.id])


def _app_health(
    checks: healthcel.HealthChecks, desired: list[dict[str, Any]], live: dict[ObjectId, dict[str, Any]]
) -> health.Health:
    return health.worst(health.of(live.get(ObjectId.of(o)), checks) for o in desired)


AUDIT_THREADS = 4  # audits of one batch in flight (each mostly waits on Firestore and the API server)


@dataclass(frozen=True)
class BatchOutcome:
    outcomes: list[AuditOutcome]
    retries: list[AuditRequest]  # audits that failed transiently: each to publish on its own


def audit_all(batch: AuditBatch) -> BatchOutcome:
    """The audits of a sweep's message, AUDIT_THREADS at a time, the applications read in one
    Firestore request. One audit's permanent error (its application deleted since the sweep)
    is logged and the others go on; one that failed transiently is handed back to be published
    as its own message (Pub/Sub retries it with backoff, alone: an application whose cluster is
    away must not hold up the others of its batch, nor repeat them)."""
    apps = store.get_apps([r.app for r in batch.audits])
    shared = SharedLists([r.app for r in batch.audits])

    def one(req: AuditRequest) -> AuditOutcome | BaseException:
        logs.bind(app=req.app, operation=req.operation)
        started, t0 = time.time(), time.perf_counter()
        try:
            outcome = audit(req, apps.get(req.app), shared)
        except Exception as exc:
            if not errorkinds.permanent(exc):
                return exc
            logs.error("audit failed", reason=failures.describe(exc, 1000), error=type(exc).__name__)
            return AuditOutcome([], None)
        logs.info(
            "audited",
            started=round(started, 3),
            ms=round((time.perf_counter() - t0) * 1000, 1),
            drifted=len(outcome.drifted),
        )
        return outcome

    with ThreadPoolExecutor(AUDIT_THREADS) as pool:  # each audit in a copy of this request's log context
        futures = [pool.submit(contextvars.copy_context().run, one, r) for r in batch.audits]
        done = [f.result() for f in futures]
    retries = []
    for req, result in zip(batch.audits, done, strict=True):
        if isinstance(result, BaseException):
            logs.warning(
                "audit failed; retried on its own",
                app=req.app,
                operation=req.operation,
                reason=str(result)[:500],
            )
            retries.append(req)
    return BatchOutcome([d for d in done if isinstance(d, AuditOutcome)], retries)


def audit(
    req: AuditRequest, prefetched: store.App | None = None, shared: SharedLists | None = None
) -> AuditOutcome:
    """One application's drift audit (`prefetched`: its document, read with others'; `shared`:
    the lists of its batch)."""
    app = prefetched or store.get_app(req.app)
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
        cluster = kube.for_project(spec.destination.cluster, spec.project)
        desired = prepare(spec, hooks.resources_of(revision_objects(spec, revision)), cluster)
        owned = {inventory.entry_id(e): e for e in store.inventory(req.app, status)}
        live = live_objects(
            cluster,
            req.app,
            desired + [inventory.as_stub(e) for e in owned.values()],
            complete=True,
            cached=True,
            shared=shared,
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
    project = store.get_project(spec.project)
    app_health = _app_health(spec.health_checks.over(healthcel.of_project(project)), desired, live)
    now = store.now()
    orphaned = _orphans(cluster, spec, project, desired, now)
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
        orphans=orphaned,
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
    _name_writers(spec.destination.cluster, cluster, drifted, sync.get("syncedAt"))
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


def _orphans(
    cluster: Cluster,
    spec: AppSpec,
    project: dict[str, Any] | None,
    desired: list[dict[str, Any]],
    now: dt.datetime,
) -> OrphansState | None:
    """Objects in the application's destination namespaces that no application owns, when its
    project watches them (Argo CD's orphanedResources); None when it does not. Only objects
    without our tracking label are listed (the label selector filters on the server), from the
    API server's watch cache, one list per namespaced kind; kinds that cannot be listed are
    left out."""
    settings = orphans.Settings.of(project)
    if settings is None:
        return None
    namespaces = {spec.destination.namespace} | {
        ns for o in desired if (ns := (o.get("metadata") or {}).get("namespace"))
    }
    live: list[dict[str, Any]] = []
    for api_version, kind in cluster.namespaced_kinds():
        if (api_version.rpartition("/")[0], kind) in orphans.EXCLUDED_KINDS:
            continue
        for namespace in sorted(namespaces):
            try:
                live += cluster.list(api_version, kind, namespace, f"!{config.LABEL_APP}", cached=True)
            except KubeError as exc:
                if exc.transient:
                    raise
    found = orphans.find(live, settings, config.LABEL_APP)
    warning = orphans.message(found) if found and settings.warn else None
    if warning:
        logs.warning("orphaned resources", app=spec.name, orphans=[str(o) for o in found[:20]])
    return OrphansState(
        count=len(found), objects=[str(o) for o in found[: orphans.MAX_LISTED]], warning=warning, at=now
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
