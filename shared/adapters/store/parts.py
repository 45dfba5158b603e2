"""Big values kept in parts documents: lists (inventory, per-object results, drifted objects)
as JSON texts of at most PART_BYTES_JSON, and packed documents (a revision's manifests, a
cached render) compressed into parts past INLINE_BYTES."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

from google.cloud import firestore

from shared.adapters.store.common import checked, client
from shared.adapters.store.errors import NotFound
from shared.core import docsize

PART_BYTES_JSON = 512 * 1024  # a part's JSON text: half the document limit, whatever the list
# one commit's documents: a request is refused over 10 MiB in production, and over gRPC's
# 4 MiB message limit by the emulator ("gRPC message exceeds maximum size")
COMMIT_BYTES = 3 * 1024 * 1024


def chunk(items: Sequence[Any], part_bytes: int = PART_BYTES_JSON) -> list[str]:
    """JSON texts of consecutive runs of `items`, each at most `part_bytes` (unless a single
    item is bigger: then alone, and the bound check refuses it)."""
    parts: list[str] = []
    run: list[str] = []
    size = 2
    for item in items:
        text = json.dumps(item, separators=(",", ":"), sort_keys=True, default=str)
        if run and size + len(text) + 1 > part_bytes:
            parts.append("[" + ",".join(run) + "]")
            run, size = [], 2
        run.append(text)
        size += len(text) + 1
    if run:
        parts.append("[" + ",".join(run) + "]")
    return parts


def write_parts(refs: list[firestore.DocumentReference], texts: list[str], extra: dict[str, Any]) -> None:
    """Write parts documents, every one checked before the first is written, in batches."""
    docs = [
        checked(ref, {**extra, "part": i, "entries": text})
        for i, (ref, text) in enumerate(zip(refs, texts, strict=True))
    ]
    batch, size = client().batch(), 0
    for ref, doc in zip(refs, docs, strict=True):
        doc_size = docsize.document_size(ref.path, doc)
        if size and size + doc_size > COMMIT_BYTES:
            batch.commit()
            batch, size = client().batch(), 0
        batch.set(ref, doc)
        size += doc_size
    if size:
        batch.commit()


def read_parts(refs: list[firestore.DocumentReference], what: str) -> list[Any]:
    snaps = {s.reference.path: s for s in client().get_all(refs)} if refs else {}
    out: list[Any] = []
    for ref in refs:
        snap = snaps.get(ref.path)
        if snap is None or not snap.exists:
            raise NotFound(f"{what} is incomplete: {ref.id} is missing")
        out += json.loads((snap.to_dict() or {})["entries"])
    return out


# A revision's manifests are kept as readable YAML in its document up to INLINE_BYTES;
# bigger ones (Firestore caps a document at 1 MiB) are zlib-compressed and split across
# revisions/{id}/parts/{000..} documents, written before the revision document itself so
# a reader never sees a revision whose parts are missing. Read back exactly (sha256).
INLINE_BYTES = 256 * 1024
PART_BYTES = 900 * 1024
_PACKED = ("manifests", "objects", "findings")


def put_packed(
    ref: firestore.DocumentReference,
    doc: dict[str, Any],
    packed_fields: tuple[str, ...] = _PACKED,
    merge: bool = False,
) -> None:
    """Write doc; its big fields compressed into parts documents when they pass INLINE_BYTES."""
    payload = {k: doc[k] for k in packed_fields if k in doc}
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    if len(raw) <= INLINE_BYTES:
        ref.set(checked(ref, doc), merge=merge)
        return
    packed = zlib.compress(raw, 6)
    parts = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
    head = {k: v for k, v in doc.items() if k not in packed_fields}
    head |= {
        "packed": {
            "encoding": "json+zlib",
            "parts": len(parts),
            "bytes": len(raw),
            "compressedBytes": len(packed),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        packed_fields[0]: f"(compressed: {len(raw):,} bytes in {len(parts)} parts)",
    }
    checked(ref, head)
    for i, part in enumerate(parts):
        part_ref = ref.collection("parts").document(f"{i:03d}")
        part_ref.set(checked(part_ref, {"data": part}))
    ref.set(head, merge=merge)


def get_packed(ref: firestore.DocumentReference, what: str) -> dict[str, Any] | None:
    """A document written by put_packed, read back exactly; None when it does not exist."""
    snap = ref.get()
    if not snap.exists:
        return None
    doc = snap.to_dict() or {}
    packed = doc.pop("packed", None)
    if not packed:
        return doc
    parts = sorted(ref.collection("parts").stream(), key=lambda p: p.id)
    try:
        raw = zlib.decompress(b"".join((p.to_dict() or {})["data"] for p in parts))
    except zlib.error:
        raw = b""
    if len(parts) != packed["parts"] or hashlib.sha256(raw).hexdigest() != packed["sha256"]:
        raise NotFound(f"{what} is incomplete ({len(parts)} of {packed['parts']} parts)")
    return doc | json.loads(raw)
