"""Deleting an application: an operation like a sync, under the application's lease.

A deletion that did not take the lease raced any sync in flight: the sync, still applying,
re-created objects the deletion had just removed, and they were left in the cluster with
no application to own them (seen when an app of apps pruned a child mid-sync). Taking the
lease first means an operation in flight finishes before anything is deleted, and one that
arrives later finds the lease taken, then the application gone (a poison message).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from shared.adapters import kube, store
from shared.sync.engine import ObjectResult, delete_all

POLL_S = 0.5


class DeletionBusy(RuntimeError):
    """Another operation kept the application's lease for longer than the deletion waits.

    Transient (no adapter claims it): a parent's apply that could not prune a busy child
    is redelivered and prunes it then."""


def delete_application(
    name: str,
    *,
    cascade: bool,
    wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> list[ObjectResult]:
    """Take the lease (waiting for an operation in flight), delete what the application owns
    when `cascade`, then unregister it. Raises store.NotFound when it does not exist, and
    DeletionBusy when the lease stays taken for `wait_s` (default: two lease periods, long
    enough for a dead holder's lease to expire)."""
    holder = uuid.uuid4().hex
    operation = f"delete-{holder[:12]}"
    deadline = time.monotonic() + (2 * store.LEASE_S if wait_s is None else wait_s)
    told = False
    while True:
        try:
            begun = store.begin_operation(name, operation, holder)
            break
        except store.LeaseBusy as exc:
            if time.monotonic() >= deadline:
                raise DeletionBusy(f"{exc}; not deleted, try again when it has finished") from exc
            if on_wait is not None and not told:
                on_wait(f"waiting for the operation in flight on {name} to finish")
                told = True
            time.sleep(POLL_S)
    assert begun.app is not None
    app = begun.app
    try:
        results: list[ObjectResult] = []
        if cascade:
            cluster = kube.cluster(app.spec.destination.cluster)
            results = delete_all(cluster, app.spec, store.inventory(app.name, app.status))
        store.delete_app(name)
    except BaseException:
        store.release_lease(name, holder)
        raise
    return results
