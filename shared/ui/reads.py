"""What the pages read: the store, the cluster (live health, the diff) and the diff step.

Each function returns plain data for the builders in `shared/ui/views.py`; nothing here
decides what is shown.
"""

from __future__ import annotations

from typing import Any

from shared.adapters import kube, store
from shared.core import inventory
from shared.platform import logs
from shared.steps import diff
from shared.sync.engine import live_objects

DRIFT_RECORDS_SHOWN = 20  # the newest drift records on the drift tab


def running(app: str) -> bool:
    """An operation holds the application's lease now (a sync or rollback is being applied)."""
    return store.running_operation(app) is not None


def last_results(app: store.App) -> list[dict[str, Any]]:
    """The per-object results of the application's newest history entry."""
    count = int(app.status.get("historyCount") or 0)
    if not count:
        return []
    try:
        return list(store.get_history(app.name, count).get("resources") or [])
    except store.NotFound:  # trimmed meanwhile
        return []


# kinds whose objects make others (ownerReferences) that the tree shows under them, and
# those it lists in their namespaces to find them (from the API server's watch cache)
OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
OWNED = (("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("v1", "Pod"))


def live_state(
    app: store.App, entries: list[dict[str, str]]
) -> tuple[dict[str, dict[str, Any]] | None, list[dict[str, Any]], str]:
    """The owned objects as the cluster has them now, by key (an object not in the cluster has
    no key), and the ReplicaSets, Jobs and Pods of the namespaces where the application owns
    workloads (the tree shows those its objects own); (None, [], why) when the cluster cannot
    be read: the page then shows the health the last sync recorded."""
    if not entries:
        return {}, [], ""
    try:
        cluster = kube.for_project(app.spec.destination.cluster, app.spec.project)
        live = live_objects(cluster, app.name, [inventory.as_stub(e) for e in entries])
        namespaces = sorted({e.get("namespace", "") for e in entries if e["kind"] in OWNERS} - {""})
        related = [
            obj
            for ns in namespaces
            for api_version, kind in OWNED
            for obj in cluster.list(api_version, kind, ns, cached=True)
            if (obj.get("metadata") or {}).get("ownerReferences")
        ]
    except Exception as exc:  # the page still shows what the store knows
        logs.warning("ui: live state not read", app=app.name, error=str(exc)[:300])
        return (
            None,
            [],
            f"the cluster could not be read ({type(exc).__name__}); health as the last sync saw it",
        )
    return {str(oid): obj for oid, obj in live.items()}, related, ""


def live_diff(app: store.App) -> tuple[list[diff.ObjectDiff], str]:
    """Live against desired, or why it cannot be shown."""
    if not (app.status.get("sync") or {}).get("revision"):
        return [], "the application has not been synced yet"
    try:
        return diff.desired_vs_live(kube.for_project(app.spec.destination.cluster, app.spec.project), app), ""
    except Exception as exc:
        logs.warning("ui: diff failed", app=app.name, error=str(exc)[:300])
        return [], f"the diff could not be computed: {str(exc)[:300]}"


def revisions_diff(app: str, old: int, new: int) -> tuple[list[diff.ObjectDiff], str]:
    """The manifests of two history entries' revisions."""
    try:
        a = store.get_history(app, old, results=False)
        b = store.get_history(app, new, results=False)
        return diff.between_revisions(app, a["revision"], b["revision"]), ""
    except store.NotFound as exc:
        return [], str(exc)


def drift_records(app: str) -> list[dict[str, Any]]:
    """The newest drift records, newest first."""
    records = list(store.drift_records(app))
    return records[::-1][:DRIFT_RECORDS_SHOWN]
