"""The apply step: one stored revision of an application onto its cluster, recorded.

Safe under at-least-once delivery: the application's lease admits one operation at
a time, a finished operation is never run twice, and a webhook-driven revision
older than the one already synced is skipped (never go backwards).

A permanent error (shared/failures.py) ends the operation Failed, once: with the reason on
the application and in one history entry, a notification, and the message acknowledged.
When the sync's own record is what was refused, a small record is written instead: the
history entry without per-object results, and the inventory as it was plus the kinds and
namespaces this sync wrote to, so the next sync adds what it finds there with the app's
label (it starts from the cluster's truth, and prunes what Git no longer has).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared import (
    appofapps,
    errorkinds,
    failures,
    githubapi,
    inventory,
    kube,
    logs,
    manifests,
    notifications,
    projects,
    rendering,
    store,
)
from shared.gitfetch import FetchError
from shared.kube import KubeError
from shared.manifests import ObjectId
from shared.messages import ApplyRequest, RenderRequest
from shared.model import AppSpec
from shared.prepare import prepare
from shared.secrets import SecretMismatch
from shared.sync import ObjectResult, Options, SyncResult, apply_all, live_objects

FORWARD_ONLY = ("webhook", "sweep")
COMMIT_MESSAGE_CHARS = 4096  # kept in a history entry (the rest is in Git)


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
    old_inventory = store.inventory(req.app, status)
    renders: list[RenderRequest] = []
    desired: list[dict[str, Any]] = []
    applied: SyncResult | None = None
    writes_unknown = False  # a permanent error inside the apply: what it wrote is not known
    try:
        if store.unrecorded(status):
            old_inventory = old_inventory + found_unrecorded(cluster, req.app, store.unrecorded(status),
                                                             old_inventory)
        children, objs = appofapps.split(rendering.revision_objects(spec, revision))
        desired = prepare(spec, objs, cluster)
        options = Options.of(spec)
        if req.prune:
            options = dataclasses.replace(options, prune=True)
        result = applied = apply_all(cluster, spec, desired, old_inventory, options,
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
    except Exception as exc:
        if not errorkinds.permanent(exc):
            store.release_lease(req.app, holder)
            raise
        # e.g. an app of apps' child refused by the store: what was applied stays recorded
        result = SyncResult(objects=list(applied.objects) if applied else [],
                            inventory=applied.inventory if applied else old_inventory)
        writes_unknown = applied is None and bool(desired)
        result.objects.append(ObjectResult(manifests.ObjectId("", "", "", ""), "failed",
                                           failures.describe(exc)))
    finished = store.now()
    t_applied = time.perf_counter()
    entry = _history_entry(req, begun.sequence, revision, result, started, finished)
    new_status = _status(req, spec, begun.sequence, revision, result, finished, entry)
    if writes_unknown:
        new_status["inventory"] = unrecorded_inventory(status, desired)
    try:
        store.finish_operation(req.app, req.operation, holder, begun.sequence, entry, new_status,
                               previous_inventory=status.get("inventory"))
    except Exception as exc:
        if not errorkinds.permanent(exc):
            raise
        # the record itself was refused (a size limit, an invalid argument): record less, once
        logs.error("recording the sync was refused; recording it as failed", app=req.app,
                   operation=req.operation, reason=failures.describe(exc, 1000))
        result = dataclasses.replace(result, objects=[*result.objects, ObjectResult(
            manifests.ObjectId("", "", "", ""), "failed",
            f"the sync's record was refused: {failures.describe(exc)}")])
        entry = _unrecorded_entry(_history_entry(req, begun.sequence, revision, result, started,
                                                 finished), exc)
        new_status = _status(req, spec, begun.sequence, revision, result, finished, entry)
        new_status["inventory"] = unrecorded_inventory(status, desired)
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


def kinds_of(objs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The (apiVersion, kind, namespace) groups of objects, as status.inventory.unrecorded keeps them."""
    groups = {(o["apiVersion"], o["kind"], (o.get("metadata") or {}).get("namespace", "")) for o in objs}
    return [{"apiVersion": a, "kind": k, "namespace": n} for a, k, n in sorted(groups)]


def unrecorded_inventory(status: dict[str, Any], desired: list[dict[str, Any]]) -> dict[str, Any]:
    """The inventory pointer as it was, plus where this sync may have written."""
    pointer = status.get("inventory")
    if not isinstance(pointer, dict):  # none yet, or the inline list of the old layout
        pointer = {"generation": "", "parts": 0, "count": 0, "sha256": ""}
        if isinstance(status.get("inventory"), list):
            desired = desired + [inventory.as_stub(e) for e in status["inventory"]]
    kinds = {(k["apiVersion"], k["kind"], k["namespace"])
             for k in [*store.unrecorded(status), *kinds_of(desired)]}
    return {**pointer, "unrecorded": [{"apiVersion": a, "kind": k, "namespace": n}
                                      for a, k, n in sorted(kinds)]}


def found_unrecorded(cluster: kube.Cluster, app: str, kinds: list[dict[str, str]],
                     known: list[dict[str, str]]) -> list[dict[str, str]]:
    """Inventory entries for the objects with the app's label in `kinds` that `known` lacks
    (one list request per kind and namespace); without digests, so each gets a dry-run."""
    have = {inventory.entry_id(e) for e in known}
    stubs = [{"apiVersion": k["apiVersion"], "kind": k["kind"],
              "metadata": {"namespace": k["namespace"], "name": ""}} for k in kinds]
    live = live_objects(cluster, app, stubs, complete=True)
    return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"],
             "namespace": obj["metadata"].get("namespace", ""), "name": obj["metadata"]["name"]}
            for oid, obj in sorted(live.items()) if oid not in have]


def _unrecorded_entry(entry: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The history entry of a sync whose record was refused: summary, counts and the reason,
    no per-object results, the commit message cut to a line."""
    reason = failures.describe(exc)
    small = {k: v for k, v in entry.items() if k != "resources"}
    small["commitMessage"] = (entry.get("commitMessage") or "").split("\n", 1)[0][:200]
    small["phase"] = "Failed"
    small["error"] = reason
    small["summary"] = (entry["summary"].rsplit(";", 1)[0]
                        + f"; Failed: the sync's record was refused: {reason}")[:1000]
    return small


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
        "commitMessage": (revision.get("message") or "")[:COMMIT_MESSAGE_CHARS],
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
