"""Continuous reconciliation as deployed: the stack's Cloud Scheduler (stack/scheduler.py)
publishes infra/scheduler.tf's sweep message, and a hand edit is healed with nobody calling
`gitops sweep`. The scheduler runs here every few seconds (GITOPS_SWEEP_INTERVAL) instead of
the job's 5-minute cron; the message and the topic are the job's."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters import store
from shared.core import webhook as github
from stack import local, procs, scheduler
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl, kubectl_json, wait_for, wait_history, webhook

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def scheduler_every(stack: local.Stack, seconds: float) -> Iterator[str]:
    """The stack's scheduler, on an interval for the duration; the one before is put back after.
    Yields its log's path."""
    before = (
        local.stop_component(stack, "scheduler") if any(p.name == "scheduler" for p in stack.procs) else None
    )
    old = os.environ.get("GITOPS_SWEEP_INTERVAL")
    os.environ["GITOPS_SWEEP_INTERVAL"] = f"{seconds:g}"
    try:
        stack.procs = [p for p in stack.procs if p.name != "scheduler"]
        local.start_scheduler(stack)
        yield str(stack.dir / "logs" / "scheduler.log")
    finally:
        if old is None:
            os.environ.pop("GITOPS_SWEEP_INTERVAL")
        else:
            os.environ["GITOPS_SWEEP_INTERVAL"] = old
        ours = stack.proc("scheduler")
        procs.stop(ours)
        stack.procs.remove(ours)
        stack.save()
        if before is not None:
            stack.procs.append(ours)  # start_component replaces the entry of that name
            local.start_component(stack, before)


def greeting(namespace: str) -> str:
    return kubectl_json("get", "configmap", "settings", "-n", namespace)["data"]["greeting"]


def test_a_hand_edit_is_healed_by_the_scheduled_sweep(stack, secret, uid, repo, namespace):
    app = f"sched-{uid}"
    create_app(app, repo, namespace)  # automated, self-heal
    sha = repo.commit_and_push("settings", {"app/cm.yaml": manifests.configmap(greeting="hello")})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha, "settings"))
    wait_history(app, 1)
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"by hand"}}')
    assert greeting(namespace) == "by hand"

    # the scheduler runs until it has published once: each sweep audits every application of the
    # session, and sweeps every few seconds would leave a backlog of audits for the tests after
    with scheduler_every(stack, 4) as log:
        wait_for(lambda: "published" in Path(log).read_text(errors="replace"), "the scheduler to publish", 60)
    wait_for(lambda: greeting(namespace) == "hello", "the scheduled sweep to heal the hand edit", 300)
    entry = wait_history(app, 2, timeout=60)
    published = [line for line in Path(log).read_text().splitlines() if "published" in line]
    assert published and scheduler.job().data.decode() in published[0]
    assert entry["revision"].startswith(sha[:12])
    (record,) = [r for r in store.drift_records(app) if "data.greeting" in str(r)]
    assert "self-heal" in record["action"]
