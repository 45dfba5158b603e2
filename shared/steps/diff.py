"""Readable diffs: desired vs live, or revision vs revision, one unified diff per object.

Secret values are masked on both sides (equal values stay equal, changed ones show as
changed), and server bookkeeping (status, managedFields, resourceVersion...) is left out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from shared.adapters import store
from shared.adapters.kube import Cluster, KubeError
from shared.core import drift, hooks, ignorediff, inventory, secrets
from shared.core.manifests import ObjectId, load
from shared.steps.revision import revision_objects
from shared.sync.engine import dry_run_all, live_objects
from shared.sync.prepare import prepare


@dataclass(frozen=True)
class ObjectDiff:
    id: ObjectId
    diff: str  # unified diff text; empty when equal

    def to_doc(self) -> dict[str, str]:
        return {"object": str(self.id), "diff": self.diff}


def unified(
    oid: ObjectId, old: dict[str, Any] | None, new: dict[str, Any] | None, old_label: str, new_label: str
) -> ObjectDiff:
    def text(obj: dict[str, Any] | None) -> list[str]:
        if obj is None:
            return []
        return yaml.safe_dump(secrets.masked(drift.essence(obj)), sort_keys=True).splitlines(True)

    lines = difflib.unified_diff(text(old), text(new), f"{old_label}/{oid}", f"{new_label}/{oid}")
    return ObjectDiff(oid, "".join(lines))


def desired_vs_live(cluster: Cluster, app: store.App) -> list[ObjectDiff]:
    """Live (a) against what applying the synced revision would make of it (b), without the
    fields the application's ignoreDifferences names (as `argocd app diff`). An object
    untouched since our apply (the inventory's digests, as the audit uses them) has no diff
    and costs no request; the others are dry-run."""
    sync = app.status.get("sync") or {}
    revision = store.get_revision(app.name, sync["revision"])
    desired = prepare(app.spec, hooks.resources_of(revision_objects(app.spec, revision)), cluster)
    entries = {inventory.entry_id(e): e for e in store.inventory(app.name, app.status)}
    owned = [inventory.as_stub(e) for e in entries.values()]
    live = live_objects(cluster, app.name, desired + owned, complete=True)
    suspects = [
        o
        for o in desired
        if not inventory.untouched(entries.get(ObjectId.of(o)), o, live.get(ObjectId.of(o)))
    ]
    predicted = dry_run_all(cluster, suspects)
    out, seen = [], set()
    for obj in desired:
        oid = ObjectId.of(obj)
        seen.add(oid)
        if oid not in predicted:
            continue
        outcome = predicted[oid]
        if isinstance(outcome, KubeError):
            raise outcome  # the API server refuses the desired object: no diff to show
        current = live.get(oid)
        rules = drift.rules_for(app.spec.ignoreDifferences, oid.group, oid.kind, oid.namespace, oid.name)
        if rules and current is not None:
            outcome, current = (
                ignorediff.strip(outcome, rules, live=current),
                ignorediff.strip(current, rules),
            )
        out.append(unified(oid, current, outcome, "live", "desired"))
    out += [
        unified(oid, obj, None, "live", "desired") for oid, obj in sorted(live.items()) if oid not in seen
    ]
    return [d for d in out if d.diff]


def between_revisions(app: str, old_rev: str, new_rev: str) -> list[ObjectDiff]:
    """Manifests of two stored revisions (Secret values are digests there already)."""
    old = {ObjectId.of(o): o for o in load(store.get_revision(app, old_rev)["manifests"])}
    new = {ObjectId.of(o): o for o in load(store.get_revision(app, new_rev)["manifests"])}
    diffs = [
        unified(oid, old.get(oid), new.get(oid), old_rev, new_rev) for oid in sorted(set(old) | set(new))
    ]
    return [d for d in diffs if d.diff]
