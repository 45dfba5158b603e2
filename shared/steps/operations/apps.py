"""Applications: register, change, sync (or preview), roll back, pin, unpin, promote, delete,
diff, refresh, and the resource tree a page shows."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from shared.adapters import bus, git, store
from shared.core import hooks, status, topology
from shared.core.messages import ApplyRequest, AuditRequest, RenderRequest
from shared.core.model import AppSpec
from shared.core.status import Action, Initiator, SyncState, SyncStatus
from shared.steps.operations import Refused


def doc(app: store.App) -> dict[str, Any]:
    return {"name": app.name, "spec": app.spec.to_doc(), "status": app.status}


def create(specs: Sequence[AppSpec], *, upsert: bool) -> None:
    """Register (upsert: or update) applications, already validated."""
    try:
        if len(specs) == 1:
            store.put_app(specs[0], create=not upsert)
        else:
            # in transactions of 100: 10,000 applications are registered in minutes, not hours
            store.put_apps(specs, create=not upsert)
    except FileExistsError as exc:
        raise Refused(409, str(exc)) from exc


def update(spec: AppSpec) -> None:
    store.put_app(spec)


def resolve(spec: AppSpec, revision: str) -> tuple[str, str]:
    """(commit, ref) a sync goes to: REVISION, else the head of the target (a chart: its version)."""
    if spec.chart:  # the render step resolves the version against the repository's index
        return revision or spec.chart_version, "chart"
    if revision:
        return revision, ""
    try:
        refs = git.ls_remote(spec.repoURL)
    except Exception as exc:
        raise Refused(400, f"cannot read refs of {spec.repoURL}: {exc}") from exc
    head = spec.head(refs)
    if head is None:
        raise Refused(400, f"revision {spec.targetRevision!r} not found in {spec.repoURL}")
    ref, commit = head
    return commit, ref


def _operation(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def sync(app: store.App, *, actor: str, revision: str = "", prune: bool = False) -> dict[str, Any]:
    """Ask the render step for REVISION (default: the target's head); answered at once, the
    history entry follows (`historyCount` grows past `before`)."""
    commit, ref = resolve(app.spec, revision)
    op = _operation("sync")
    request = RenderRequest(
        app=app.name,
        commit=commit,
        ref=ref,
        initiator=Initiator.MANUAL,
        operation=op,
        triggered_by=actor,
        prune=prune,
    )
    bus.publish(topology.RENDER, [request])
    return {"operation": op, "commit": commit, "before": int(app.status.get("historyCount", 0))}


def preview(app: store.App, *, revision: str = "", prune: bool = False) -> dict[str, Any]:
    """A sync's dry run: render here as the render step would and ask the API server (as the
    project's ServiceAccount) what would change; write nothing."""
    # imported here: the Kubernetes client and the engine are only for the calls that need them
    from shared.adapters import kube
    from shared.render import sources, tree
    from shared.steps import appofapps
    from shared.steps import render as render_step
    from shared.sync.engine import Options
    from shared.sync.engine import preview as dry_run
    from shared.sync.prepare import prepare

    spec = app.spec
    commit, ref = resolve(spec, revision)
    kube_version = render_step.destination_version(spec)
    if spec.chart:
        commit, rendered = _render_chart(spec, commit, kube_version)
    else:
        repo = git.fetch(spec.repoURL, commit, ref or None)
        _, rendered = sources.render(tree.GitTree(repo, commit), sources.Request.of(spec, kube_version))
    if rendered.errors:
        raise Refused(
            400, f"render of {commit[:7] if not spec.chart else commit} failed: {rendered.errors[0]}"
        )
    _, objs = appofapps.split(hooks.resources_of(rendered.objects))  # hooks run only in a sync
    cluster = kube.for_project(spec.destination.cluster, spec.project)
    options = Options.of(spec)
    if prune:
        options = dataclasses.replace(options, prune=True)
    inventory = store.inventory(app.name, app.status)
    results = dry_run(cluster, spec, prepare(spec, objs, cluster), inventory, options)
    return {"commit": commit, "dryRun": True, "objects": [r.to_doc() for r in results]}


def _render_chart(spec: AppSpec, constraint: str, kube_version: str) -> tuple[str, Any]:
    """A chart application rendered as the render step would (the range resolved, the archive
    fetched and checked, the refs' value files read at their heads): ('name@version', the
    render)."""
    from shared.adapters import charts
    from shared.render import sources, tree
    from shared.steps import revision

    try:
        fetched, archive = charts.fetch(spec.repoURL, spec.chart, constraint)
        values, _ = revision.ref_values(spec, {})
    except (charts.ChartError, git.Refused, tree.Refused, LookupError) as exc:
        raise Refused(400, f"app sync --dry-run: {exc}") from None
    where = f"{spec.chart}-{fetched.version}"
    _, rendered = sources.render_chart(
        archive, where, sources.Request.of(spec, kube_version, path="."), values=values, chart=spec.chart
    )
    return f"{fetched.name}@{fetched.version}", rendered


def rollback(app: store.App, history_id: int, *, actor: str) -> dict[str, Any]:
    entry = store.get_history(app.name, history_id, results=False)
    op = _operation("rollback")
    request = ApplyRequest(
        app=app.name,
        revision=entry["revision"],
        initiator=Initiator.ROLLBACK,
        operation=op,
        triggered_by=actor,
    )
    bus.publish(topology.APPLY, [request])
    return {
        "operation": op,
        "revision": entry["revision"],
        "commit": entry.get("commit", ""),
        "before": int(app.status.get("historyCount", 0)),
    }


def pin(app: store.App, *, actor: str, reason: str = "", revision: str = "") -> status.Pin:
    """Hold the application at its synced revision (REVISION, when given, must be its commit
    or a history entry's)."""
    sync_state = app.status.get("sync") or SyncState()
    stored, commit = sync_state.get("revision"), sync_state.get("commit", "")
    if not stored:
        raise Refused(409, f"application {app.name!r} has not been synced yet")
    if revision and not commit.startswith(revision):
        found = [e for e in store.history(app.name) if str(e.get("commit", "")).startswith(revision)]
        if not found:
            raise Refused(400, f"revision {revision!r} is not in the history of {app.name!r}")
        stored, commit = found[-1]["revision"], found[-1]["commit"]
    held = status.pin(stored, commit, by=actor, reason=reason or "pinned by hand", at=store.now())
    store.set_pin(app.name, held)
    return held


def unpin(app: store.App, *, actor: str) -> dict[str, Any]:
    """Clear the pin and sync the target's head again."""
    held = app.status.get("pin")
    if not held:
        raise Refused(409, f"application {app.name!r} is not pinned")
    store.set_pin(app.name, None)
    return {"unpinned": dict(held), **sync(app, actor=actor)}


def promote(src: store.App, dst: store.App, *, actor: str) -> dict[str, Any]:
    """Move DST to the exact commit SRC is synced and Healthy with (recorded in DST's history)."""
    sync_state, health = src.status.get("sync") or SyncState(), src.status.get("health") or {}
    if sync_state.get("status") != SyncStatus.SYNCED or health.get("status") != "Healthy":
        state = f"{sync_state.get('status', SyncStatus.UNKNOWN)}/{health.get('status', 'Unknown')}"
        raise Refused(
            409,
            f"{src.name} is {state}; only a Synced and Healthy application can be "
            f"promoted from (hint: gitops app wait {src.name} --health)",
        )
    commit = sync_state["commit"]
    store.put_app(dataclasses.replace(dst.spec, targetRevision=commit))
    op = _operation("promote")
    request = RenderRequest(
        app=dst.name,
        commit=commit,
        ref="",
        initiator=Initiator.MANUAL,
        operation=op,
        triggered_by=f"promote from {src.name} by {actor}",
    )
    bus.publish(topology.RENDER, [request])
    return {"operation": op, "commit": commit, "before": int(dst.status.get("historyCount", 0))}


def refresh(name: str) -> str:
    """Ask the audit function to look at the application again (health, drift) now."""
    op = _operation("refresh")
    bus.publish(topology.AUDIT, [AuditRequest(app=name, operation=op)])
    return op


def delete(app: store.App, *, cascade: bool) -> dict[str, Any]:
    """Unregister the application under its lease (an operation in flight finishes first, and
    `notes` says it was waited for); with CASCADE, delete what it owns in the cluster first,
    with its PreDelete and PostDelete hooks (shared/steps/deletion.py). A hook that failed
    keeps the application (`problem`), as Argo CD keeps it."""
    from shared.steps import deletion

    notes: list[str] = []
    try:
        done = deletion.delete_application(app.name, cascade=cascade, on_wait=notes.append)
    except deletion.DeletionBusy as exc:
        raise Refused(409, str(exc)) from None
    results = [r.to_doc() for r in done.objects]
    return {
        "notes": notes,
        "name": app.name,
        "cascade": cascade,
        "objects": results,
        "hooks": [h.to_doc() for h in done.hooks],
        "problem": done.problem,
        "deleted": sum(r["action"] == Action.PRUNED for r in results),
        "failed": any(r["action"] == Action.FAILED for r in results),
    }


def diff(app: store.App, revisions: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Desired vs live per object, or two history entries against each other."""
    from shared.steps import diff as diffs

    if revisions:
        entries = [store.get_history(app.name, int(i), results=False) for i in revisions]
        found = diffs.between_revisions(app.name, entries[0]["revision"], entries[1]["revision"])
    else:
        if not (app.status.get("sync") or {}).get("revision"):
            raise Refused(409, f"application {app.name!r} has not been synced yet")
        from shared.adapters import kube

        found = diffs.desired_vs_live(kube.for_project(app.spec.destination.cluster, app.spec.project), app)
    return [d.to_doc() for d in found]


def tree(app: store.App) -> dict[str, Any]:
    """The objects the application owns as its last sync recorded them, each with its sync
    state (OutOfSync where the last sweep found drift) and health, and the hooks it ran."""
    drifted = set((app.status.get("drift") or {}).get("ids") or [])
    count = int(app.status.get("historyCount", 0))
    last = store.get_history(app.name, count) if count else {}
    nodes = []
    for r in last.get("resources", []):
        oid = f"{r['kind']}.{r['group']}" if r["group"] else r["kind"]
        key = f"{oid}/{r['namespace']}/{r['name']}" if r["namespace"] else f"{oid}/{r['name']}"
        nodes.append(
            {
                **r,
                "id": key,
                "status": SyncStatus.OUT_OF_SYNC if key in drifted else SyncStatus.SYNCED,
                "health": r.get("health") or "",
            }
        )
    return {"history": count, "nodes": nodes, "hooks": last.get("hooks") or []}
