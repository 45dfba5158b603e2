"""The steps' decisions as pure functions (shared/core/policy.py), table by table: apply-now and
pins, forward-only's inputs, the self-heal limit, automated rollback, the audit's sync status,
the audit's target and comparison, and the sweep's missed-push rule."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from shared.core import gitorder, policy
from shared.core.model import SyncPolicy
from shared.core.status import KEEP, HealthStatus, Initiator, Phase, StatusUpdate, SyncStatus, SyncTarget

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
A, B, C = "a" * 40, "b" * 40, "c" * 40
PIN = {"revision": "r-a", "commit": A, "by": "cli:ann", "reason": "freeze", "at": NOW}
AUTO, MANUAL = SyncPolicy(automated=True), SyncPolicy()


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


# ---- apply-now and the pin that holds a render -----------------------------------------------


@pytest.mark.parametrize(
    ("sync_policy", "status", "initiator", "applies", "held"),
    [
        (AUTO, {}, Initiator.WEBHOOK, True, False),
        (AUTO, {}, Initiator.SWEEP, True, False),
        (AUTO, {}, Initiator.MANUAL, True, False),
        (AUTO, {}, Initiator.ROLLBACK, True, False),
        (AUTO, {}, Initiator.SELF_HEAL, True, False),
        (AUTO, {"pin": PIN}, Initiator.WEBHOOK, False, True),
        (AUTO, {"pin": PIN}, Initiator.SWEEP, False, True),
        (AUTO, {"pin": PIN}, Initiator.MANUAL, True, False),  # explicit: applied as asked
        (AUTO, {"pin": PIN}, Initiator.ROLLBACK, True, False),
        (AUTO, {"pin": PIN}, Initiator.SELF_HEAL, True, False),  # not held, automated
        (AUTO, {"pin": None}, Initiator.WEBHOOK, True, False),  # an unpinned app keeps pin: null
        (MANUAL, {}, Initiator.WEBHOOK, False, False),
        (MANUAL, {}, Initiator.SWEEP, False, False),
        (MANUAL, {}, Initiator.SELF_HEAL, False, False),
        (MANUAL, {}, Initiator.MANUAL, True, False),
        (MANUAL, {}, Initiator.ROLLBACK, True, False),
        (MANUAL, {"pin": PIN}, Initiator.WEBHOOK, False, True),
        (MANUAL, {"pin": PIN}, Initiator.MANUAL, True, False),
        (AUTO, {}, "webhook", True, False),  # a plain string from a decoded message
        (AUTO, {"pin": PIN}, "sweep", False, True),
    ],
)
def test_apply_now(sync_policy, status, initiator, applies, held):
    assert policy.apply_now(sync_policy, status, initiator) is applies
    assert policy.held_by_pin(status, initiator) is held


def target(commit: str, revision: str | None) -> SyncTarget:
    return SyncTarget(commit=commit, revision=revision)


@pytest.mark.parametrize(
    ("applies", "synced", "revision", "commit", "update"),
    [
        # applied now: the render is the target, the apply compares
        (True, {}, "r-b", B, StatusUpdate(sync_target=target(B, "r-b"))),
        (True, {"revision": "r-a", "commit": A}, "r-b", B, StatusUpdate(sync_target=target(B, "r-b"))),
        # not applied, the synced revision: only the target is written
        (False, {"revision": "r-b", "commit": B}, "r-b", B, StatusUpdate(sync_target=target(B, "r-b"))),
        # not applied, nothing synced yet: OutOfSync
        (
            False,
            {},
            "r-b",
            B,
            StatusUpdate(
                sync_target=target(B, "r-b"),
                sync_status=SyncStatus.OUT_OF_SYNC,
                sync_message=f"branch main is at {B[:7]}; nothing is synced",
            ),
        ),
        # not applied, another commit synced: OutOfSync naming both
        (
            False,
            {"revision": "r-a", "commit": A},
            "r-b",
            B,
            StatusUpdate(
                sync_target=target(B, "r-b"),
                sync_status=SyncStatus.OUT_OF_SYNC,
                sync_message=f"branch main is at {B[:7]}; {A[:7]} is synced",
            ),
        ),
        # not applied, the same commit rendered with other options: OutOfSync, saying so
        (
            False,
            {"revision": "r-b-old", "commit": B},
            "r-b",
            B,
            StatusUpdate(
                sync_target=target(B, "r-b"),
                sync_status=SyncStatus.OUT_OF_SYNC,
                sync_message=f"{B[:7]} renders differently now: r-b is the target, r-b-old is synced",
            ),
        ),
        # a render that failed (revision None) of another commit: OutOfSync
        (
            False,
            {"revision": "r-a", "commit": A},
            None,
            B,
            StatusUpdate(
                sync_target=target(B, None),
                sync_status=SyncStatus.OUT_OF_SYNC,
                sync_message=f"branch main is at {B[:7]}; {A[:7]} is synced",
            ),
        ),
        # ... of the applied commit (the spec changed): it cannot be compared, Unknown
        (
            False,
            {"revision": "r-a", "commit": A},
            None,
            A,
            StatusUpdate(
                sync_target=target(A, None),
                sync_status=SyncStatus.UNKNOWN,
                sync_message=f"the render of {A[:7]}, the target, failed",
            ),
        ),
    ],
)
def test_after_render(applies, synced, revision, commit, update):
    got = policy.after_render(
        applies=applies, synced=synced, target=target(commit, revision), ref="refs/heads/main"
    )
    assert got == update


@pytest.mark.parametrize(
    ("initiator", "automated", "phase", "triggered_by", "expected"),
    [
        # a rollback on an automated app pins it, with who and why from triggered_by
        (
            Initiator.ROLLBACK,
            True,
            Phase.SUCCEEDED,
            "auto-rollback: it was Degraded",
            {"revision": "r-a", "commit": A, "by": "auto-rollback", "reason": "it was Degraded", "at": NOW},
        ),
        (
            Initiator.ROLLBACK,
            True,
            Phase.SUCCEEDED,
            "cli:ann",
            {"revision": "r-a", "commit": A, "by": "cli:ann", "reason": f"rollback to {A[:7]}", "at": NOW},
        ),
        (
            Initiator.ROLLBACK,
            True,
            Phase.SUCCEEDED,
            "",
            {"revision": "r-a", "commit": A, "by": "", "reason": f"rollback to {A[:7]}", "at": NOW},
        ),
        (Initiator.ROLLBACK, True, Phase.FAILED, "cli:ann", KEEP),  # a failed rollback pins nothing
        (Initiator.ROLLBACK, False, Phase.SUCCEEDED, "cli:ann", KEEP),  # manual apps need no pin
        (Initiator.MANUAL, True, Phase.SUCCEEDED, "cli:ann", None),  # an explicit sync unpins
        (Initiator.MANUAL, False, Phase.SUCCEEDED, "cli:ann", None),
        (Initiator.MANUAL, True, Phase.FAILED, "cli:ann", KEEP),
        (Initiator.WEBHOOK, True, Phase.SUCCEEDED, "delivery", KEEP),
        (Initiator.SWEEP, True, Phase.SUCCEEDED, "sweep:op", KEEP),
        (Initiator.SELF_HEAL, True, Phase.SUCCEEDED, "op", KEEP),
    ],
)
def test_pin_after_sync(initiator, automated, phase, triggered_by, expected):
    got = policy.pin_after_sync(
        initiator=initiator,
        automated=automated,
        phase=phase,
        revision="r-a",
        commit=A,
        triggered_by=triggered_by,
        at=NOW,
    )
    assert got == expected


# ---- forward only: what gitorder.decide knows before reading Git -------------------------------


@pytest.mark.parametrize(
    ("synced", "ref", "expected"),
    [
        ({}, "refs/heads/main", {"synced": "", "synced_revision": "", "retargeted": False}),
        (
            {"commit": A, "revision": "r-a", "ref": "refs/heads/main"},
            "refs/heads/main",
            {"synced": A, "synced_revision": "r-a", "retargeted": False},
        ),
        # the target changed (app set --revision): no move in Git
        (
            {"commit": A, "revision": "r-a", "ref": "refs/heads/main"},
            "refs/tags/v2",
            {"synced": A, "synced_revision": "r-a", "retargeted": True},
        ),
        # a ref unknown on either side is no retarget
        ({"commit": A, "revision": "r-a", "ref": ""}, "refs/tags/v2", {"retargeted": False}),
        ({"commit": A, "revision": "r-a"}, "refs/tags/v2", {"retargeted": False}),
        ({"commit": A, "revision": "r-a", "ref": "refs/heads/main"}, "", {"retargeted": False}),
        ({"commit": None, "revision": None}, "refs/heads/main", {"synced": "", "synced_revision": ""}),
    ],
)
def test_known_delivery(synced, ref, expected):
    d = policy.known_delivery(
        initiator=Initiator.WEBHOOK, commit=B, revision="r-b", ref=ref, before=A, synced=synced
    )
    assert (d.initiator, d.commit, d.revision, d.ref, d.before, d.head) == (
        Initiator.WEBHOOK,
        B,
        "r-b",
        ref,
        A,
        None,
    )
    assert {k: getattr(d, k) for k in expected} == expected


def test_a_retargeted_delivery_applies_without_a_move_in_git():
    known = policy.known_delivery(
        initiator=Initiator.WEBHOOK,
        commit=B,
        revision="r-b",
        ref="refs/tags/v2",
        before="",
        synced={"commit": A, "revision": "r-a", "ref": "refs/heads/main"},
    )
    assert gitorder.decide(dataclasses.replace(known, head=B)).action == gitorder.APPLY


# ---- the self-heal limit -------------------------------------------------------------------


def heals(*entries: tuple[str, float]) -> list[dict]:
    return [{"key": k, "at": ago(s)} for k, s in entries]


HEAL = SyncPolicy(automated=True, selfHeal=True)
HEAL_2_IN_60 = SyncPolicy(automated=True, selfHeal=True, syncOptions=("SelfHealLimit=2", "SelfHealWindow=60"))


@pytest.mark.parametrize(
    ("sync_policy", "past", "keys", "heal", "action", "kept"),
    [
        (HEAL, [], ["x"], True, "self-heal requested", [("x", 0)]),
        (HEAL, [], ["x", "y"], True, "self-heal requested", [("x", 0), ("y", 0)]),
        # under the limit (3 within 3600 s): healed
        (HEAL, [("x", 10), ("x", 20)], ["x"], True, "self-heal requested", [("x", 10), ("x", 20), ("x", 0)]),
        # at the limit: stopped, the conflict named
        (
            HEAL,
            [("x", 10), ("x", 20), ("x", 30)],
            ["x"],
            False,
            "self-heal stopped: x was healed 3 times within 3600s and changed back each time "
            "(a conflict with another controller or person)",
            [("x", 10), ("x", 20), ("x", 30)],
        ),
        # another field's heals do not count
        (HEAL, [("y", 10), ("y", 20), ("y", 30)], ["x"], True, "self-heal requested", None),
        # heals older than the window are forgotten (exactly at its edge: forgotten too)
        (
            HEAL,
            [("x", 3600), ("x", 4000), ("x", 10)],
            ["x"],
            True,
            "self-heal requested",
            [("x", 10), ("x", 0)],
        ),
        (
            HEAL,
            [("x", 3599), ("x", 3598), ("x", 10)],
            ["x"],
            False,
            None,
            [("x", 3599), ("x", 3598), ("x", 10)],
        ),
        # SelfHealLimit and SelfHealWindow options
        (HEAL_2_IN_60, [("x", 10)], ["x"], True, "self-heal requested", [("x", 10), ("x", 0)]),
        (
            HEAL_2_IN_60,
            [("x", 10), ("x", 50)],
            ["x"],
            False,
            "self-heal stopped: x was healed 2 times within 60s and changed back each time "
            "(a conflict with another controller or person)",
            [("x", 10), ("x", 50)],
        ),
        (HEAL_2_IN_60, [("x", 10), ("x", 61)], ["x"], True, "self-heal requested", [("x", 10), ("x", 0)]),
        # the first fighting key is named
        (HEAL_2_IN_60, [("b", 1), ("b", 2), ("c", 1), ("c", 2)], ["a", "b", "c"], False, None, None),
        # self-heal off: reported, the recent heals kept as they were
        (AUTO, [("x", 10), ("x", 5000)], ["x"], False, "reported (self-heal is off)", [("x", 10)]),
        (MANUAL, [], ["x"], False, "reported (self-heal is off)", []),
    ],
)
def test_self_heal(sync_policy, past, keys, heal, action, kept):
    got = policy.self_heal(sync_policy, heals(*past), keys, NOW)
    assert got.heal is heal
    if action is not None:
        assert got.action == action
    if kept is not None:
        assert got.heals == heals(*kept)


def test_self_heal_keeps_the_newest_heals_only():
    past = heals(*((f"k{i}", 1) for i in range(policy.HEALS_KEPT)))
    got = policy.self_heal(HEAL, past, ["new"], NOW)
    assert got.heal and len(got.heals) == policy.HEALS_KEPT
    assert got.heals[0]["key"] == "k1" and got.heals[-1] == {"key": "new", "at": NOW}


def test_self_heal_stops_naming_the_first_fighting_key():
    got = policy.self_heal(HEAL_2_IN_60, heals(("b", 1), ("b", 2), ("c", 1), ("c", 2)), ["a", "b", "c"], NOW)
    assert got.action.startswith("self-heal stopped: b was healed 2 times within 60s")


# ---- automated rollback ------------------------------------------------------------------------

ROLLBACK = SyncPolicy(automated=True, syncOptions=("AutoRollback=true",))
ROLLBACK_60 = SyncPolicy(automated=True, syncOptions=("AutoRollback=true", "AutoRollbackWindow=60"))
SYNCED_B = {"status": "Synced", "revision": "r-b", "commit": B}
HEALTHY_A = {"revision": "r-a", "commit": A, "at": ago(3600)}


def rollback_status(synced_s_ago: float | None = 10, **more) -> dict:
    sync = dict(SYNCED_B)
    if synced_s_ago is not None:
        sync["syncedAt"] = ago(synced_s_ago)
    return {"sync": sync, "lastHealthy": HEALTHY_A, **more}


@pytest.mark.parametrize(
    ("sync_policy", "health", "status", "rolls_back"),
    [
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(), True),
        (ROLLBACK, "Degraded", rollback_status(), True),  # as read back from the store
        # only Degraded rolls back
        (ROLLBACK, HealthStatus.PROGRESSING, rollback_status(), False),
        (ROLLBACK, HealthStatus.HEALTHY, rollback_status(), False),
        (ROLLBACK, HealthStatus.MISSING, rollback_status(), False),
        (ROLLBACK, HealthStatus.UNKNOWN, rollback_status(), False),
        # opt-in
        (AUTO, HealthStatus.DEGRADED, rollback_status(), False),
        (SyncPolicy(syncOptions=("AutoRollback=false",)), HealthStatus.DEGRADED, rollback_status(), False),
        # a pin wins
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(pin=PIN), False),
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(pin=None), True),
        # nothing seen Healthy, or the Degraded revision is the last Healthy one
        (ROLLBACK, HealthStatus.DEGRADED, {"sync": {**SYNCED_B, "syncedAt": ago(10)}}, False),
        (
            ROLLBACK,
            HealthStatus.DEGRADED,
            rollback_status(lastHealthy={"revision": "r-b", "commit": B}),
            False,
        ),
        # the window: 600 s by default, AutoRollbackWindow otherwise (its edge still inside)
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(600), True),
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(601), False),
        (ROLLBACK_60, HealthStatus.DEGRADED, rollback_status(60), True),
        (ROLLBACK_60, HealthStatus.DEGRADED, rollback_status(61), False),
        # never synced
        (ROLLBACK, HealthStatus.DEGRADED, rollback_status(None), False),
    ],
)
def test_auto_rollback(sync_policy, health, status, rolls_back):
    pin = policy.auto_rollback(sync_policy, health, "pod failed", status, NOW)
    assert (pin is not None) is rolls_back
    if pin is not None:
        assert pin == {
            "revision": "r-a",
            "commit": A,
            "by": "auto-rollback",
            "reason": f"automated rollback: {B[:7]} left the application Degraded (pod failed); "
            f"back to {A[:7]}, the last Healthy",
            "at": NOW,
        }


# ---- the audit's sync status ---------------------------------------------------------------------


SYNCED_A = {"commit": A, "revision": "r-a"}
SEEN_C = {**SYNCED_A, "seen": {"commit": C, "base": A}}  # C changed nothing of the app


@pytest.mark.parametrize(
    ("status", "head", "expected"),
    [
        ({}, "", None),  # nothing rendered, no head: no target
        ({"sync": {**SYNCED_A, "target": target(A, "r-a")}}, "", target(A, "r-a")),  # as recorded
        ({"render": {"commit": B, "revision": "r-b"}, "sync": SYNCED_A}, "", target(B, "r-b")),
        ({"render": {"commit": B, "revision": None}, "sync": SYNCED_A}, "", target(B, None)),
        # the head the sweep listed wins over the newest render
        ({"render": {"commit": B, "revision": "r-b"}, "sync": SYNCED_A}, B, target(B, "r-b")),
        ({"render": {"commit": B, "revision": "r-b"}, "sync": SYNCED_A}, A, target(A, "r-a")),
        ({"render": {"commit": A, "revision": "r-a"}, "sync": SYNCED_A}, C, target(C, None)),
        ({"render": {"commit": B, "revision": None}, "sync": SYNCED_A}, B, target(B, None)),
        # a head the sweep saw past the synced commit, changing nothing of this app: its render
        # is the synced one; a seen head recorded against another synced commit is stale
        ({"render": {"commit": A, "revision": "r-a"}, "sync": SEEN_C}, C, target(C, "r-a")),
        ({"sync": {**SEEN_C, "seen": {"commit": C, "base": B}}}, C, target(C, None)),
    ],
)
def test_target_of(status, head, expected):
    assert policy.target_of(status, head) == expected


@pytest.mark.parametrize(
    ("target_", "drifted", "expected", "message"),
    [
        (None, False, SyncStatus.SYNCED, None),  # nothing rendered since: drift alone decides
        (None, True, SyncStatus.OUT_OF_SYNC, None),
        (target(A, "r-a"), False, SyncStatus.SYNCED, None),
        (target(A, "r-a"), True, SyncStatus.OUT_OF_SYNC, None),
        # the target's commit is not applied: never Synced, whatever the cluster holds
        (target(B, "r-b"), False, SyncStatus.OUT_OF_SYNC, f"branch main is at {B[:7]}; {A[:7]} is synced"),
        (target(B, None), False, SyncStatus.OUT_OF_SYNC, f"branch main is at {B[:7]}; {A[:7]} is synced"),
        (target(B, "r-b"), True, SyncStatus.OUT_OF_SYNC, f"branch main is at {B[:7]}; {A[:7]} is synced"),
        # the applied commit renders differently now (options, path)
        (
            target(A, "r-a2"),
            False,
            SyncStatus.OUT_OF_SYNC,
            f"{A[:7]} renders differently now: r-a2 is the target, r-a is synced",
        ),
        # the applied commit cannot be rendered any more: no comparison
        (target(A, None), False, SyncStatus.UNKNOWN, f"the render of {A[:7]}, the target, failed"),
    ],
)
def test_compare(target_, drifted, expected, message):
    assert policy.compare(target_, SYNCED_A, drifted=drifted, ref="refs/heads/main") == (expected, message)


def test_compare_at_a_seen_head():
    """A monorepo push for another app: the head moved, the app is Synced at it."""
    assert policy.compare(target(C, "r-a"), SEEN_C, drifted=False, ref="") == (SyncStatus.SYNCED, None)
    assert policy.compare(target(C, "r-a"), SEEN_C, drifted=True, ref="")[0] == SyncStatus.OUT_OF_SYNC
    stale = {**SEEN_C, "seen": {"commit": C, "base": B}}
    assert policy.compare(target(C, "r-a"), stale, drifted=False, ref="")[0] == SyncStatus.OUT_OF_SYNC


def test_compare_with_nothing_synced():
    assert policy.compare(target(B, "r-b"), {}, drifted=False, ref="") == (
        SyncStatus.OUT_OF_SYNC,
        f"HEAD is at {B[:7]}; nothing is synced",
    )


@pytest.mark.parametrize(
    ("initiator", "status", "expected"),
    [
        # a push or the sweep applies the head: the target
        (Initiator.WEBHOOK, {"render": {"commit": C, "revision": "r-c"}}, target(B, "r-b")),
        (Initiator.SWEEP, {}, target(B, "r-b")),
        # explicit: the target stays the newest render (a rollback to B leaves it OutOfSync)
        (Initiator.ROLLBACK, {"render": {"commit": C, "revision": "r-c"}}, target(C, "r-c")),
        (Initiator.MANUAL, {"render": {"commit": B, "revision": "r-b"}}, target(B, "r-b")),
        (Initiator.SELF_HEAL, {"render": {"commit": C, "revision": None}}, target(C, None)),
        (Initiator.ROLLBACK, {}, target(B, "r-b")),  # nothing rendered: this one
    ],
)
def test_target_after_sync(initiator, status, expected):
    assert policy.target_after_sync(initiator, status, "r-b", B) == expected


# ---- the sweep's missed push -------------------------------------------------------------------


def swept(synced="", rendered="", render_ok=True, failed="", **more) -> dict:
    status: dict = {"sync": {"commit": synced}} if synced else {}
    if rendered:
        status["render"] = {"commit": rendered, "revision": f"r-{rendered[:1]}" if render_ok else None}
    if failed:
        status["operation"] = {"phase": "Failed", "commit": failed}
    return status | more


@pytest.mark.parametrize(
    ("automated", "status", "head", "action"),
    [
        (True, swept(synced=A, rendered=A), B, gitorder.RENDER),  # a push whose webhook never came
        (True, swept(), A, gitorder.RENDER),  # nothing synced yet
        (True, swept(synced=A, rendered=A), A, gitorder.NOTHING),  # synced
        (True, swept(synced=A), None, gitorder.NOTHING),  # the ref was not listed
        (True, swept(synced=A, pin=PIN), B, gitorder.NOTHING),  # pinned
        (True, swept(synced=A, pin=None), B, gitorder.RENDER),
        (False, swept(synced=A, rendered=B), B, gitorder.OUT_OF_SYNC),  # manual: report it
        # the head's render failed: retrying gives the same answer
        (True, swept(synced=A, rendered=B, render_ok=False), B, gitorder.OUT_OF_SYNC),
        (True, swept(synced=A, rendered=C, render_ok=False), B, gitorder.RENDER),  # another commit failed
        # the head's apply failed
        (True, swept(synced=A, rendered=B, failed=B), B, gitorder.OUT_OF_SYNC),
        (True, swept(synced=A, rendered=B, failed=C), B, gitorder.RENDER),
        (True, {**swept(synced=A), "operation": {"phase": "Succeeded", "commit": B}}, B, gitorder.RENDER),
        # a move backwards in Git is rendered too
        (True, swept(synced=C, rendered=C), A, gitorder.RENDER),
        # a head seen before with nothing to render (shared/core/monorepo.py), while synced is its base
        (True, swept(synced=A, rendered=A, sync=SEEN_C), C, gitorder.NOTHING),
        (False, swept(synced=A, sync=SEEN_C), C, gitorder.NOTHING),
        (True, swept(synced=A, sync=SEEN_C), B, gitorder.RENDER),  # the head moved on again
        (True, swept(sync={**SEEN_C, "seen": {"commit": C, "base": B}}), C, gitorder.RENDER),  # stale
    ],
)
def test_missed_push(automated, status, head, action):
    assert policy.missed_push(automated, status, head) == action


@pytest.mark.parametrize(
    ("head", "synced", "expected"),
    [
        (A, SYNCED_A, target(A, "r-a")),  # a late delivery: the head is what is applied
        (B, SYNCED_A, KEEP),  # the head moved on: its own render says
        (None, SYNCED_A, KEEP),  # the ref is gone
        (A, {}, KEEP),  # nothing applied yet
    ],
)
def test_target_after_skip(head, synced, expected):
    assert policy.target_after_skip(head, synced) == expected


D = "a" * 64


@pytest.mark.parametrize(
    ("digest", "refs", "rendered", "head"),
    [
        (D, {}, {}, D),  # a plain chart: the resolved archive
        ("", {}, {}, "web@1.2.0"),  # an index without digests: name@version
        (D, {"values": "c" * 40}, {"values": "c" * 40}, D),  # the ref's head was rendered
        (D, {"values": "c" * 40}, {}, D + "+values=" + "c" * 12),  # never rendered with it
        (D, {"values": "d" * 40}, {"values": "c" * 40}, D + "+values=" + "d" * 12),  # moved
        (D, {"a": "1" * 40, "b": "2" * 40}, {"a": "1" * 40}, D + "+b=" + "2" * 12),
    ],
)
def test_chart_head(digest, refs, rendered, head):
    assert policy.chart_head(digest, "web@1.2.0", refs, rendered) == head


def test_chart_head_without_digests_is_the_synced_commit_while_the_version_is_the_same():
    synced = {"ref": "chart:web@1.2.0", "commit": D}
    assert policy.chart_head("", "web@1.2.0", {}, {}, synced) == D  # nothing moved: no render
    assert policy.chart_head("", "web@1.3.0", {}, {}, synced) == "web@1.3.0"  # a new version
