"""The apply step: one stored revision of an application onto its cluster, recorded.

Safe under at-least-once delivery: the application's lease admits one operation at
a time, and a finished operation is never run twice. A webhook's or sweep's revision is
applied only while its commit is the target's head (shared/core/gitorder.py): a late, stale
delivery is skipped, and a head that no longer contains the synced commit (a force push, a
reset, a branch recreated) is applied and recorded as a move backwards in Git.

A permanent error (shared/core/failures.py) ends the operation Failed, once: with the reason on
the application and in one history entry, a notification, and the message acknowledged.
When the sync's own record is what was refused, a small record is written instead: the
history entry without per-object results, and the inventory as it was plus the kinds and
namespaces this sync wrote to, so the next sync adds what it finds there with the app's
label (it starts from the cluster's truth, and prunes what Git no longer has).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from dulwich.objects import ObjectID
from dulwich.repo import Repo

from shared.adapters import commit_status, git, kube, store
from shared.adapters.git import FetchError
from shared.adapters.kube import KubeError
from shared.core import failures, gitorder, hooks, inventory, manifests, notifications, policy, projects, rbac
from shared.core.manifests import ObjectId
from shared.core.messages import ApplyRequest, RenderRequest
from shared.core.model import AppSpec, Retry
from shared.core.secrets import SecretMismatch
from shared.core.status import (
    AUTOMATED,
    KEEP,
    Action,
    AppStatus,
    Healthy,
    Initiator,
    InventoryPointer,
    OperationState,
    Phase,
    RetryState,
    Skipped,
    StatusUpdate,
    SyncState,
    SyncStatus,
    synced_to,
)
from shared.platform import logs
from shared.steps import appofapps, errorkinds
from shared.steps.operations import policy as rbac_policy
from shared.steps.revision import revision_objects
from shared.sync import phases
from shared.sync.engine import ObjectResult, Options, SyncResult, live_objects
from shared.sync.prepare import prepare

# a ref listing this recent may show the head to apply (the applies of one push to many
# applications share it); one that would skip the delivery is always made again
REFS_MAX_AGE_S = 2.0
COMMIT_MESSAGE_CHARS = 4096  # kept in a history entry (the rest is in Git)
HOOKS_KEPT = 200  # hook results kept in a history entry (the summary counts them all)


@dataclass(frozen=True)
class Outcome:
    action: str  # synced | failed | skipped | duplicate
    sequence: int = 0
    message: str = ""
    event: dict[str, Any] | None = None  # for the notifications topic
    renders: list[RenderRequest] = field(default_factory=list)  # children to render (app of apps)
    retries: list[ApplyRequest] = field(default_factory=list)  # the next attempt, due within a minute


def apply(req: ApplyRequest) -> Outcome:
    wait = policy.wait_s(req.not_before, store.now())
    if wait:  # a retry's backoff (syncPolicy.retry), kept before the lease is taken
        logs.info(f"retry due in {wait:.1f} s; waiting", app=req.app, operation=req.operation)
        time.sleep(wait)
    holder = uuid.uuid4().hex
    begun = store.begin_operation(req.app, req.operation, holder)
    if begun.duplicate:
        logs.info("operation already finished; ignoring redelivery", app=req.app, operation=req.operation)
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
    delivery = _delivery(req, spec, status, revision)
    decision = gitorder.decide(delivery)
    if not decision.applies:
        store.finish_operation(
            req.app,
            req.operation,
            holder,
            begun.sequence,
            None,
            StatusUpdate(
                # a late delivery's render made its commit the target: the head is, again
                sync_target=policy.target_after_skip(delivery.head, status.get("sync") or SyncState()),
                last_skipped=Skipped(
                    revision=req.revision,
                    commit=revision["commit"],
                    operation=req.operation,
                    reason=decision.action,
                    message=decision.message,
                    at=store.now(),
                ),
            ),
        )
        logs.warning(
            f"skipped: {decision.message}", app=req.app, revision=req.revision, decision=decision.action
        )
        return Outcome("skipped", message=decision.message)

    started = store.now()
    desired: list[dict[str, Any]] = []
    renders: list[RenderRequest] = []
    writes_unknown = False
    if spec.destination.cluster == rbac.CONTROL_PLANE:
        # the config application: its manifests are the RBAC policy, put in force here
        origin = {"source": "git", "app": spec.name, "commit": revision["commit"], "by": req.triggered_by}
        result = rbac_policy.apply_objects(spec, revision_objects(spec, revision), origin)
    else:
        result, desired, writes_unknown, renders = _sync(req, holder, spec, status, revision)
    finished = store.now()
    t_applied = time.perf_counter()
    record = functools.partial(
        _history_entry,
        req,
        begun.sequence,
        revision,
        started=started,
        finished=finished,
        decision=decision,
        attempt=policy.attempt_of(status, req.revision),
        retry_policy=spec.syncPolicy.retry,
        previous_retry=status.get("retry"),
    )
    entry = record(result)
    new_status = _status(req, status, spec, begun.sequence, revision, result, finished, entry)
    if writes_unknown:
        new_status = dataclasses.replace(new_status, inventory=unrecorded_inventory(status, desired))
    try:
        store.finish_operation(
            req.app,
            req.operation,
            holder,
            begun.sequence,
            entry,
            new_status,
            previous_inventory=status.get("inventory"),
        )
    except Exception as exc:
        if not errorkinds.permanent(exc):
            raise
        # the record itself was refused (a size limit, an invalid argument): record less, once
        logs.error(
            "recording the sync was refused; recording it as failed",
            app=req.app,
            operation=req.operation,
            reason=failures.describe(exc, 1000),
        )
        result = dataclasses.replace(
            result,
            objects=[
                *result.objects,
                ObjectResult(
                    manifests.ObjectId("", "", "", ""),
                    Action.FAILED,
                    f"the sync's record was refused: {failures.describe(exc)}",
                ),
            ],
        )
        entry = _unrecorded_entry(record(result), exc)
        new_status = dataclasses.replace(
            _status(req, status, spec, begun.sequence, revision, result, finished, entry),
            inventory=unrecorded_inventory(status, desired),
        )
        store.finish_operation(req.app, req.operation, holder, begun.sequence, entry, new_status)
    pin = status.get("pin")
    store.trim_history(
        req.app,
        spec.revisionHistoryLimit,
        keep_revisions={
            req.revision,
            pin["revision"] if pin else "",
            (status.get("lastHealthy") or Healthy()).get("revision", ""),
        },
        newest=begun.sequence,
    )
    logs.info(
        entry["summary"],
        app=req.app,
        operation=req.operation,
        sequence=begun.sequence,
        counts=result.counts(),
        apply_ms=round((finished - started).total_seconds() * 1000, 1),
        record_ms=round((time.perf_counter() - t_applied) * 1000, 1),
    )
    if not spec.chart:  # a chart's revision names no commit of a Git host
        commit_status.set_status(
            spec.repoURL,
            revision["commit"],
            "failure" if result.failed else "success",
            entry["summary"],
            spec.name,
        )
    retry = entry.get("retry")
    return Outcome(
        "failed" if result.failed else "synced",
        begun.sequence,
        entry["summary"],
        notifications.sync_event(spec.name, spec.project, entry),
        renders,
        (
            [
                policy.retry_request(
                    req.app, retry, f"retry {retry.get('attempt', 0)} after {req.operation}", now=finished
                )
            ]
            if result.failed and retry and policy.retry_inline(retry, finished)
            else []
        ),
    )


def _sync(
    req: ApplyRequest, holder: str, spec: AppSpec, status: AppStatus, revision: dict[str, Any]
) -> tuple[SyncResult, list[dict[str, Any]], bool, list[RenderRequest]]:
    """Apply a revision to its cluster: (result, desired objects, whether what was written is
    unknown, children to render)."""
    cluster = kube.cluster(spec.destination.cluster)
    old_inventory = store.inventory(req.app, status)
    renders: list[RenderRequest] = []
    desired: list[dict[str, Any]] = []
    applied: SyncResult | None = None
    writes_unknown = False  # a permanent error inside the apply: what it wrote is not known
    try:
        if store.unrecorded(status):
            old_inventory = old_inventory + found_unrecorded(
                cluster, req.app, store.unrecorded(status), old_inventory
            )
        children, objs = appofapps.split(revision_objects(spec, revision))
        desired = prepare(spec, objs, cluster)
        options = Options.of(spec)
        if req.prune:
            options = dataclasses.replace(options, prune=True)
        result = applied = phases.sync(
            cluster,
            spec,
            desired,
            old_inventory,
            options,
            operation=req.operation,
            refused=_refused_by_project(spec, desired),
        )
        if children and not result.failed:
            child_results, renders = appofapps.reconcile(
                spec, children, prune=spec.syncPolicy.prune, operation=req.operation
            )
            result.objects.extend(child_results)
    except (KubeError, FetchError, SecretMismatch) as exc:
        if isinstance(exc, FetchError) or getattr(exc, "transient", False):
            store.release_lease(req.app, holder)
            raise  # the message is redelivered and the same operation resumes
        result = SyncResult(objects=[], inventory=old_inventory)
        result.objects.append(ObjectResult(manifests.ObjectId("", "", "", ""), Action.FAILED, str(exc)))
    except Exception as exc:
        if not errorkinds.permanent(exc):
            store.release_lease(req.app, holder)
            raise
        # e.g. an app of apps' child refused by the store: what was applied stays recorded
        result = SyncResult(
            objects=list(applied.objects) if applied else [],
            inventory=applied.inventory if applied else old_inventory,
            hooks=list(applied.hooks) if applied else [],
        )
        writes_unknown = applied is None and bool(desired)
        result.objects.append(
            ObjectResult(manifests.ObjectId("", "", "", ""), Action.FAILED, failures.describe(exc))
        )
    return result, desired, writes_unknown, renders


def _delivery(
    req: ApplyRequest, spec: AppSpec, status: AppStatus, revision: dict[str, Any]
) -> gitorder.Delivery:
    """What gitorder.decide needs: the target's head now (one ref listing) and, when it matters,
    ancestry in the fetched repository. A listing or fetch that fails is retried (the message
    is redelivered): without the head, a delivery cannot be told stale or not."""
    known = policy.known_delivery(
        initiator=req.initiator,
        commit=revision["commit"],
        revision=req.revision,
        ref=revision.get("ref") or "",
        before=req.before,
        synced=status.get("sync") or SyncState(),
    )
    commit, synced = known.commit, known.synced
    if req.initiator not in AUTOMATED:
        return known  # explicit: applied as asked, nothing to read
    if spec.chart:  # no Git refs: the render resolved the version, its archive is the head
        return dataclasses.replace(known, head=commit)
    target = spec.head(git.ls_remote(spec.repoURL, max_age=REFS_MAX_AGE_S))
    if target is None or target[1] != commit:  # a skip is decided on a listing made now
        target = spec.head(git.ls_remote(spec.repoURL))
    if target is None:
        return known
    ref, head = target
    known = dataclasses.replace(known, ref=ref, head=head)
    if not synced or synced == commit:
        return known
    try:  # the head and its whole history, unless the cache has it already
        repo = git.fetch(spec.repoURL, head, ref or None)
    except git.CommitNotFound as exc:  # the target moved since it was listed: look again
        raise FetchError(f"{exc}; the target moved, retrying") from None
    synced_in_head = git.is_ancestor(repo, synced, head)
    known = dataclasses.replace(known, synced_in_head=synced_in_head)
    if commit != head and synced_in_head:  # late (in the synced history) or stale?
        return dataclasses.replace(known, in_synced=git.is_ancestor(repo, commit, synced))
    if commit == head and not synced_in_head:  # a move backwards: back to an ancestor?
        return dataclasses.replace(known, in_synced=_in_history(spec.repoURL, repo, commit, synced))
    return known


def _in_history(url: str, repo: Repo, commit: str, synced: str) -> bool | None:
    """Whether `commit` is in the history of `synced`, None when `synced` cannot be fetched any
    more (a force push took it away and no branch or tag keeps it)."""
    if ObjectID(synced.encode()) not in repo.object_store:
        try:
            repo = git.fetch(url, synced)
        except FetchError:
            return None
    return git.is_ancestor(repo, commit, synced)


def kinds_of(objs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The (apiVersion, kind, namespace) groups of objects, as status.inventory.unrecorded keeps them."""
    groups = {(o["apiVersion"], o["kind"], (o.get("metadata") or {}).get("namespace", "")) for o in objs}
    return [{"apiVersion": a, "kind": k, "namespace": n} for a, k, n in sorted(groups)]


def unrecorded_inventory(status: AppStatus, desired: list[dict[str, Any]]) -> InventoryPointer:
    """The inventory pointer as it was, plus where this sync may have written."""
    pointer = status.get("inventory")
    if not isinstance(pointer, dict):  # none yet, or the inline list of the old layout
        if isinstance(pointer, list):
            desired = desired + [inventory.as_stub(e) for e in pointer]
        pointer = InventoryPointer(generation="", parts=0, count=0, sha256="")
    kinds = {
        (k["apiVersion"], k["kind"], k["namespace"]) for k in [*store.unrecorded(status), *kinds_of(desired)]
    }
    return {
        **pointer,
        "unrecorded": [{"apiVersion": a, "kind": k, "namespace": n} for a, k, n in sorted(kinds)],
    }


def found_unrecorded(
    cluster: kube.Cluster, app: str, kinds: list[dict[str, str]], known: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Inventory entries for the objects with the app's label in `kinds` that `known` lacks
    (one list request per kind and namespace); without digests, so each gets a dry-run."""
    have = {inventory.entry_id(e) for e in known}
    stubs = [
        {
            "apiVersion": k["apiVersion"],
            "kind": k["kind"],
            "metadata": {"namespace": k["namespace"], "name": ""},
        }
        for k in kinds
    ]
    live = live_objects(cluster, app, stubs, complete=True)
    return [
        {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "namespace": obj["metadata"].get("namespace", ""),
            "name": obj["metadata"]["name"],
        }
        for oid, obj in sorted(live.items())
        if oid not in have
    ]


def _unrecorded_entry(entry: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The history entry of a sync whose record was refused: summary, counts and the reason,
    no per-object results, the commit message cut to a line."""
    reason = failures.describe(exc)
    small = {k: v for k, v in entry.items() if k not in ("resources", "hooks")}
    small["commitMessage"] = (entry.get("commitMessage") or "").split("\n", 1)[0][:200]
    small["phase"] = Phase.FAILED
    small["error"] = reason
    small["summary"] = (
        entry["summary"].rsplit(";", 1)[0] + f"; Failed: the sync's record was refused: {reason}"
    )[:1000]
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


def _history_entry(
    req: ApplyRequest,
    seq: int,
    revision: dict[str, Any],
    result: SyncResult,
    started: dt.datetime,
    finished: dt.datetime,
    decision: gitorder.Decision,
    *,
    attempt: int = 1,
    retry_policy: Retry | None = None,
    previous_retry: RetryState | None = None,
) -> dict[str, Any]:
    counts = result.counts()
    phase = Phase.FAILED if result.failed else Phase.SUCCEEDED
    summary = (
        f"{'sync' if req.initiator != Initiator.ROLLBACK else 'rollback'} {seq} of "
        f"{revision['commit'][:7]} by {req.initiator}: "
        + ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
        + f"; {phase}, {result.health.status}"
    )
    if result.hooks:
        summary += f"; {hooks.summary(result.hooks)}"
    moved = decision.message if decision.action == gitorder.APPLY_BACKWARDS else ""
    if moved:
        summary += f"; {moved}"
    retry = (
        policy.retry_after_failure(
            retry_policy,
            attempt=attempt,
            revision=req.revision,
            commit=revision["commit"],
            initiator=req.initiator,
            operation=req.operation,
            now=finished,
            previous=previous_retry,
        )
        if result.failed
        else None
    )
    if retry:
        summary += f"; {retry['message']}"
    elif attempt > 1:
        summary += f"; attempt {attempt}"
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
        "hooks": [h.to_doc() for h in result.hooks[:HOOKS_KEPT]],  # inline: a few, bounded
        "startedAt": started,
        "finishedAt": finished,
        "durationSeconds": round((finished - started).total_seconds(), 3),
        # a move backwards in Git this sync follows: "branch main moved from 029a7cc back to
        # 0a32537 (force push)"; '' for a sync forward or an explicit one
        "gitMove": moved,
        "attempt": attempt,  # 1, or the retry's attempt (syncPolicy.retry)
        **({"retry": retry} if retry else {}),  # a failed one: the next attempt, or gave up
    }


def _synced(req: ApplyRequest, status: AppStatus, revision: dict[str, Any], at: dt.datetime) -> SyncState:
    """status.sync after a sync that succeeded, compared with the target: a rollback or an
    explicit sync of another commit than the target's leaves the application OutOfSync."""
    target = policy.target_after_sync(req.initiator, status, req.revision, revision["commit"])
    live = SyncState(commit=revision["commit"], revision=req.revision)
    state, message = policy.compare(target, live, drifted=False, ref=revision.get("ref") or "")
    return synced_to(req.revision, revision, at, target=target, status=state, message=message)


def _status(
    req: ApplyRequest,
    status: AppStatus,
    spec: AppSpec,
    seq: int,
    revision: dict[str, Any],
    result: SyncResult,
    finished: dt.datetime,
    entry: dict[str, Any],
) -> StatusUpdate:
    phase = Phase(entry["phase"])
    return StatusUpdate(
        operation=OperationState(
            phase=phase,
            sequence=seq,
            initiator=Initiator(req.initiator),
            commit=revision["commit"],
            message=entry["summary"],
            finishedAt=finished,
        ),
        health=result.health.to_doc(),
        inventory=result.inventory,
        pin=policy.pin_after_sync(
            initiator=req.initiator,
            automated=spec.syncPolicy.automated,
            phase=phase,
            revision=req.revision,
            commit=revision["commit"],
            triggered_by=req.triggered_by,
            at=finished,
        ),
        sync=KEEP if result.failed else _synced(req, status, revision, finished),
        sync_status=SyncStatus.OUT_OF_SYNC if result.failed else KEEP,
        drift=KEEP if result.failed else None,
        retry=entry.get("retry") if result.failed else None,
    )
