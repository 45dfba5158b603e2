"""What an application owns, in parts: inventory/{generation}-{000} (status.inventory points
at the generation the last recorded sync wrote)."""

from __future__ import annotations

import hashlib

from google.cloud import firestore

from shared.adapters.store.common import INVENTORY, app_ref, client
from shared.adapters.store.errors import NotFound
from shared.adapters.store.parts import chunk, read_parts, write_parts
from shared.core.status import AppStatus, InventoryPointer


def _inventory_refs(app: str, generation: str, parts: int) -> list[firestore.DocumentReference]:
    return [app_ref(app).collection(INVENTORY).document(f"{generation}-{i:03d}") for i in range(parts)]


def put_inventory(app: str, generation: str, entries: list[dict[str, str]]) -> InventoryPointer:
    """Write an inventory in parts (before the status points at it: a reader never sees a
    generation whose parts are missing); returns what status.inventory keeps."""
    texts = chunk(entries)
    write_parts(_inventory_refs(app, generation, len(texts)), texts, {"generation": generation})
    return InventoryPointer(generation=generation, parts=len(texts), count=len(entries), sha256=digest(texts))


def digest(texts: list[str]) -> str:
    return hashlib.sha256("".join(texts).encode()).hexdigest()


def inventory(app: str, status: AppStatus) -> list[dict[str, str]]:
    """What the application owns, as its last recorded sync left it (status.inventory points
    at a generation of parts; an inline list is the layout before parts and still read)."""
    pointer = status.get("inventory")
    if not pointer:
        return []
    if isinstance(pointer, list):
        return pointer
    entries = read_parts(
        _inventory_refs(app, pointer["generation"], int(pointer["parts"])),
        f"inventory {pointer['generation']} of application {app!r}",
    )
    if len(entries) != int(pointer["count"]):
        raise NotFound(
            f"inventory {pointer['generation']} of application {app!r} has "
            f"{len(entries)} of {pointer['count']} entries"
        )
    return entries


def inventory_count(status: AppStatus) -> int:
    """How many objects the application owns, from its status (no read)."""
    pointer = status.get("inventory")
    if isinstance(pointer, list):
        return len(pointer)
    return int(pointer.get("count", 0)) if pointer else 0


def unrecorded(status: AppStatus) -> list[dict[str, str]]:
    """Kinds and namespaces a sync may have applied without recording its inventory (its
    record was refused): the next sync adds what it finds there with the app's label."""
    pointer = status.get("inventory")
    return list(pointer.get("unrecorded") or []) if isinstance(pointer, dict) else []


def drop_other_generations(app: str, keep: str) -> None:
    batch, n = client().batch(), 0
    for ref in app_ref(app).collection(INVENTORY).list_documents():
        if not ref.id.startswith(keep + "-"):
            batch.delete(ref)
            n += 1
    if n:
        batch.commit()
