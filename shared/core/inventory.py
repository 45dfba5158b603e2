"""What an application owns in a cluster, and proof that an object is untouched since our apply.

Each entry records the digest of the desired object we applied and a digest of the live
object's essence as the API server returned it (spec, labels, annotations: everything
but status and bookkeeping). On the next sync or audit, an object whose desired digest
and live essence digest are both unchanged needs no request at all: nobody changed what
we own (controllers writing status do not count).
"""

from __future__ import annotations

from typing import Any

from shared.core import drift
from shared.core.manifests import ObjectId, object_digest

# written by controllers after our apply, never by users to change what we declared
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def live_digest(live: dict[str, Any]) -> str:
    essence = drift.essence(live)
    annotations = {
        k: v
        for k, v in (essence["metadata"].get("annotations") or {}).items()
        if k not in CONTROLLER_ANNOTATIONS
    }
    essence["metadata"] = {**essence["metadata"], "annotations": annotations}
    return object_digest(essence)


def entry(obj: dict[str, Any], live: dict[str, Any] | None) -> dict[str, str]:
    """The inventory entry for an applied object (live: the object the server returned)."""
    meta = obj.get("metadata") or {}
    out = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "digest": object_digest(obj),
    }
    if live is not None:
        out["liveDigest"] = live_digest(live)
    return out


def entry_id(e: dict[str, str]) -> ObjectId:
    return ObjectId.of(as_stub(e))


def as_stub(e: dict[str, str]) -> dict[str, Any]:
    """An object skeleton for an entry (for ordering, listing and deleting)."""
    return {
        "apiVersion": e["apiVersion"],
        "kind": e["kind"],
        "metadata": {"namespace": e.get("namespace", ""), "name": e["name"]},
    }


def untouched(e: dict[str, str] | None, desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """True when neither Git nor anyone in the cluster changed the object since our apply."""
    return (
        e is not None
        and live is not None
        and e.get("digest") == object_digest(desired)
        and e.get("liveDigest") == live_digest(live)
    )
