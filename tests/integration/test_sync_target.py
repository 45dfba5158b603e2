"""Synced/OutOfSync as Argo CD means it (live against the target's render, never Synced while
the target's commit is not applied), retries of a failed sync with backoff (syncPolicy.retry),
and the notification events of a failed render and of a revision the gate blocked."""

from __future__ import annotations

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import topology
from shared.core.model import Retry
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl,
    push,
    run_cli_capturing,
    sweep,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.integration


def event_of(events, app: str, commit: str) -> dict | None:
    """The first event about `commit` of `app` published since the last look."""
    return next((e for e in events.drain(0.5) if (e["app"], e["commit"]) == (app, commit)), None)


def sync_of(app: str) -> dict:
    return store.get_app(app).status.get("sync") or {}


def test_a_manual_app_with_a_rendered_unapplied_commit_is_out_of_sync_until_synced(
    stack, secret, uid, repo, namespace
):
    app = f"target-{uid}"
    create_app(app, repo, namespace, automated=False)
    v1 = push(stack, secret, repo, "v1", {"app/cm.yaml": manifests.configmap(greeting="one")})
    wait_for(lambda: store.get_app(app).status.get("render", {}).get("commit") == v1, "render of v1")
    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    sync = sync_of(app)
    assert (sync["status"], sync["live"], sync["target"]["commit"]) == ("Synced", v1, v1)

    v2 = push(stack, secret, repo, "v2", {"app/cm.yaml": manifests.configmap(greeting="two")})
    wait_for(lambda: sync_of(app).get("target", {}).get("commit") == v2, "v2 is the target")
    sweep(app)  # nothing drifted: still OutOfSync, the target's commit is not applied
    sync = sync_of(app)
    assert (sync["status"], sync["commit"], sync["target"]["commit"]) == ("OutOfSync", v1, v2)
    assert sync["message"] == f"branch main is at {v2[:7]}; {v1[:7]} is synced"
    code, out, _ = run_cli_capturing("app", "get", app)
    assert code == 0 and f"Target/live:  {v2[:7]} / {v1[:7]}" in out
    code, out, _ = run_cli_capturing("app", "list")
    row = next(line for line in out.splitlines() if line.startswith(app))
    assert row.split()[2:6] == ["OutOfSync", "Healthy", v1[:7], v2[:7]]

    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    sweep(app)
    sync = sync_of(app)
    assert (sync["status"], sync["live"], sync["target"]["commit"]) == ("Synced", v2, v2)
    assert not sync.get("message")


def test_a_failed_sync_is_out_of_sync_after_a_sweep_and_is_retried_with_backoff(
    stack, secret, uid, repo, namespace
):
    app = f"retry-{uid}"
    later = f"{namespace}-later"  # does not exist yet: the sync fails until the test creates it
    create_app(app, repo, namespace)
    code, _, _ = run_cli_capturing(
        "app",
        "set",
        app,
        "--sync-retry-limit",
        "5",
        "--sync-retry-backoff-duration",
        "2s",
        "--sync-retry-backoff-max-duration",
        "1m",
    )  # argocd's flags
    assert code == 0
    assert store.get_app(app).spec.syncPolicy.retry == Retry(
        limit=5, duration="2s", factor=2, maxDuration="1m"
    )
    v1 = push(stack, secret, repo, "v1", {"app/cm.yaml": manifests.configmap()})
    wait_history(app, 1)
    elsewhere = manifests.configmap(name="elsewhere").replace(
        "metadata:\n", f"metadata:\n  namespace: {later}\n", 1
    )
    assert f"namespace: {later}" in elsewhere
    v2 = push(stack, secret, repo, "v2", {"app/other.yaml": elsewhere})
    first = wait_history(app, 2)
    assert (first["commit"], first["phase"], first["attempt"]) == (v2, "Failed", 1)
    assert first["retry"]["attempt"] == 1 and first["retry"]["limit"] == 5
    assert first["summary"].endswith(first["retry"]["message"])

    sweep(app)  # the failed commit is the target: never Synced, drift or not
    sync = sync_of(app)
    assert (sync["status"], sync["commit"], sync["target"]["commit"]) == ("OutOfSync", v1, v2)

    # the next attempt fails too (no namespace yet), as a retry of the same operation; a backoff
    # of seconds is waited for by the apply function itself (published when the attempt failed),
    # with nobody sweeping
    second = wait_for(lambda: history_count(app) >= 3 and store.get_history(app, 3), "retry 1", 60)
    assert (second["phase"], second["attempt"], second["commit"]) == ("Failed", 2, v2)
    assert (second["initiator"], second["operation"]) == ("webhook", f"{first['operation']}:retry-1")
    assert second["triggeredBy"].startswith("retry 1 after "), second["triggeredBy"]

    kubectl("create", "namespace", later)
    try:
        done = wait_for(
            lambda: (e := store.get_history(app, history_count(app)))["phase"] == "Succeeded" and e,
            "a retry that succeeds",
            90,
        )
        assert done["commit"] == v2 and done["attempt"] >= 3 and "retry" not in done
        assert done["summary"].endswith(f"; attempt {done['attempt']}")
        attempts = [store.get_history(app, n) for n in range(2, done["sequence"] + 1)]
        assert [e["attempt"] for e in attempts] == list(range(1, done["attempt"] + 1))  # one entry each
        # the backoff doubles from 2s: 2, 4, 8... seconds after each failed attempt
        waits = [(e["retry"]["nextAt"] - e["finishedAt"]).total_seconds() for e in attempts[:-1]]
        assert waits == [2.0 * 2**i for i in range(len(waits))]
        started = [e["startedAt"] for e in attempts]
        assert all(b >= a["retry"]["nextAt"] for a, b in zip(attempts, started[1:], strict=False))
        assert store.get_app(app).status["retry"] is None
        wait_for(lambda: sync_of(app).get("status") == "Synced", "Synced after the retry")
        assert (sync_of(app)["live"], sync_of(app)["target"]["commit"]) == (v2, v2)
    finally:
        kubectl("delete", "namespace", later, "--wait=false")


def test_a_failed_render_and_a_blocked_revision_are_notification_events(
    stack, secret, uid, repo, namespace, observe
):
    app = f"events-{uid}"
    create_app(app, repo, namespace)
    good = push(stack, secret, repo, "good", {"app/cm.yaml": manifests.configmap()})
    wait_history(app, 1)
    events = observe(topology.NOTIFICATIONS)
    broken = push(stack, secret, repo, "broken", {"app/cm.yaml": "a: [unclosed\n"})
    failed = wait_for(lambda: event_of(events, app, broken), "the render-failed event")
    assert (failed["type"], failed["commit"], failed["initiator"]) == ("render-failed", broken, "webhook")
    assert failed["summary"].startswith(f"render of {broken[:7]} failed") and failed["errors"]
    sync = sync_of(app)
    assert (sync["status"], sync["live"], sync["target"]) == (
        "OutOfSync",
        good,
        {"commit": broken, "revision": None},
    )

    schema = manifests.deployment(image="nginx:2").replace("  replicas: 0", "  replicas: two")
    blocked = push(
        stack, secret, repo, "schema", {"app/cm.yaml": manifests.configmap(), "app/d.yaml": schema}
    )
    event = wait_for(lambda: event_of(events, app, blocked), "the blocked event")
    assert (event["type"], event["commit"]) == ("blocked", blocked)
    assert "blocked by the security gate" in event["summary"]
    assert any("SCH001" in e for e in event["errors"])
