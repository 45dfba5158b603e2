"""Rendered revisions: applications/{name}/revisions/{id}, their manifests packed into parts
when big (shared/adapters/store/parts.py)."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.adapters.store.common import app_ref
from shared.adapters.store.errors import NotFound
from shared.adapters.store.parts import get_packed, put_packed


def put_revision(app: str, revision_id: str, doc: dict[str, Any]) -> None:
    put_packed(app_ref(app).collection("revisions").document(revision_id), doc)


def get_revision(app: str, revision_id: str) -> dict[str, Any]:
    doc = get_packed(
        app_ref(app).collection("revisions").document(revision_id),
        f"revision {revision_id!r} of application {app!r}",
    )
    if doc is None:
        raise NotFound(f"revision {revision_id!r} of application {app!r} not found")
    return doc


def delete_revision(batch: firestore.WriteBatch, ref: firestore.DocumentReference) -> None:
    for part in ref.collection("parts").list_documents():
        batch.delete(part)
    batch.delete(ref)
