"""An application's status, typed: its vocabularies, the stored shape, and the updates to it.

The status is kept in Firestore as a readable map (`applications/{name}.status`), printed as
it is by `gitops app get -o json`, and read back as that map: its shape is a TypedDict per
record (AppStatus, SyncState, Pin...) rather than a class to convert to and from. Every word
the pipeline writes into it or into history (sync status, health, operation phase, initiator,
what happened to an object) is one of the StrEnum vocabularies below: a member is its
string, so what Firestore and the JSON logs hold is unchanged, and a value read back (a
plain string) compares equal to its member.

Writes are typed too: a step says what changes with a `StatusUpdate` (a field left KEEP is
not written, None clears it); the store adapter alone knows the Firestore field paths.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, fields
from typing import Any, Final, TypedDict

# ---- vocabularies -------------------------------------------------------------------------


class SyncStatus(enum.StrEnum):
    """Whether the cluster runs what Git says the application should run."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class HealthStatus(enum.StrEnum):
    """Health of an object or an application, from best to worst (shared/core/health.py)."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


class Phase(enum.StrEnum):
    """How one sync operation ended (status.operation.phase and its history entry)."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Initiator(enum.StrEnum):
    """Who asked for a render or an apply."""

    WEBHOOK = "webhook"  # a push
    MANUAL = "manual"  # gitops app sync, app promote
    ROLLBACK = "rollback"  # gitops app rollback, or an automated rollback
    SELF_HEAL = "self-heal"  # the audit repairing drift, or gitops recover
    SWEEP = "sweep"  # the periodic sweep found a push whose webhook never arrived


# initiators that follow the target's head (shared/core/gitorder.py); the others are explicit
AUTOMATED: Final = (Initiator.WEBHOOK, Initiator.SWEEP)


class Action(enum.StrEnum):
    """What a sync did to one object (shared/sync/engine.py ObjectResult)."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    FAILED = "failed"


class HookStatus(enum.StrEnum):
    """How one sync hook ended (shared/core/hooks.py; a history entry's `hooks`)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"  # its phase never came: an earlier hook or object failed


# ---- the stored shape -----------------------------------------------------------------------


class SyncTarget(TypedDict, total=False):
    """status.sync.target: what the application should run, as Argo CD compares against it
    (status.sync.revision there): the newest render of the tracked branch, tag or HEAD, or the
    head the sweep found there."""

    commit: str
    revision: str | None  # its stored render; None: not rendered yet, or its render failed


class SeenHead(TypedDict):
    """status.sync.seen: a head of the target the sweep found past the synced commit, with no
    change to what the application's render depends on (shared/core/monorepo.py): the
    application is at that head with the synced revision; nothing was rendered or applied."""

    commit: str
    base: str  # the synced commit it was compared with (a later sync makes it stale)
    at: dt.datetime


class SyncState(TypedDict, total=False):
    """status.sync: the revision the cluster was last synced to (live), against the target."""

    status: SyncStatus
    revision: str  # applications/{app}/revisions/{revision}: what is applied
    commit: str
    live: str  # the commit applied (= commit; named beside target)
    target: SyncTarget
    ref: str  # the target's ref it came from ('' for HEAD)
    committedAt: dt.datetime | None
    syncedAt: dt.datetime
    message: str | None  # why OutOfSync, naming the target's head and the synced commit
    seen: SeenHead  # the newest head that changed nothing for this app (cleared by a sync)


class HealthState(TypedDict, total=False):
    """status.health, and a history entry's health (shared/core/health.py Health.to_doc)."""

    status: HealthStatus
    message: str


class OperationState(TypedDict, total=False):
    """status.operation: the last sync operation."""

    phase: Phase
    sequence: int  # its history entry
    initiator: Initiator
    commit: str
    message: str
    finishedAt: dt.datetime


class Pin(TypedDict):
    """status.pin: the application stays at this revision; pushes render but do not apply."""

    revision: str
    commit: str
    by: str
    reason: str
    at: dt.datetime


class Healthy(TypedDict, total=False):
    """status.lastHealthy: the last synced revision an audit saw Healthy (a rollback target)."""

    revision: str
    commit: str
    at: dt.datetime


class RenderState(TypedDict, total=False):
    """status.render: the last render, its revision (None when it failed) or its errors."""

    commit: str
    revision: str | None
    at: dt.datetime
    reads: list[str]  # folders outside the path it read (a push changing them concerns it)
    refCommits: dict[str, str]  # a chart's value files: {ref: commit} read (multi-source)
    errors: list[dict[str, Any]]
    warnings: int
    findings: list[str]
    message: str


class DriftState(TypedDict, total=False):
    """status.drift: what the last audit found (its record in drift/{record}), or its error."""

    detectedAt: dt.datetime
    record: str
    objects: int
    ids: list[str]
    summary: str
    action: str
    error: str


class Heal(TypedDict):
    """One self-heal of a drifted field or object (status.heals, for the self-heal limit)."""

    key: str
    at: dt.datetime


class Skipped(TypedDict):
    """status.lastSkipped: a delivery the apply step did not apply, and why."""

    revision: str
    commit: str
    operation: str
    reason: str
    message: str
    at: dt.datetime


class RetryState(TypedDict, total=False):
    """status.retry: a failed sync that syncPolicy.retry tries again (shared/core/policy.py)."""

    revision: str
    commit: str
    initiator: Initiator
    operation: str  # the first attempt's; a retry's is "{operation}:retry-{n}"
    attempt: int  # attempts made so far, all failed
    limit: int  # retries allowed (below 0: no end)
    nextAt: dt.datetime | None  # when the next attempt is due; None: no more (gave up)
    message: str


class InventoryPointer(TypedDict, total=False):
    """status.inventory: the generation of inventory parts the last recorded sync wrote."""

    generation: str
    parts: int
    count: int
    sha256: str
    unrecorded: list[dict[str, str]]  # kinds and namespaces a sync may have written unrecorded


# an inline list of entries is the layout before parts, still read
Inventory = InventoryPointer | list[dict[str, str]]


class OrphansState(TypedDict, total=False):
    """status.orphans: objects in the destination namespaces no application owns, when the
    project watches them (shared/core/orphans.py); `warning` only with orphanedResources.warn."""

    count: int
    objects: list[str]
    warning: str | None
    at: dt.datetime


class AppStatus(TypedDict, total=False):
    """applications/{name}.status, as stored."""

    sync: SyncState
    health: HealthState
    operation: OperationState
    pin: Pin | None
    lastHealthy: Healthy
    render: RenderState
    drift: DriftState | None
    heals: list[Heal]
    inventory: Inventory
    historyCount: int
    lastAuditAt: dt.datetime
    lastAuditOperation: str
    lastSkipped: Skipped
    retry: RetryState | None
    orphans: OrphansState | None


# ---- the records built in one place -----------------------------------------------------------


def pin(revision: str, commit: str, *, by: str, reason: str, at: dt.datetime) -> Pin:
    """A pin: by hand (gitops app pin), or after a rollback an automated sync would undo."""
    return Pin(revision=revision, commit=commit, by=by, reason=reason, at=at)


def synced_to(
    revision: str,
    stored: dict[str, Any],
    at: dt.datetime,
    *,
    target: SyncTarget | None = None,
    status: SyncStatus = SyncStatus.SYNCED,
    message: str | None = None,
) -> SyncState:
    """status.sync after a sync of the stored revision `stored` (its commit, ref and time),
    compared with the target (shared/core/policy.py compare): Synced unless told otherwise."""
    return SyncState(
        status=status,
        revision=revision,
        commit=stored["commit"],
        live=stored["commit"],
        target=target or SyncTarget(commit=stored["commit"], revision=revision),
        ref=stored.get("ref") or "",
        committedAt=stored["committedAt"],
        syncedAt=at,
        message=message,
    )


# ---- updates ------------------------------------------------------------------------------------


class Keep(enum.Enum):
    """A StatusUpdate field that is not written."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class StatusUpdate:
    """What one write changes in an application's status: fields left KEEP are not written,
    None clears a field. `sync` replaces the whole record; `sync_status` and `sync_message`
    change only those fields of it (`sync_target`: the target, `sync_seen`: the head seen)."""

    sync: SyncState | Keep = KEEP
    sync_status: SyncStatus | Keep = KEEP
    sync_message: str | Keep | None = KEEP
    sync_target: SyncTarget | Keep = KEEP
    sync_seen: SeenHead | Keep = KEEP
    operation: OperationState | Keep = KEEP
    health: HealthState | Keep = KEEP
    inventory: Inventory | Keep = KEEP
    pin: Pin | Keep | None = KEEP
    last_healthy: Healthy | Keep = KEEP
    render: RenderState | Keep = KEEP
    drift: DriftState | Keep | None = KEEP
    heals: list[Heal] | Keep = KEEP
    last_audit_at: dt.datetime | Keep = KEEP
    last_audit_operation: str | Keep = KEEP
    last_skipped: Skipped | Keep = KEEP
    retry: RetryState | Keep | None = KEEP
    orphans: OrphansState | Keep | None = KEEP

    def changes(self) -> dict[str, Any]:
        """The fields to write, by name (the store adapter maps them to field paths)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not KEEP}
