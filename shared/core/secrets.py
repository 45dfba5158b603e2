"""Secret values, hidden one way everywhere: by their sha256 digest, or by a fixed mask.

- Stored: revisions keep `redacted:sha256:<digest>` in place of each value (`redact`). The
  values stay in Git (where the user put them) and are read back from the same commit when
  the revision is applied or audited, and checked against the digests (`restore`).
- Shown: a diff shows `*** (sha256 <8 digits>)` (`masked`: equal values stay equal, changed
  ones show as changed); a drift record shows `***` alone (`MASK`, `holds_values`).

Stored and restored are v1 Secrets (`is_secret`); what is shown is masked for any kind
named Secret.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from shared.core.manifests import ObjectId

PREFIX = "redacted:sha256:"  # of a stored value
MASK = "***"  # of a shown value
SHOWN_DIGITS = 8  # of the digest shown with the mask in a diff
FIELDS = ("data", "stringData")


class SecretMismatch(RuntimeError):
    """The Secret values in Git no longer match the digests stored with the revision."""


def is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def holds_values(kind: str, field: Any) -> bool:
    """Whether a top-level field of an object of this kind holds Secret values."""
    return kind == "Secret" and field in FIELDS


def digest(value: Any) -> str:
    """The sha256 of a Secret value (as text), in hex."""
    return hashlib.sha256(str(value).encode()).hexdigest()


def _stored(value: Any) -> str:
    return PREFIX + digest(value)


def masked(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of the object to show, each Secret value as the mask and the start of
    its digest."""
    out = dict(obj)
    for f in FIELDS:
        if holds_values(str(obj.get("kind")), f) and isinstance(out.get(f), dict):
            out[f] = {k: f"{MASK} (sha256 {digest(v)[:SHOWN_DIGITS]})" for k, v in out[f].items()}
    return out


def redact(objs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Copies of the objects with every Secret value replaced by its digest."""
    out, redacted = [], False
    for obj in objs:
        if is_secret(obj) and any(obj.get(f) for f in FIELDS):
            obj = copy.deepcopy(obj)
            for f in FIELDS:
                if isinstance(obj.get(f), dict):
                    obj[f] = {k: _stored(v) for k, v in obj[f].items()}
            redacted = True
        out.append(obj)
    return out, redacted


def restore(stored: list[dict[str, Any]], originals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put the real values (from the commit in Git) back, checking each against its digest."""
    by_id = {ObjectId.of(o): o for o in originals if is_secret(o)}
    out = []
    for obj in stored:
        if is_secret(obj) and any(isinstance(obj.get(f), dict) for f in FIELDS):
            source = by_id.get(ObjectId.of(obj))
            if source is None:
                raise SecretMismatch(f"{ObjectId.of(obj)} is not in Git at this revision any more")
            obj = copy.deepcopy(obj)
            for f in FIELDS:
                for key, stored_digest in (obj.get(f) or {}).items():
                    value = (source.get(f) or {}).get(key)
                    if value is None or _stored(value) != stored_digest:
                        raise SecretMismatch(
                            f"{ObjectId.of(obj)} {f}.{key} differs from the revision's digest"
                        )
                    obj[f][key] = value
        out.append(obj)
    return out
