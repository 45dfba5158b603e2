"""Which applications a push concerns, and the render requests for them."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.adapters import store
from shared.core import repourl
from shared.core.messages import RenderRequest
from shared.core.status import Initiator
from shared.core.webhook import Push


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
