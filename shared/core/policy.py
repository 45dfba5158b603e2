"""The decisions the render, apply and audit steps make about an application, as pure functions.

Each takes what the step read (the spec's sync policy, the typed status, the request) and
answers what to do; the steps do the reading and the writing. The ordering rules (which
delivery an automated sync applies: forward only; what the sweep does about a head) are in
shared/core/gitorder.py, and take their inputs from the status here.

- apply-now: a render is applied when the app is automated and not pinned, or when asked
  explicitly (a manual sync, a rollback); a pin holds only automated deliveries.
- pins: a rollback that succeeded on an automated app pins it (the next push would undo it),
  an explicit sync that succeeded unpins it.
- self-heal limit: drift is healed unless self-heal is off or one field was healed
  SelfHealLimit times within SelfHealWindow seconds (a controller fighting us).
- automated rollback: opt-in (AutoRollback=true); a sync that left the app Degraded within
  AutoRollbackWindow seconds rolls back to the last revision seen Healthy, and pins it.
- retries: syncPolicy.retry as in Argo CD; a failed sync is tried again after a backoff
  (status.retry): the failed apply publishes an attempt due within a minute, the sweep a later one.
- the sweep's missed push: an unpinned automated app whose target's head is not synced
  renders it, unless that head already failed (then it is OutOfSync, as a manual app is).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shared.core import gitorder, model
from shared.core.messages import ApplyRequest
from shared.core.model import Retry, SyncPolicy
from shared.core.status import (
    AUTOMATED,
    KEEP,
    AppStatus,
    Heal,
    HealthStatus,
    Initiator,
    Keep,
    Phase,
    Pin,
    RetryState,
    StatusUpdate,
    SyncState,
    SyncStatus,
    SyncTarget,
    pin,
)

SELF_HEAL_LIMIT = 3  # heals of one field within the window (SelfHealLimit)
SELF_HEAL_WINDOW_S = 3600.0  # SelfHealWindow
HEALS_KEPT = 200  # the newest heals kept on the status
AUTO_ROLLBACK_WINDOW_S = 600.0  # AutoRollbackWindow


def pinned(status: AppStatus) -> bool:
    """Whether a pin (by hand, or after a rollback) holds the application."""
    return bool(status.get("pin"))


# ---- render: apply now? --------------------------------------------------------------------


def held_by_pin(status: AppStatus, initiator: str) -> bool:
    """A pin holds the deliveries that follow the target (a push, the sweep), nothing else."""
    return pinned(status) and initiator in AUTOMATED


def apply_now(policy: SyncPolicy, status: AppStatus, initiator: str) -> bool:
    """Whether a render is applied now: automated and not held by a pin, or asked explicitly."""
    explicit = initiator in (Initiator.MANUAL, Initiator.ROLLBACK)
    return (policy.automated and not held_by_pin(status, initiator)) or explicit


def after_render(*, applies: bool, synced: SyncState, target: SyncTarget, ref: str) -> StatusUpdate:
    """The sync fields a render changes: its commit (and its revision, None when the render
    failed or the gate blocked it) is the target now. Applied now, the apply compares; not
    applied (manual, pinned, failed), the application is OutOfSync unless the target is what
    is applied, naming both commits."""
    if applies:
        return StatusUpdate(sync_target=target)
    state, message = compare(target, synced, drifted=False, ref=ref)
    if state == SyncStatus.SYNCED:  # the applied revision: the last audit's answer stands
        return StatusUpdate(sync_target=target)
    return StatusUpdate(sync_target=target, sync_status=state, sync_message=message)


# ---- apply: forward only, pins -------------------------------------------------------------


def known_delivery(
    *, initiator: str, commit: str, revision: str, ref: str, before: str, synced: SyncState
) -> gitorder.Delivery:
    """What gitorder.decide knows of a delivery before reading Git: its commit against the
    synced one. Refs known on both sides and different: the target changed (app set
    --revision), the branch did not move."""
    were = str(synced.get("commit") or "")
    return gitorder.Delivery(
        initiator=initiator,
        commit=commit,
        revision=revision,
        ref=ref,
        synced=were,
        synced_revision=str(synced.get("revision") or ""),
        before=before,
        retargeted=bool(synced.get("ref") and ref and synced.get("ref") != ref),
    )


def pin_after_sync(
    *,
    initiator: str,
    automated: bool,
    phase: Phase,
    revision: str,
    commit: str,
    triggered_by: str,
    at: dt.datetime,
) -> Pin | Keep | None:
    """A rollback that succeeded pins an automated app (auto-sync would undo it at the next
    push) until unpinned or synced; an explicit sync that succeeded moves it on (unpinned)."""
    if phase != Phase.SUCCEEDED:
        return KEEP
    if initiator == Initiator.ROLLBACK and automated:
        who, _, why = triggered_by.partition(": ")
        return pin(revision, commit, by=who, reason=why or f"rollback to {commit[:7]}", at=at)
    if initiator == Initiator.MANUAL:
        return None
    return KEEP


# ---- audit: self-heal limit, automated rollback ----------------------------------------------


@dataclass(frozen=True)
class SelfHeal:
    """What the audit does about drift: heal it or not, why (the drift record's action), and
    the heals to keep on the status."""

    heal: bool
    action: str
    heals: list[Heal] = field(default_factory=list)


def self_heal(policy: SyncPolicy, heals: list[Heal], keys: list[str], now: dt.datetime) -> SelfHeal:
    """Heal the drifted `keys` (a field, or an object missing or extra) unless self-heal is off
    or one of them was healed SelfHealLimit times within SelfHealWindow seconds: a controller
    fighting us (say an HPA owning replicas) would otherwise make every sweep re-apply; healing
    then stops for the application and the conflict is reported instead."""
    window = dt.timedelta(seconds=float(policy.option("SelfHealWindow") or SELF_HEAL_WINDOW_S))
    limit = int(policy.option("SelfHealLimit") or SELF_HEAL_LIMIT)
    recent = [h for h in heals if h["at"] > now - window]
    if not policy.selfHeal:
        return SelfHeal(False, "reported (self-heal is off)", recent)
    fighting = [k for k in keys if sum(1 for h in recent if h["key"] == k) >= limit]
    if fighting:
        return SelfHeal(
            False,
            (
                f"self-heal stopped: {fighting[0]} was healed {limit} times within "
                f"{int(window.total_seconds())}s and changed back each time (a conflict with "
                "another controller or person)"
            ),
            recent,
        )
    return SelfHeal(
        True, "self-heal requested", [*recent, *(Heal(key=k, at=now) for k in keys)][-HEALS_KEPT:]
    )


def auto_rollback(
    policy: SyncPolicy, health: HealthStatus, why: str, status: AppStatus, now: dt.datetime
) -> Pin | None:
    """The pin of an automated rollback, or None: opt-in (AutoRollback=true), for an unpinned
    app left Degraded (`why`) by a sync within AutoRollbackWindow seconds, back to the last
    revision seen Healthy when that is another one."""
    if not policy.enabled("AutoRollback") or health != HealthStatus.DEGRADED or pinned(status):
        return None
    sync, healthy = status.get("sync") or SyncState(), status.get("lastHealthy") or {}
    window = dt.timedelta(seconds=float(policy.option("AutoRollbackWindow") or AUTO_ROLLBACK_WINDOW_S))
    synced_at = sync.get("syncedAt")
    target = healthy.get("revision")
    if not target or target == sync.get("revision") or not synced_at or now - synced_at > window:
        return None
    reason = (
        f"automated rollback: {sync.get('commit', '')[:7]} left the application Degraded "
        f"({why}); back to {healthy.get('commit', '')[:7]}, the last Healthy"
    )
    return pin(target, healthy.get("commit", ""), by="auto-rollback", reason=reason, at=now)


def target_of(status: AppStatus, head: str = "") -> SyncTarget | None:
    """The target the live state is compared with (Argo CD compares with the target revision's
    manifests, not the last applied ones): the target's `head` when the sweep listed it,
    rendered or not; otherwise the newest render (shared/steps/render.py records every one,
    failed ones with no revision); None when nothing was ever rendered."""
    render, sync = status.get("render") or {}, status.get("sync") or SyncState()
    if head:
        if head == render.get("commit"):
            return SyncTarget(commit=head, revision=render.get("revision"))
        if head == sync.get("commit"):
            return SyncTarget(commit=head, revision=sync.get("revision"))
        return SyncTarget(commit=head, revision=None)
    if render.get("commit"):
        return SyncTarget(commit=render["commit"], revision=render.get("revision"))
    return sync.get("target")


def compare(
    target: SyncTarget | None, synced: SyncState, *, drifted: bool, ref: str
) -> tuple[SyncStatus, str | None]:
    """Synced or OutOfSync as Argo CD means it, and why: never Synced while the target's commit
    (or its render) is not what is applied; then Synced unless the live objects drifted. A
    target whose render failed at the applied commit cannot be compared: Unknown (Argo CD's
    ComparisonError). No target known (nothing rendered since): drift alone decides."""
    live = str(synced.get("commit") or "")
    if target is None or not target.get("commit"):
        return (SyncStatus.OUT_OF_SYNC if drifted else SyncStatus.SYNCED), None
    commit, revision = target["commit"], target.get("revision")
    if commit != live:
        return SyncStatus.OUT_OF_SYNC, gitorder.behind(ref, commit, live)
    if not revision:
        return SyncStatus.UNKNOWN, f"the render of {commit[:7]}, the target, failed"
    if revision != synced.get("revision"):
        return SyncStatus.OUT_OF_SYNC, (
            f"{commit[:7]} renders differently now: {revision} is the target, "
            f"{synced.get('revision')} is synced"
        )
    return (SyncStatus.OUT_OF_SYNC if drifted else SyncStatus.SYNCED), None


def target_after_skip(head: str | None, synced: SyncState) -> SyncTarget | Keep:
    """The target after a delivery skipped as stale or late (its render made it the target):
    the applied revision when the head listed now is the applied commit, else unchanged."""
    if head and head == synced.get("commit") and synced.get("revision"):
        return SyncTarget(commit=head, revision=synced.get("revision"))
    return KEEP


def target_after_sync(initiator: str, status: AppStatus, revision: str, commit: str) -> SyncTarget:
    """The target after a sync of `revision`: a delivery that follows the target (a push, the
    sweep) is its head (gitorder applied it as such); an explicit one (a manual sync, a
    rollback, a self-heal) leaves the target as the newest render says, this one when none."""
    if initiator in AUTOMATED:
        return SyncTarget(commit=commit, revision=revision)
    return target_of(status) or SyncTarget(commit=commit, revision=revision)


# ---- retries: syncPolicy.retry ----------------------------------------------------------------


def attempt_of(status: AppStatus, revision: str) -> int:
    """Which attempt a sync of `revision` is: 1, or one more than the failed ones recorded."""
    retry = status.get("retry") or RetryState()
    return int(retry.get("attempt") or 0) + 1 if retry.get("revision") == revision else 1


def backoff(policy: Retry, retries_made: int) -> dt.timedelta:
    """The wait before retry number `retries_made + 1`: duration * factor^retries_made, at most
    maxDuration (Argo CD's backoff)."""
    first, cap = model.seconds(policy.duration), model.seconds(policy.maxDuration)
    return dt.timedelta(seconds=min(first * float(policy.factor) ** retries_made, cap))


def retry_after_failure(
    policy: Retry | None,
    *,
    attempt: int,
    revision: str,
    commit: str,
    initiator: str,
    operation: str,
    now: dt.datetime,
    previous: RetryState | None = None,
) -> RetryState | None:
    """Retry now? When next? After attempt `attempt` of `revision` failed: the next attempt is
    due after the backoff while fewer than `limit` retries were made (limit below 0: no end);
    otherwise nextAt None (it gave up, and says so). None: retries are not configured.
    `previous`: the retry recorded before this attempt, whose first operation is kept (each
    retry's operation is derived from it)."""
    if policy is None or policy.limit == 0:
        return None
    earlier = previous or RetryState()
    first = str(earlier.get("operation") or operation) if earlier.get("revision") == revision else operation
    made = attempt - 1  # retries made so far
    more = policy.limit < 0 or made < policy.limit
    next_at = now + backoff(policy, made) if more else None
    limit = "no limit" if policy.limit < 0 else f"{policy.limit} retries"
    return RetryState(
        revision=revision,
        commit=commit,
        initiator=Initiator(initiator),
        operation=first,
        attempt=attempt,
        limit=policy.limit,
        nextAt=next_at,
        message=(
            f"attempt {attempt} failed; retry {made + 1} ({limit}) at {next_at:%H:%M:%S}"
            if next_at
            else f"attempt {attempt} failed; gave up after {made} retries"
        ),
    )


def retry_due(state: RetryState | None, now: dt.datetime) -> bool:
    """Whether a recorded retry is due now (the sweep publishes it)."""
    next_at = (state or RetryState()).get("nextAt")
    return next_at is not None and next_at <= now


# a backoff this short is waited for by the apply function itself (Argo CD's controller waits
# in-process too); longer ones are published by the sweep when due
INLINE_RETRY_S = 60


def retry_request(app: str, state: RetryState, triggered_by: str, *, now: dt.datetime) -> ApplyRequest:
    """The next attempt of a failed sync, as an apply request. One published before its backoff
    has passed carries the time it is due (not_before), and the apply waits for it."""
    next_at = state.get("nextAt")
    return ApplyRequest(
        app=app,
        revision=state.get("revision", ""),
        initiator=Initiator(state.get("initiator") or Initiator.MANUAL),
        operation=retry_operation(state),
        triggered_by=triggered_by,
        not_before=next_at.isoformat() if next_at and next_at > now else "",
    )


def retry_inline(state: RetryState | None, now: dt.datetime) -> bool:
    """Whether the apply that failed publishes its retry itself: it is due within INLINE_RETRY_S."""
    next_at = (state or RetryState()).get("nextAt")
    return next_at is not None and next_at - now <= dt.timedelta(seconds=INLINE_RETRY_S)


def wait_s(not_before: str, now: dt.datetime) -> float:
    """How long an apply request waits before it starts: until its not_before, at most
    INLINE_RETRY_S (a clock far off, or a malformed time, never holds it longer)."""
    if not not_before:
        return 0.0
    try:
        due = dt.datetime.fromisoformat(not_before)
    except ValueError:
        return 0.0
    if due.tzinfo is None:
        due = due.replace(tzinfo=dt.UTC)
    return max(0.0, min((due - now).total_seconds(), float(INLINE_RETRY_S)))


def retry_operation(state: RetryState) -> str:
    """The operation of the next attempt: one per attempt, so a retry published twice (two
    sweeps before it ran) runs once."""
    return f"{state.get('operation', '')}:retry-{int(state.get('attempt') or 0)}"


# ---- the sweep: a push whose webhook never arrived -------------------------------------------


def missed_push(automated: bool, status: AppStatus, head: str | None) -> str:
    """What the sweep does about the target's `head` (None: not listed), from the status:
    gitorder.RENDER, gitorder.OUT_OF_SYNC or gitorder.NOTHING (gitorder.sweep_action)."""
    render, operation = status.get("render") or {}, status.get("operation") or {}
    return gitorder.sweep_action(
        automated=automated,
        pinned=pinned(status),
        head=head,
        synced=str((status.get("sync") or {}).get("commit") or ""),
        rendered=str(render.get("commit") or ""),
        render_failed=not render.get("revision"),
        failed=str(operation.get("commit") or "") if operation.get("phase") == Phase.FAILED else "",
    )
