"""Ordering by the target, not by the clock: which delivery applies, and what the sweep does."""

import pytest

from shared.core import gitorder
from shared.core.gitorder import (
    APPLY,
    APPLY_BACKWARDS,
    NOTHING,
    OUT_OF_SYNC,
    RENDER,
    SKIP_OUT_OF_ORDER,
    SKIP_STALE,
    SKIP_SUPERSEDED,
    SKIP_SYNCED,
    ZERO_SHA,
    Delivery,
)

# commits: A <- B <- C on main; X is off main's history (a rewritten or other branch)
A, B, C, X = "a" * 40, "b" * 40, "c" * 40, "e" * 40
MAIN = "refs/heads/main"


def delivery(
    commit,
    head,
    synced="",
    *,
    initiator="webhook",
    synced_in_head=False,
    in_synced=None,
    before="",
    revision="",
    synced_revision="",
    ref=MAIN,
    retargeted=False,
):
    return Delivery(
        initiator=initiator,
        commit=commit,
        revision=revision,
        ref=ref,
        head=head,
        synced=synced,
        synced_revision=synced_revision,
        synced_in_head=synced_in_head,
        in_synced=in_synced,
        before=before,
        retargeted=retargeted,
    )


@pytest.mark.parametrize(
    "case,d,action,message",
    [
        ("first delivery, the head", delivery(A, A), APPLY, ""),
        (
            "a push forward: the head contains the synced commit",
            delivery(C, C, B, synced_in_head=True),
            APPLY,
            "",
        ),
        (
            "a commit dated a day in the past is still the head",
            delivery(C, C, B, synced_in_head=True),
            APPLY,
            "",
        ),
        ("the synced commit again (a new render of it)", delivery(B, B, B, synced_in_head=True), APPLY, ""),
        (
            "a force push back to an ancestor",
            delivery(A, A, C, in_synced=True, before=C),
            APPLY_BACKWARDS,
            "branch main moved from ccccccc back to aaaaaaa (force push)",
        ),
        (
            "a force push to a rewritten history",
            delivery(X, X, C, in_synced=False, before=C),
            APPLY_BACKWARDS,
            "branch main moved from ccccccc to eeeeeee, which does not contain ccccccc (force push)",
        ),
        (
            "the synced commit is gone from the remote: ancestry unknown",
            delivery(X, X, C, before=C),
            APPLY_BACKWARDS,
            "branch main moved from ccccccc to eeeeeee, which does not contain ccccccc (force push)",
        ),
        (
            "a branch deleted and recreated at an older commit",
            delivery(A, A, C, in_synced=True, before=ZERO_SHA),
            APPLY_BACKWARDS,
            "branch main moved from ccccccc back to aaaaaaa (branch recreated)",
        ),
        (
            "a tag moved back",
            delivery(A, A, C, in_synced=True, before=C, ref="refs/tags/v1"),
            APPLY_BACKWARDS,
            "tag v1 moved from ccccccc back to aaaaaaa (force push)",
        ),
        (
            "the sweep finds the head moved back",
            delivery(A, A, C, in_synced=True, initiator="sweep"),
            APPLY_BACKWARDS,
            "branch main moved from ccccccc back to aaaaaaa (found by the sweep)",
        ),
        (
            "a late delivery of an ancestor, the head still contains the synced commit",
            delivery(A, C, B, synced_in_head=True, in_synced=True),
            SKIP_OUT_OF_ORDER,
            "aaaaaaa arrived after bbbbbbb, which contains it and which branch main still contains "
            "(now at ccccccc): a late delivery, not applied",
        ),
        (
            "an ancestor of the synced commit, but the head moved elsewhere since",
            delivery(A, X, B, synced_in_head=False, in_synced=True),
            SKIP_STALE,
            "aaaaaaa is no longer the head of branch main (now eeeeeee); not applied",
        ),
        (
            "an older push delivered first: already not the head",
            delivery(A, B),
            SKIP_STALE,
            "aaaaaaa is no longer the head of branch main (now bbbbbbb); not applied",
        ),
        (
            "a newer commit that is no longer the head (force-pushed away)",
            delivery(C, A, A, synced_in_head=True, in_synced=False),
            SKIP_STALE,
            "ccccccc is no longer the head of branch main (now aaaaaaa); not applied",
        ),
        (
            "the branch was deleted",
            delivery(B, None, A),
            SKIP_STALE,
            "bbbbbbb is not applied: branch main no longer exists",
        ),
        (
            "the sweep's delivery of what is synced",
            delivery(B, B, B, initiator="sweep", revision="r", synced_revision="r", synced_in_head=True),
            SKIP_SYNCED,
            "bbbbbbb is already synced",
        ),
        (
            "the sweep's new render of the synced commit",
            delivery(B, B, B, initiator="sweep", revision="r2", synced_revision="r", synced_in_head=True),
            APPLY,
            "",
        ),
        (
            "the target changed to another branch (app set --revision): its head, no move in Git",
            delivery(X, X, C, in_synced=False, retargeted=True),
            APPLY,
            "",
        ),
        ("a manual sync of any commit", delivery(A, C, C, initiator="manual"), APPLY, ""),
        ("a rollback", delivery(A, C, C, initiator="rollback"), APPLY, ""),
        ("a self-heal", delivery(C, None, C, initiator="self-heal"), APPLY, ""),
        (
            "a self-heal of the synced revision",
            delivery(B, B, B, initiator="self-heal", revision="r2", synced_revision="r2"),
            APPLY,
            "",
        ),
        (
            "a self-heal of a revision another sync replaced after the audit (it raced that sync)",
            delivery(B, B, A, initiator="self-heal", revision="r2", synced_revision="r1"),
            SKIP_SUPERSEDED,
            (
                "the heal of revision r2 is not applied: r1 (aaaaaaa) was synced after the audit "
                "that asked for it"
            ),
        ),
    ],
)
def test_which_delivery_applies(case, d, action, message):
    decision = gitorder.decide(d)
    assert (decision.action, decision.message) == (action, message), case
    assert decision.applies is (action in (APPLY, APPLY_BACKWARDS))


@pytest.mark.parametrize(
    "ref,name",
    [
        ("refs/heads/main", "branch main"),
        ("refs/tags/v1.2", "tag v1.2"),
        ("", "HEAD"),
        ("refs/pull/1/head", "refs/pull/1/head"),
    ],
)
def test_ref_names(ref, name):
    assert gitorder.ref_name(ref) == name


def sweep(head, synced, *, automated=True, pinned=False, rendered="", render_failed=False, failed=""):
    return gitorder.sweep_action(
        automated=automated,
        pinned=pinned,
        head=head,
        synced=synced,
        rendered=rendered,
        render_failed=render_failed,
        failed=failed,
    )


@pytest.mark.parametrize(
    "case,action,expected",
    [
        ("the head is synced", sweep(B, B, rendered=B), NOTHING),
        (
            "the head is synced, a later render failed and was reset away",
            sweep(B, B, rendered=C, render_failed=True),
            NOTHING,
        ),
        ("refs cannot be listed, or the target is gone", sweep(None, B), NOTHING),
        ("pinned by a rollback", sweep(C, A, pinned=True), NOTHING),
        ("pinned, manual", sweep(C, A, automated=False, pinned=True), NOTHING),
        ("a push whose webhook never came", sweep(C, B, rendered=B), RENDER),
        ("a force push back whose webhook never came", sweep(A, C, rendered=C), RENDER),
        ("rendered at the head but never applied (skipped)", sweep(A, C, rendered=A), RENDER),
        ("nothing synced yet", sweep(A, "", rendered=""), RENDER),
        ("the head's render failed", sweep(C, B, rendered=C, render_failed=True), OUT_OF_SYNC),
        ("an older render failed, the head is new", sweep(C, B, rendered=X, render_failed=True), RENDER),
        ("the head's apply failed", sweep(C, B, rendered=C, failed=C), OUT_OF_SYNC),
        ("an older apply failed", sweep(C, B, rendered=C, failed=X), RENDER),
        ("manual, behind the head", sweep(C, B, automated=False, rendered=C), OUT_OF_SYNC),
        ("manual, the head moved back", sweep(A, C, automated=False, rendered=C), OUT_OF_SYNC),
        ("manual, synced", sweep(C, C, automated=False), NOTHING),
    ],
)
def test_what_the_sweep_does_about_the_head(case, action, expected):
    assert action == expected, case


def test_out_of_sync_names_both_commits():
    assert gitorder.behind(MAIN, A, C) == "branch main is at aaaaaaa; ccccccc is synced"


def test_ancestry_walks_parents_not_dates(tmp_path):
    """main: a <- b (committer clock a day behind) <- c; side: a <- d; a merge m of c and d."""
    from dulwich.graph import can_fast_forward
    from dulwich.repo import Repo

    from shared.adapters import git

    repo = Repo.init(str(tmp_path))
    tree = repo.get_worktree()

    def commit(message, when, parents=None):
        kwargs = {"merge_heads": parents[1:]} if parents and len(parents) > 1 else {}
        if parents:
            repo.refs[b"HEAD"] = parents[0]
        return tree.commit(
            message=message.encode(),
            committer=b"Dana <d@example.com>",
            author=b"Dana <d@example.com>",
            commit_timestamp=when,
            author_timestamp=when,
            commit_timezone=0,
            author_timezone=0,
            **kwargs,
        )

    day = 86400
    a = commit("a", 10 * day)
    b = commit("b", 9 * day)  # committed "before" a: a wrong clock
    c = commit("c", 11 * day)
    d = commit("d", 12 * day, parents=[a])
    m = commit("m", 13 * day, parents=[c, d])
    sha = {k: v.decode() for k, v in dict(a=a, b=b, c=c, d=d, m=m).items()}
    assert not can_fast_forward(repo, a, c)  # why dates are not used: dulwich's walk is wrong here
    for ancestor, descendant, expected in [
        ("a", "c", True),
        ("b", "c", True),
        ("a", "a", True),
        ("c", "a", False),
        ("c", "d", False),
        ("d", "c", False),
        ("a", "m", True),
        ("b", "m", True),
        ("d", "m", True),
        ("m", "c", False),
    ]:
        assert git.is_ancestor(repo, sha[ancestor], sha[descendant]) is expected, (ancestor, descendant)
    assert git.is_ancestor(repo, "f" * 40, sha["m"]) is False  # not in the cache: not in its history
