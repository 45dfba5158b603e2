"""Access: the RBAC policy in force (settings/rbac) and the audit trail of API calls (audit/).

    settings/rbac        the policy (shared/core/rbac.py Policy.to_doc), where it came from
                         (the config application's commit, or the admin bootstrap) and when
    audit/{id}           one API call: principal, action, resource, target, status, time, trace

An audit entry is bounded (every string cut at AUDIT_FIELD_CHARS) and holds no request body,
header or token: only what the API decided about whom.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.store.common import checked, client, now
from shared.core import rbac

SETTINGS = "settings"
RBAC_DOC = "rbac"
AUDIT = "audit"
AUDIT_FIELD_CHARS = 512


def get_policy() -> tuple[rbac.Policy, dict[str, Any]]:
    """The policy in force and its origin ({} and an empty policy, denying all, when none is)."""
    snap = client().collection(SETTINGS).document(RBAC_DOC).get()
    doc = (snap.to_dict() or {}) if snap.exists else {}
    return rbac.Policy.from_doc(doc.get("policy") or {}), doc.get("origin") or {}


def put_policy(policy: rbac.Policy, origin: dict[str, Any]) -> None:
    ref = client().collection(SETTINGS).document(RBAC_DOC)
    ref.set(checked(ref, {"policy": policy.to_doc(), "origin": origin, "updatedAt": now()}))


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value[:AUDIT_FIELD_CHARS]
    return value


def put_audit(entry: dict[str, Any]) -> None:
    """Record one API call (fields cut to AUDIT_FIELD_CHARS; `time` set here)."""
    ref = client().collection(AUDIT).document()
    ref.set(checked(ref, {**{k: _bounded(v) for k, v in entry.items()}, "time": now()}))


def audit_entries(limit: int = 100) -> list[dict[str, Any]]:
    """The latest audit entries, newest first."""
    from google.cloud import firestore

    query = client().collection(AUDIT).order_by("time", direction=firestore.Query.DESCENDING).limit(limit)
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
