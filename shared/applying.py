"""The apply step: one stored revision of an application onto its cluster, recorded.

Safe under at-least-once delivery: the application's lease admits one operation at
a time, a finished operation is never run twice, and a webhook-driven revision
older than the one already synced is skipped (never go backwards).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared import appofapps, githubapi, kube, logs, manifests, notifications, projects, rendering, store
from shared.gitfetch import FetchError
from shared.kube import KubeError
from shared.manifests import ObjectId
from shared.messages import ApplyRequest, RenderRequest
from shared.model import AppSpec
from shared.prepare import prepare
from shared.secrets import SecretMismatch
from shared.sync import ObjectResult, Options, SyncResult, apply_all

FORWARD_ONLY = ("webhook", "sweep")


@dataclass(frozen=True)
class Outcome:
    action: str  # synced | failed | skipped | duplicate
    sequence: int = 0
    message: str = ""
    event: dict[str, Any] | None = None  # for the notifications topic
    renders: list[RenderRequest] = field(default_factory=list)  # children to render (app of apps)


def apply(req: ApplyRequest) -> Outcome:
    holder = uuid.uuid4().hex
    begun = store.begin_operation(req.app, req.operation, holder)
    if begun.duplicate:
        logs.info("operation already finished; ignoring redelivery", app=req.app,
                  operation=req.operation)
        return Outcome("duplicate")
    assert begun.app is not None
    with store.heartbeat(req.app, holder):
        try:
            return _apply(req, holder, begun)
        except BaseException:
            # a poison message (its revision is gone) or a crash must not leave the lease to
            # expire: the application's next message would wait LEASE_S for nothing
            store.release_lease(req.app, holder)
            raise


def _apply(req: ApplyRequest, holder: str, begun: store.Begun) -> Outcome:
    assert begun.app is not None
    spec, status = begun.app.spec, begun.app.status
    revision = store.get_revision(req.app, req.revision)
    synced_at = (status.get("sync") or {}).get("committedAt")
    if req.initiator in FORWARD_ONLY and synced_at and revision["committedAt"] < synced_at:
        message = (f"revision {req.revision} ({revision['commit'][:7]}) is older than the synced "
                   f"{(status.get('sync') or {}).get('commit', '')[:7]}; not going backwards")
        store.finish_operation(req.app, req.operation, holder, begun.sequence, None, {
            "lastSkipped": {"revision": req.revision, "operation": req.operation,
                            "message": message, "at": store.now()}})
        logs.warning("skipped older revision", app=req.app, revision=req.revision)
        return Outcome("skipped", message=message)

    started = store.now()
    cluster = kube.cluster(spec.destination.cluster)
    old_inventory = status.get("inventory") or []
    renders: list[RenderRequest] = []
    try:
        children, objs = appofapps.split(rendering.revision_objects(spec, revision))
        desired = prepare(spec, objs, cluster)
        options = Options.of(spec)
        if req.prune:
            options = dataclasses.replace(options, prune=True)
        result = apply_all(cluster, spec, desired, old_inventory, options,
                           refused=_refused_by_project(spec, desired))
        if children and not result.failed:
            child_results, renders = appofapps.reconcile(spec, children, prune=spec.syncPolicy.prune,
                                                         operation=req.operation)
            result.objects.extend(child_results)
    except (KubeError, FetchError, SecretMismatch) as exc:
        if isinstance(exc, FetchError) or getattr(exc, "transient", False):
            store.release_lease(req.app, holder)
            raise  # the message is redelivered and the same operation resumes
        result = SyncResult(objects=[], inventory=old_inventory)
        result.objects.append(ObjectResult(manifests.ObjectId("", "", "", ""), "failed", str(exc)))
    finished = store.now()
    t_applied = time.perf_counter()
    entry = _history_entry(req, begun.sequence, revision, result, started, finished)
    new_status = _status(req, spec, begun.sequence, revision, result, finished, entry)
    store.finish_operation(req.app, req.operation, holder, begun.sequence, entry, new_status)
    store.trim_history(req.app, spec.revisionHistoryLimit, keep_revisions={
        req.revision, (status.get("pin") or {}).get("revision", ""),
        (status.get("lastHealthy") or {}).get("revision", "")}, newest=begun.sequence)
    logs.info(entry["summary"], app=req.app, operation=req.operation, sequence=begun.sequence,
              counts=result.counts(), apply_ms=round((finished - started).total_seconds() * 1000, 1),
              record_ms=round((time.perf_counter() - t_applied) * 1000, 1))
    githubapi.set_status(spec.repoURL, revision["commit"],
                         "failure" if result.failed else "success", entry["summary"], spec.name)
    return Outcome("failed" if result.failed else "synced", begun.sequence, entry["summary"],
                   notifications.sync_event(spec.name, spec.project, entry), renders)


def _refused_by_project(spec: AppSpec, desired: list[dict[str, Any]]) -> dict[ObjectId, str]:
    """Everything the application's project forbids, checked before any write."""
    project = store.get_project(spec.project)
    if project is None:
        if spec.project != "default":
            why = f"project {spec.project!r} does not exist"
            return {ObjectId.of(o): why for o in desired} or {ObjectId("", "", "", ""): why}
        project = projects.ALLOW_ALL
    source = projects.check_source(spec.project, project, spec)
    if source:
        return {ObjectId.of(o): source[0] for o in desired} or {ObjectId("", "", "", ""): source[0]}
    return projects.check_objects(spec.project, project, spec, desired)


def _history_entry(req: ApplyRequest, seq: int, revision: dict[str, Any], result: SyncResult,
                   started: dt.datetime, finished: dt.datetime) -> dict[str, Any]:
    counts = result.counts()
    phase = "Failed" if result.failed else "Succeeded"
    summary = (f"{'sync' if req.initiator != 'rollback' else 'rollback'} {seq} of "
               f"{revision['commit'][:7]} by {req.initiator}: "
               + ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
               + f"; {phase}, {result.health.status}")
    return {
        "sequence": seq,
        "summary": summary,
        "revision": req.revision,
        "commit": revision["commit"],
        "author": revision.get("author", ""),
        "commitMessage": revision.get("message", ""),
        "committedAt": revision["committedAt"],
        "initiator": req.initiator,
        "triggeredBy": req.triggered_by,
        "operation": req.operation,
        "phase": phase,
        "health": result.health.to_doc(),
        "counts": counts,
        "requests": result.requests,
        "writes": result.writes,
        "resources": [r.to_doc() for r in result.objects],
        "startedAt": started,
        "finishedAt": finished,
        "durationSeconds": round((finished - started).total_seconds(), 3),
    }


def _status(req: ApplyRequest, spec: AppSpec, seq: int, revision: dict[str, Any],
            result: SyncResult, finished: dt.datetime, entry: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = {
        "operation": {"phase": entry["phase"], "sequence": seq, "initiator": req.initiator,
                      "message": entry["summary"], "finishedAt": finished},
        "health": result.health.to_doc(),
        "inventory": result.inventory,
    }
    if not result.failed and req.initiator == "rollback" and spec.syncPolicy.automated:
        # auto-sync would undo the rollback at the next push: pin until unpinned or synced
        who, _, why = req.triggered_by.partition(": ")
        status["pin"] = {"revision": req.revision, "commit": revision["commit"], "by": who,
                         "at": finished, "reason": why or f"rollback to {revision['commit'][:7]}"}
    elif not result.failed and req.initiator == "manual":
        status["pin"] = None  # an explicit sync moves the application on
    if not result.failed:
        status["sync"] = {"status": "Synced", "revision": req.revision,
                          "commit": revision["commit"], "committedAt": revision["committedAt"],
                          "syncedAt": finished}
        status["drift"] = None
    else:
        status["sync.status"] = "OutOfSync"
    return status
