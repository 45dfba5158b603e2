"""App of apps: Application manifests in a revision register child applications.

The standard way to manage applications through Git: a parent application's folder holds
Application manifests (ours or Argo CD's). They are not sent to Kubernetes; the apply step
registers or updates each child in Firestore (in the parent's project), requests its first
render, and, with prune, removes children that left Git together with what they own.
"""

from __future__ import annotations

from typing import Any

from shared.adapters import store
from shared.core import argocd, rbac
from shared.core.manifests import ObjectId
from shared.core.messages import RenderRequest
from shared.core.model import AppSpec, SpecError
from shared.core.status import Action
from shared.steps import deletion, heads
from shared.sync.deletion import Deletion
from shared.sync.engine import ObjectResult


def split(objs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(child Application manifests, everything else)."""
    return (
        [o for o in objs if argocd.is_application(o)],
        [o for o in objs if not argocd.is_application(o)],
    )


def _id(name: str) -> ObjectId:
    return ObjectId("gitops.dev", "Application", "", name)


def reconcile(
    parent: AppSpec, docs: list[dict[str, Any]], *, prune: bool, operation: str
) -> tuple[list[ObjectResult], list[RenderRequest]]:
    results: list[ObjectResult] = []
    wanted: list[AppSpec] = []
    changed: list[AppSpec] = []
    children: list[tuple[AppSpec, list[str]]] = []
    for doc in docs:
        name = (doc.get("metadata") or {}).get("name", "?")
        try:
            child, warnings = argocd.application(doc)
        except SpecError as exc:
            results.append(ObjectResult(_id(name), Action.FAILED, f"Application {name}: {exc}"))
            continue
        problem = rbac.child_problem(
            parent.name, parent.project, name, child.project, child.destination.cluster
        )
        if problem:
            results.append(ObjectResult(_id(name), Action.FAILED, problem))
            continue
        children.append((child, warnings))
    # every child read in one get_all and written in put_apps' batched transactions (one
    # read and write of the repository's routes for each batch, not one for each child)
    stored = store.get_apps(sorted({child.name for child, _ in children}))
    for child, warnings in children:
        existing = stored.get(child.name)
        if existing is not None and existing.parent != parent.name:
            results.append(
                ObjectResult(
                    _id(child.name),
                    Action.FAILED,
                    (f"application {child.name} exists and is not a child of {parent.name}"),
                )
            )
            continue
        wanted.append(child)
        if existing is not None and existing.spec == child:
            results.append(ObjectResult(_id(child.name), Action.UNCHANGED))
            continue
        changed.append(child)
        note = "; ".join(warnings)
        results.append(ObjectResult(_id(child.name), Action.CONFIGURED if existing else Action.CREATED, note))
    store.put_apps(changed, parent=parent.name)
    renders = _first_renders(changed, parent, operation)
    names = {c.name for c in wanted}
    for stale in store.children_of(parent.name):
        if stale.name in names:
            continue
        if not prune:
            results.append(ObjectResult(_id(stale.name), Action.SKIPPED, "no longer in Git; prune is off"))
            continue
        try:
            done = deletion.delete_application(stale.name, cascade=True)
        except store.NotFound:  # deleted meanwhile (a redelivery of this apply)
            done = Deletion()
        gone = done.objects
        if done.problem:
            results.append(ObjectResult(_id(stale.name), Action.FAILED, f"kept: {done.problem}"))
            continue
        results.append(
            ObjectResult(
                _id(stale.name),
                Action.PRUNED,
                f"deleted with {sum(r.action == Action.PRUNED for r in gone)} objects",
            )
        )
    return results, renders


def _first_renders(children: list[AppSpec], parent: AppSpec, operation: str) -> list[RenderRequest]:
    """A render of each new or changed child at its target's head (one ref listing per repo)."""
    listed = heads.Heads()
    out = []
    for child in children:
        head = listed.of(child)
        if head is None:
            continue
        out.append(
            heads.render_at(
                child.name,
                head,
                operation=f"{operation}:child:{child.name}",
                triggered_by=f"app-of-apps:{parent.name}",
            )
        )
    return out
