"""Git stays the source of truth when history moves, through the served functions.

Force pushes, resets, a branch deleted and recreated, and a committer clock behind are
applied; only deliveries whose commit is no longer the target's head are skipped. Ordering
is by the target (a ref listing) and the commit graph, never by commit dates.
"""

from __future__ import annotations

import time

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    image_of,
    run_cli,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration

MAIN = "refs/heads/main"


def deliver(stack, secret, repo, before, after, delivery=None):
    """The push webhook GitHub sends for main moving from `before` to `after`."""
    status, body = webhook(
        stack, secret, github.push_payload(repo.url, MAIN, before, after), delivery=delivery
    )
    assert status == 200, body
    return body


def push_image(stack, secret, repo, tag, before):
    sha = repo.commit_and_push(tag, {"app/deploy.yaml": manifests.deployment(image=f"nginx:{tag}")})
    deliver(stack, secret, repo, before, sha)
    return sha


def two_syncs(stack, secret, repo, app):
    """v1 then v2, each pushed, delivered and synced: (v1, v2)."""
    v1 = push_image(stack, secret, repo, "v1", github.ZERO_SHA)
    wait_history(app, 1)
    v2 = push_image(stack, secret, repo, "v2", v1)
    wait_history(app, 2)
    return v1, v2


def synced_commit(app):
    return (store.get_app(app).status.get("sync") or {}).get("commit")


def test_a_force_push_to_an_ancestor_is_applied_and_recorded_as_a_move_backwards(
    stack, secret, uid, repo, namespace
):
    app = f"force-{uid}"
    create_app(app, repo, namespace)
    v1, v2 = two_syncs(stack, secret, repo, app)
    repo.reset(v1)  # the emergency rollback: git reset --hard v1 && git push --force
    repo.push(force=True)
    deliver(stack, secret, repo, v2, v1)
    entry = wait_history(app, 3)
    assert (entry["commit"], entry["initiator"], entry["phase"]) == (v1, "webhook", "Succeeded")
    assert entry["gitMove"] == f"branch main moved from {v2[:7]} back to {v1[:7]} (force push)"
    assert entry["summary"].endswith(entry["gitMove"])
    code, out = run_cli("app", "history", app)
    row = next(line for line in out.splitlines() if line.split()[:1] == ["3"])
    assert code == 0 and row.endswith(f"1 configured; {entry['gitMove']}")
    assert image_of(namespace) == "nginx:v1"
    sync = store.get_app(app).status["sync"]
    assert (sync["status"], sync["commit"]) == ("Synced", v1)
    # and a later push forward from there is applied as usual
    v3 = push_image(stack, secret, repo, "v3", v1)
    entry = wait_history(app, 4)
    assert (entry["commit"], entry["gitMove"]) == (v3, "")
    assert image_of(namespace) == "nginx:v3"


def test_a_commit_whose_committer_clock_is_a_day_behind_is_applied(stack, secret, uid, repo, namespace):
    app = f"clock-{uid}"
    create_app(app, repo, namespace)
    v1 = push_image(stack, secret, repo, "v1", github.ZERO_SHA)
    wait_history(app, 1)
    v2 = repo.commit(
        "v2 from a laptop with a wrong clock",
        {"app/deploy.yaml": manifests.deployment(image="nginx:v2")},
        committed_at=time.time() - 86400,
    )
    repo.push()
    deliver(stack, secret, repo, v1, v2)
    entry = wait_history(app, 2)
    assert (entry["commit"], entry["phase"], entry["gitMove"]) == (v2, "Succeeded", "")
    assert entry["committedAt"] < store.get_history(app, 1)["committedAt"]  # older by its clock
    assert image_of(namespace) == "nginx:v2" and synced_commit(app) == v2


def test_two_pushes_delivered_in_reverse_order_end_on_the_head(stack, secret, uid, repo, namespace):
    app = f"reverse-{uid}"
    create_app(app, repo, namespace)
    v1 = repo.commit_and_push("v1", {"app/deploy.yaml": manifests.deployment(image="nginx:v1")})
    v2 = repo.commit_and_push("v2", {"app/deploy.yaml": manifests.deployment(image="nginx:v2")})
    deliver(stack, secret, repo, v1, v2)  # the second push's webhook comes first
    wait_history(app, 1)
    late = f"late-{uid}"
    deliver(stack, secret, repo, github.ZERO_SHA, v1, delivery=late)
    skipped = wait_for(
        lambda: (
            (s := store.get_app(app).status.get("lastSkipped") or {}).get("operation", "").startswith(late)
            and s
        ),
        "the late delivery to be skipped",
    )
    assert (skipped["commit"], skipped["reason"]) == (v1, "skip-out-of-order")
    assert f"arrived after {v2[:7]}" in skipped["message"]
    assert [e["commit"] for e in store.history(app)] == [v2]
    assert image_of(namespace) == "nginx:v2" and synced_commit(app) == v2
    # the late render made v1 the target for a moment; the skip puts the head back
    sync = store.get_app(app).status["sync"]
    assert (sync["status"], sync["target"]["commit"]) == ("Synced", v2)


def test_a_branch_deleted_and_recreated_at_an_older_commit_is_applied(stack, secret, uid, repo, namespace):
    app = f"recreate-{uid}"
    create_app(app, repo, namespace)
    v1, v2 = two_syncs(stack, secret, repo, app)
    repo.delete_branch()
    assert deliver(stack, secret, repo, v2, github.ZERO_SHA)["skipped"] == {app: f"{MAIN} was deleted"}
    repo.reset(v1)
    repo.push()  # creates main again, at v1
    deliver(stack, secret, repo, github.ZERO_SHA, v1)
    entry = wait_history(app, 3)
    assert (entry["commit"], entry["phase"]) == (v1, "Succeeded")
    assert entry["gitMove"] == f"branch main moved from {v2[:7]} back to {v1[:7]} (branch recreated)"
    assert image_of(namespace) == "nginx:v1" and synced_commit(app) == v1


def test_a_sweep_after_a_force_push_whose_webhook_never_came_applies_the_head(
    stack, secret, uid, repo, namespace
):
    app = f"silent-{uid}"
    create_app(app, repo, namespace)
    v1, v2 = two_syncs(stack, secret, repo, app)
    repo.reset(v1)
    repo.push(force=True)  # no webhook
    assert main.main(["sweep", app, "--wait", "--timeout", "60"]) == 0
    entry = wait_history(app, 3)
    assert (entry["commit"], entry["initiator"]) == (v1, "sweep")
    assert entry["gitMove"] == f"branch main moved from {v2[:7]} back to {v1[:7]} (found by the sweep)"
    assert image_of(namespace) == "nginx:v1"
    wait_for(lambda: store.get_app(app).status["sync"]["status"] == "Synced", "Synced")


def test_a_manual_app_shows_out_of_sync_naming_both_commits_after_a_force_push(
    stack, secret, uid, repo, namespace
):
    app = f"manual-{uid}"
    create_app(app, repo, namespace, automated=False)
    v1 = repo.commit_and_push("v1", {"app/deploy.yaml": manifests.deployment(image="nginx:v1")})
    v2 = repo.commit_and_push("v2", {"app/deploy.yaml": manifests.deployment(image="nginx:v2")})
    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    assert synced_commit(app) == v2
    repo.reset(v1)
    repo.push(force=True)  # no webhook: the sweep finds it
    assert main.main(["sweep", app, "--wait", "--timeout", "60"]) == 0
    sync = store.get_app(app).status["sync"]
    assert (sync["status"], sync["commit"]) == ("OutOfSync", v2)
    assert sync["message"] == f"branch main is at {v1[:7]}; {v2[:7]} is synced"
    assert history_count(app) == 1 and image_of(namespace) == "nginx:v2"  # nothing applied
    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    assert (synced_commit(app), image_of(namespace)) == (v1, "nginx:v1")


def test_a_rollback_pin_still_wins_over_a_force_push_until_unpinned(stack, secret, uid, repo, namespace):
    app = f"pinned-{uid}"
    create_app(app, repo, namespace)
    v1, v2 = two_syncs(stack, secret, repo, app)
    v3 = push_image(stack, secret, repo, "v3", v2)
    wait_history(app, 3)
    assert main.main(["app", "rollback", app, "1", "--wait", "--timeout", "30"]) == 0
    assert store.get_app(app).status["pin"]["commit"] == v1
    repo.reset(v2)
    repo.push(force=True)
    deliver(stack, secret, repo, v3, v2)
    wait_for(lambda: store.get_app(app).status["render"]["commit"] == v2, "the pinned render")
    assert main.main(["sweep", app, "--wait", "--timeout", "60"]) == 0
    assert history_count(app) == 4 and image_of(namespace) == "nginx:v1"
    assert main.main(["app", "unpin", app, "--wait", "--timeout", "30"]) == 0
    assert (synced_commit(app), image_of(namespace)) == (v2, "nginx:v2")


def test_the_sweep_applies_a_head_that_was_rendered_but_never_applied(stack, secret, uid, repo, namespace):
    """The issue's stuck state: the force push's webhook came and was rendered, its apply was
    skipped (by the old clock rule; here: a pin), so the rendered commit is the head, and the
    sweep used to compare the head with the rendered commit only."""
    app = f"stuck-{uid}"
    create_app(app, repo, namespace)
    v1, v2 = two_syncs(stack, secret, repo, app)
    assert main.main(["app", "pin", app]) == 0
    repo.reset(v1)
    repo.push(force=True)
    deliver(stack, secret, repo, v2, v1)
    wait_for(lambda: store.get_app(app).status["render"]["commit"] == v1, "the render of v1")
    store.set_pin(app, None)  # what the old rule left: rendered, not applied, unpinned
    assert history_count(app) == 2 and synced_commit(app) == v2
    assert main.main(["sweep", app, "--wait", "--timeout", "60"]) == 0
    entry = wait_history(app, 3)
    assert (entry["commit"], entry["initiator"]) == (v1, "sweep")
    assert entry["gitMove"] == f"branch main moved from {v2[:7]} back to {v1[:7]} (found by the sweep)"
    assert image_of(namespace) == "nginx:v1"
