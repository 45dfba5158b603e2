"""Keep Secret values out of Firestore: revisions store a digest in place of each value.

The values stay in Git (where the user put them) and are read back from the same
commit when the revision is applied or audited, and checked against the digests.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from shared.core.manifests import ObjectId

PREFIX = "redacted:sha256:"
FIELDS = ("data", "stringData")


class SecretMismatch(RuntimeError):
    """The Secret values in Git no longer match the digests stored with the revision."""


def _is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _digest(value: Any) -> str:
    return PREFIX + hashlib.sha256(str(value).encode()).hexdigest()


def redact(objs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Copies of the objects with every Secret value replaced by its digest."""
    out, redacted = [], False
    for obj in objs:
        if _is_secret(obj) and any(obj.get(f) for f in FIELDS):
            obj = copy.deepcopy(obj)
            for f in FIELDS:
                if isinstance(obj.get(f), dict):
                    obj[f] = {k: _digest(v) for k, v in obj[f].items()}
            redacted = True
        out.append(obj)
    return out, redacted


def restore(stored: list[dict[str, Any]], originals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put the real values (from the commit in Git) back, checking each against its digest."""
    by_id = {ObjectId.of(o): o for o in originals if _is_secret(o)}
    out = []
    for obj in stored:
        if _is_secret(obj) and any(isinstance(obj.get(f), dict) for f in FIELDS):
            source = by_id.get(ObjectId.of(obj))
            if source is None:
                raise SecretMismatch(f"{ObjectId.of(obj)} is not in Git at this revision any more")
            obj = copy.deepcopy(obj)
            for f in FIELDS:
                for key, digest in (obj.get(f) or {}).items():
                    value = (source.get(f) or {}).get(key)
                    if value is None or _digest(value) != digest:
                        raise SecretMismatch(
                            f"{ObjectId.of(obj)} {f}.{key} differs from the revision's digest"
                        )
                    obj[f][key] = value
        out.append(obj)
    return out
