"""Disaster recovery: re-sync applications from Firestore and Git (`gitops recover`).

After the cluster lost its objects (wiped namespaces, a fresh API server): each application
that was synced is applied again at the revision Firestore says it runs (the same objects;
Secret values read back from that commit). After Firestore lost its data (re-register the
applications first, e.g. `gitops app create -f apps.yaml --upsert` from Git): applications
with no synced revision are rendered at their target's head and, when automated, applied.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.adapters import bus, git, store
from shared.core import topology
from shared.core.messages import ApplyRequest, RenderRequest
from shared.core.status import Initiator
from shared.steps import heads


def plan(apps: list[store.App], who: str) -> tuple[list[ApplyRequest], list[RenderRequest], list[list[str]]]:
    """(re-apply requests, render requests, one table row per application)."""
    applies: list[ApplyRequest] = []
    renders: list[RenderRequest] = []
    rows: list[list[str]] = []
    listed = heads.Heads()
    for app in apps:
        sync = app.status.get("sync") or {}
        op = f"recover-{uuid.uuid4().hex[:12]}"
        revision = sync.get("revision")
        if revision and _has_revision(app.name, revision):
            applies.append(
                ApplyRequest(
                    app=app.name,
                    revision=revision,
                    initiator=Initiator.SELF_HEAL,
                    operation=op,
                    triggered_by=f"recover:{who}",
                )
            )
            rows.append([app.name, "re-apply synced revision", str(sync.get("commit", ""))[:7]])
            continue
        try:
            head = listed.of(app.spec)
        except git.FetchError as exc:
            rows.append([app.name, f"skipped: {exc}", ""])
            continue
        if head is None:
            rows.append([app.name, f"skipped: {app.spec.targetRevision!r} not found", ""])
            continue
        renders.append(heads.render_at(app.name, head, operation=op, triggered_by=f"recover:{who}"))
        what = "render target head" + ("" if app.spec.syncPolicy.automated else " (manual: not applied)")
        rows.append([app.name, what, head[1][:7]])
    return applies, renders, rows


def _has_revision(app: str, revision: str) -> bool:
    try:
        store.get_revision(app, revision)
    except store.NotFound:
        return False
    return True


def recover(apps: list[store.App], *, actor: str) -> dict[str, Any]:
    """Publish what brings APPS back: {results: {name: {action, commit}}, before: {name:
    history count}, waiting: [names whose history entry will follow]}."""
    before = {a.name: int(a.status.get("historyCount", 0)) for a in apps}
    applies, renders, rows = plan(apps, actor)
    bus.publish(topology.APPLY, applies)
    bus.publish(topology.RENDER, renders)
    automated = {a.name for a in apps if a.spec.syncPolicy.automated}
    return {
        "results": {r[0]: {"action": r[1], "commit": r[2]} for r in rows},
        "before": before,
        "waiting": [m.app for m in applies] + [m.app for m in renders if m.app in automated],
    }
