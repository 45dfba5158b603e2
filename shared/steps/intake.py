"""A verified push, received once: which applications it concerns, and their render requests.

The intake function keeps the HTTP side (reading the body within its limit, verifying the
signature, answering) and says where render requests go; `receive` does the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.adapters import store
from shared.core import repourl
from shared.core.messages import RenderRequest
from shared.core.status import Initiator
from shared.core.webhook import Push
from shared.platform import logs, metering


@dataclass
class Plan:
    requests: list[RenderRequest] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # app -> why


def plan_push(push: Push, delivery: str, timeout: float = 60) -> Plan:
    plan = Plan()
    keys = {repourl.normalize(u) for u in push.repo_urls}
    repos = [store.apps_for_repo(key, timeout, push.changed_paths) for key in sorted(keys)]
    apps = {a.name: a for repo in repos for a in repo.specs}
    concerned: set[str] = set()
    for repo in repos:
        names = repo.concerned(push.changed_paths)
        concerned |= {a.name for a in repo.specs} if names is None else names
    for name, spec in sorted(apps.items()):
        if not spec.matches_ref(push.ref, push.default_branch):
            plan.skipped[name] = f"targets {spec.targetRevision}, push is to {push.ref}"
        elif push.deleted:
            plan.skipped[name] = f"{push.ref} was deleted"
        elif name not in concerned:
            plan.skipped[name] = f"no change under {spec.path} or its watched paths"
        else:
            plan.requests.append(
                RenderRequest(
                    app=name,
                    commit=push.after,
                    ref=push.ref,
                    initiator=Initiator.WEBHOOK,
                    operation=f"{delivery or push.after}:{name}",
                    triggered_by=f"github:{delivery}",
                    before=push.before,
                )
            )
    return plan


PublishRenders = Callable[[list[RenderRequest], float], None]  # (requests, timeout in seconds)


def receive(push: Push, delivery: str, *, deadline: float, publish: PublishRenders) -> Plan | None:
    """Plan a push and publish its render requests, once per delivery id; None for a
    redelivery of one already received (nothing is done). Every call gives up by `deadline`
    (a time.monotonic() value). When planning or publishing fails the delivery is forgotten,
    so that GitHub's redelivery is processed."""
    if delivery and not store.record_delivery(delivery, timeout=deadline - time.monotonic()):
        logs.info("duplicate delivery")
        return None
    try:
        plan = plan_push(push, delivery, timeout=deadline - time.monotonic())
        if plan.requests:
            publish(plan.requests, deadline - time.monotonic())
    except Exception:
        if delivery:
            store.forget_delivery(delivery)
        raise
    logs.info(
        "push handled",
        ref=push.ref,
        commit=push.after,
        matched=[r.app for r in plan.requests],
        skipped=plan.skipped,
        **metering.snapshot(),
    )
    return plan
