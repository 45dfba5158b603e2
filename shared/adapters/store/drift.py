"""What audits found: drift/{id}, the drifted objects past DRIFT_INLINE in its parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.adapters.store.common import app_ref, checked
from shared.adapters.store.parts import chunk, read_parts, write_parts

DRIFT_INLINE = 100  # drifted objects kept in the record itself; the rest in its parts


def put_drift(app: str, record: dict[str, Any]) -> str:
    """Record what an audit found: the first DRIFT_INLINE objects inline (readable in the
    console), every object beyond them in drift/{id}/parts, written first."""
    ref = app_ref(app).collection("drift").document(record["detectedAt"].strftime("%Y%m%dT%H%M%S.%fZ"))
    objects = list(record.get("objects") or [])
    record = {**record, "objects": objects[:DRIFT_INLINE], "objectCount": len(objects)}
    if len(objects) > DRIFT_INLINE:
        texts = chunk(objects[DRIFT_INLINE:])
        write_parts([ref.collection("parts").document(f"{i:03d}") for i in range(len(texts))], texts, {})
        record["parts"] = len(texts)
    ref.set(checked(ref, record))
    return ref.id


def drift_records(app: str, *, complete: bool = False) -> Iterator[dict[str, Any]]:
    """Drift records, oldest first; `complete` reads every drifted object back from parts."""
    query = app_ref(app).collection("drift").order_by("detectedAt")
    for snap in query.stream():
        record = snap.to_dict() or {}
        if complete and record.get("parts"):
            refs = [
                snap.reference.collection("parts").document(f"{i:03d}") for i in range(int(record["parts"]))
            ]
            record["objects"] = [
                *record.get("objects", []),
                *read_parts(refs, f"drift record {snap.id} of {app!r}"),
            ]
        yield record
