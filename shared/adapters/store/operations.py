"""Sync operations: the application's lease (one operation at a time, a finished one never
run twice), its history entries and their per-object results."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from shared.adapters.store.apps import HISTORY_COUNT, App, status_fields, to_app
from shared.adapters.store.common import RESULTS, app_ref, checked, client, merged, now
from shared.adapters.store.errors import LeaseBusy, LeaseLost, NotFound
from shared.adapters.store.inventories import digest, drop_other_generations, put_inventory
from shared.adapters.store.parts import chunk, read_parts, write_parts
from shared.adapters.store.revisions import delete_revision
from shared.core.status import Inventory, StatusUpdate
from shared.platform import config

DONE_OPERATIONS_KEPT = 50


def results_refs(entry_ref: firestore.DocumentReference, parts: int) -> list[firestore.DocumentReference]:
    return [entry_ref.collection(RESULTS).document(f"{i:03d}") for i in range(parts)]


@dataclass(frozen=True)
class Begun:
    """What `begin_operation` decided."""

    sequence: int  # the history entry this operation writes (0 when not started)
    duplicate: bool = False  # the operation already finished: do nothing
    app: App | None = None


# renewed every LEASE_S/3 while the holder lives: a dead holder frees it soon
LEASE_S = config.lease_seconds()


def begin_operation(app_name: str, operation: str, holder: str, lease_s: int = LEASE_S) -> Begun:
    """Take the app's lease for one delivery of an operation; allocate its history number.

    A finished operation (redelivered) returns duplicate=True. A live lease of anyone else
    (another operation, or another delivery of this one still running) raises LeaseBusy.
    An expired lease is taken over; if it was this operation's, its sequence is reused.
    """
    ref = app_ref(app_name)
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> Begun:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            raise NotFound(f"application {app_name!r} not found")
        doc = snap.to_dict() or {}
        app = to_app(snap)
        if operation in (doc.get("doneOperations") or []):
            return Begun(0, duplicate=True, app=app)
        lease = doc.get("lease") or {}
        if lease and lease.get("holder") != holder and lease.get("expiresAt", now()) > now():
            raise LeaseBusy(f"application {app_name!r} is being synced by {lease.get('operation')}")
        if lease.get("operation") == operation:
            seq = int(lease["sequence"])
        else:
            seq = int((doc.get("status") or {}).get("historyCount", 0)) + 1
        tx.update(
            ref,
            {
                "lease": {
                    "operation": operation,
                    "holder": holder,
                    "sequence": seq,
                    "expiresAt": now() + dt.timedelta(seconds=lease_s),
                }
            },
        )
        return Begun(seq, app=app)

    return run(transaction)


def running_operation(app_name: str) -> str | None:
    """The operation holding the application's lease now (a sync being applied), or None
    when the lease is free or expired (the web UI polls faster while one runs)."""
    snap = app_ref(app_name).get(["lease"])
    lease = (snap.to_dict() or {}).get("lease") or {}
    if not lease.get("holder") or lease.get("expiresAt", now()) <= now():
        return None
    return str(lease.get("operation") or lease["holder"])


@contextlib.contextmanager
def heartbeat(app_name: str, holder: str, lease_s: int = LEASE_S) -> Iterator[None]:
    """Keep renewing the lease while the block runs (stops renewing if it was lost)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_s / 3):
            try:
                ref = app_ref(app_name)
                snap = ref.get()
                lease = (snap.to_dict() or {}).get("lease") or {}
                if lease.get("holder") != holder:
                    return
                ref.update(
                    {"lease.expiresAt": now() + dt.timedelta(seconds=lease_s)},
                    option=client().write_option(last_update_time=snap.update_time),
                )
            except Exception:
                continue

    thread = threading.Thread(target=renew, name=f"lease-{app_name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def finish_operation(
    app_name: str,
    operation: str,
    holder: str,
    sequence: int,
    entry: dict[str, Any] | None,
    status: StatusUpdate,
    previous_inventory: Inventory | None = None,
) -> None:
    """Write the history entry (if any) and the status, mark the operation done, free the lease.

    The entry's per-object `resources` go to history/{seq}/results parts and a list in
    status `inventory` to inventory parts, both written first; the entry keeps its summary
    and counts, the status a pointer. Every document is checked against its bound before
    anything of the transaction is written (DocumentTooLarge, permanent). An inventory equal
    to `previous_inventory` (the status' pointer the operation began with) is not written
    again: a sync that changed nothing writes no parts for it.
    Raises LeaseLost, writing nothing, when another delivery took the lease meanwhile.
    """
    ref = app_ref(app_name)
    generation = ""
    entries = status.inventory
    if isinstance(entries, list):
        unchanged = (
            isinstance(previous_inventory, dict)
            and not previous_inventory.get("unrecorded")
            and previous_inventory.get("sha256") == digest(chunk(entries))
            and previous_inventory.get("count") == len(entries)
        )
        if unchanged and isinstance(previous_inventory, dict):
            status = dataclasses.replace(status, inventory=previous_inventory)
        else:
            generation = f"{sequence:06d}-{holder[:8]}"
            status = dataclasses.replace(status, inventory=put_inventory(app_name, generation, entries))
    if entry is not None and "resources" in entry:
        entry = dict(entry)
        results = entry.pop("resources")
        texts = chunk(results)
        write_parts(
            results_refs(ref.collection("history").document(f"{sequence:06d}"), len(texts)),
            texts,
            {"sequence": sequence},
        )
        entry["results"] = {"parts": len(texts), "count": len(results)}
    transaction = client().transaction()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        doc = snap.to_dict() or {}
        if (doc.get("lease") or {}).get("holder") != holder:
            raise LeaseLost(f"the lease on {app_name!r} was taken over; {operation} not recorded")
        done = [*(doc.get("doneOperations") or []), operation][-DONE_OPERATIONS_KEPT:]
        update = status_fields(status)
        if entry is not None:
            entry_ref = ref.collection("history").document(f"{sequence:06d}")
            tx.set(entry_ref, checked(entry_ref, entry))
            update[HISTORY_COUNT] = sequence
        update["doneOperations"] = done
        update["lease"] = firestore.DELETE_FIELD
        checked(ref, merged(doc, update))
        tx.update(ref, update)

    run(transaction)
    if generation:
        drop_other_generations(app_name, generation)


def release_lease(app_name: str, holder: str) -> None:
    """Give the lease back without finishing (e.g. after a transient failure)."""
    ref = app_ref(app_name)
    snap = ref.get()
    if snap.exists and ((snap.to_dict() or {}).get("lease") or {}).get("holder") == holder:
        ref.update(
            {"lease": firestore.DELETE_FIELD}, option=client().write_option(last_update_time=snap.update_time)
        )


def trim_history(app: str, limit: int, keep_revisions: set[str], newest: int) -> int:
    """Keep the newest `limit` history entries; drop older ones, then every rendered
    revision no remaining entry (nor the pin, nor the last healthy) refers to.

    `newest` is the sequence just written. Sequences are dense (each operation takes the
    next one), so nothing is read while there are at most `limit` entries, and then only the
    entries falling off and the kept ones' revision and start (it read every entry in full
    after every sync)."""
    if limit < 1 or newest <= limit:  # AppSpec refuses a limit under 1; never drop the newest
        return 0
    history = app_ref(app).collection("history")
    cut = firestore.FieldFilter("sequence", "<=", newest - limit)
    dropped = list(history.where(filter=cut).select([]).stream())
    if not dropped:
        return 0
    batch = client().batch()
    for snap in dropped:
        for part in snap.reference.collection(RESULTS).list_documents():
            batch.delete(part)
        batch.delete(snap.reference)
    kept = [
        s.to_dict() or {}
        for s in history.where(filter=firestore.FieldFilter("sequence", ">", newest - limit))
        .select(["revision", "startedAt"])
        .stream()
    ]
    wanted = keep_revisions | {e.get("revision") for e in kept}
    oldest_kept = min((e["startedAt"] for e in kept if "startedAt" in e), default=now())
    for snap in app_ref(app).collection("revisions").select(["renderedAt"]).stream():
        rendered = (snap.to_dict() or {}).get("renderedAt")
        # only revisions older than every kept entry: newer ones may still be synced
        if snap.id not in wanted and rendered is not None and rendered < oldest_kept:
            delete_revision(batch, snap.reference)
    batch.commit()
    return len(dropped)


def _history_snapshots(app: str) -> list[firestore.DocumentSnapshot]:
    return list(app_ref(app).collection("history").order_by("sequence").stream())


def history(app: str) -> list[dict[str, Any]]:
    """Every history entry: summary and counts (per-object results: get_history)."""
    return [s.to_dict() or {} for s in _history_snapshots(app)]


def get_history(app: str, sequence: int, *, results: bool = True) -> dict[str, Any]:
    """One history entry, with its per-object results read back from its parts as
    `resources` (unless results=False)."""
    ref = app_ref(app).collection("history").document(f"{sequence:06d}")
    snap = ref.get()
    if not snap.exists:
        raise NotFound(f"history entry {sequence} of application {app!r} not found")
    entry = snap.to_dict() or {}
    pointer = entry.get("results")
    if results and isinstance(pointer, dict) and "resources" not in entry:
        entry["resources"] = read_parts(
            results_refs(ref, int(pointer["parts"])), f"results of history entry {sequence} of {app!r}"
        )
    return entry
