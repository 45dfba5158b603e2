"""Which delivery an automated sync applies: ordered by the target, never by the clock.

An automated application runs the commit its target (a branch, a tag, HEAD) points at now.
Deliveries arrive late, twice and out of order, and Git's history moves backwards on a force
push, a reset or a branch deleted and recreated. Committer dates tell none of this (a laptop
with a wrong clock, a rebase tool), so a webhook's or a sweep's delivery is judged by the
target's head (one ref listing) and the commit graph (ancestry in the fetched repository):

- its commit is the head and the head contains what is synced: apply;
- its commit is the head and the head no longer contains what is synced: apply, recorded in
  history as a move backwards in Git naming both commits;
- its commit is an ancestor of what is synced, which the head still contains: a late delivery
  that arrived out of order: skip;
- otherwise its commit is no longer the head: stale, skip (the head's own delivery, or the
  sweep, brings the head).

Explicit operations (a manual sync or promotion, a rollback, a self-heal or recovery of the
synced revision) are applied as asked; pins are honoured before this (render, sweep). A heal
is asked for the revision synced when the audit read the application: if another sync has
recorded a different revision since (the audit raced it, and saw that sync's objects as
drift), the heal would put the older revision back, so it is skipped.

The decisions are pure functions of what the steps read; the reading (ref listing, fetch,
ancestry) stays in the steps (shared/steps/apply.py, shared/steps/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# initiators that follow the target; the others are explicit
from shared.core.status import AUTOMATED as AUTOMATED
from shared.core.status import Initiator

ZERO_SHA = "0" * 40

APPLY = "apply"
APPLY_BACKWARDS = "apply-backwards"  # the head no longer contains the synced commit
SKIP_STALE = "skip-stale"  # the delivery's commit is no longer the head
SKIP_OUT_OF_ORDER = "skip-out-of-order"  # an ancestor of the synced commit, delivered late
SKIP_SYNCED = "skip-synced"  # a sweep's delivery of the revision already synced
SKIP_SUPERSEDED = "skip-superseded"  # a heal of a revision that is no longer the synced one

RENDER = "render"  # the sweep: render (and so apply) the head
OUT_OF_SYNC = "out-of-sync"  # the sweep: the head is not synced and will not be by itself
NOTHING = ""


@dataclass(frozen=True)
class Delivery:
    """What the apply step knows about one delivery, its target now, and the commit graph."""

    initiator: str
    commit: str  # the delivery's commit
    revision: str = ""  # its stored revision id
    ref: str = ""  # the target's ref (refs/heads/main, refs/tags/v1; '' for HEAD)
    head: str | None = None  # the commit the target points at now; None: the ref is gone
    synced: str = ""  # the synced commit ('' when nothing is synced yet)
    synced_revision: str = ""
    synced_in_head: bool = False  # the head is the synced commit or contains it
    in_synced: bool | None = None  # the delivery's commit is in the synced one's history
    before: str = ""  # the push's before (ZERO_SHA: the ref was created); '' if not a push
    retargeted: bool = False  # the synced commit came from another ref than this delivery's


@dataclass(frozen=True)
class Decision:
    action: str  # APPLY | APPLY_BACKWARDS | SKIP_* (the reason)
    message: str = ""  # why it is skipped, or the move in Git an apply follows

    @property
    def applies(self) -> bool:
        return self.action in (APPLY, APPLY_BACKWARDS)


def decide(d: Delivery) -> Decision:
    """Apply, or skip with the reason, one delivery of a revision (see the module's rules)."""
    if d.initiator == Initiator.SELF_HEAL and d.revision and d.synced_revision not in ("", d.revision):
        return Decision(
            SKIP_SUPERSEDED,
            (
                f"the heal of revision {d.revision} is not applied: {d.synced_revision} "
                f"({d.synced[:7]}) was synced after the audit that asked for it"
            ),
        )
    if d.initiator not in AUTOMATED:
        return Decision(APPLY)
    target, short = ref_name(d.ref), d.commit[:7]
    if d.head is None:
        return Decision(SKIP_STALE, f"{short} is not applied: {target} no longer exists")
    if d.commit != d.head:
        if d.synced and d.in_synced and d.synced_in_head:
            return Decision(
                SKIP_OUT_OF_ORDER,
                (
                    f"{short} arrived after {d.synced[:7]}, which contains it and which {target} "
                    f"still contains (now at {d.head[:7]}): a late delivery, not applied"
                ),
            )
        return Decision(
            SKIP_STALE, f"{short} is no longer the head of {target} (now {d.head[:7]}); not applied"
        )
    if d.initiator == Initiator.SWEEP and d.revision and d.revision == d.synced_revision:
        return Decision(SKIP_SYNCED, f"{short} is already synced")
    if not d.synced or d.synced == d.commit or d.synced_in_head or d.retargeted:
        return Decision(APPLY)  # forward, or onto a new target (app set --revision): no move in Git
    return Decision(APPLY_BACKWARDS, move(d))


def move(d: Delivery) -> str:
    """The move backwards in Git, naming both commits: 'branch main moved from 029a7cc back
    to 0a32537 (force push)'."""
    target, kind = ref_name(d.ref), ref_name(d.ref).split(" ")[0]
    if d.initiator == Initiator.SWEEP:
        cause = "found by the sweep"
    elif d.before == ZERO_SHA:
        cause = f"{kind if kind in ('branch', 'tag') else 'ref'} recreated"
    else:
        cause = "force push"
    if d.in_synced:
        return f"{target} moved from {d.synced[:7]} back to {d.commit[:7]} ({cause})"
    return (
        f"{target} moved from {d.synced[:7]} to {d.commit[:7]}, which does not contain "
        f"{d.synced[:7]} ({cause})"
    )


def ref_name(ref: str) -> str:
    """'branch main', 'tag v1', 'HEAD', or the ref as it is."""
    if ref.startswith("refs/heads/"):
        return f"branch {ref.removeprefix('refs/heads/')}"
    if ref.startswith("refs/tags/"):
        return f"tag {ref.removeprefix('refs/tags/')}"
    return ref or "HEAD"


def sweep_action(
    *,
    automated: bool,
    pinned: bool,
    head: str | None,
    synced: str,
    rendered: str,
    render_failed: bool,
    failed: str,
) -> str:
    """What the sweep does about one application's target head (None: not listed).

    `rendered`: the commit last rendered (`render_failed`: with errors); `failed`: the commit
    of the last apply when it failed. A pinned application stays where it is pinned. A head
    that is synced needs nothing. An automated application renders (and so applies) the head,
    moves backwards included, unless the head's render or apply already failed: retrying gives
    the same answer (like Argo CD's automated sync, which does not retry a failed commit); it is
    then OutOfSync, as a manual application is.
    """
    if head is None or pinned or head == synced:
        return NOTHING
    if automated and not (head == rendered and render_failed) and head != failed:
        return RENDER
    return OUT_OF_SYNC


def behind(ref: str, head: str, synced: str) -> str:
    """The OutOfSync message when the target's head is not what is synced, naming both."""
    return f"{ref_name(ref)} is at {head[:7]}; {synced[:7] or 'nothing'} is synced"
