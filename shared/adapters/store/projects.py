"""Projects: projects/{name}, what an application may deploy and where (shared/core/projects.py)."""

from __future__ import annotations

from typing import Any

from shared.adapters.store.common import client, now

PROJECTS = "projects"


def put_project(name: str, doc: dict[str, Any]) -> None:
    client().collection(PROJECTS).document(name).set({**doc, "updatedAt": now()})


def list_projects() -> list[dict[str, Any]]:
    return [{"name": s.id, **(s.to_dict() or {})} for s in client().collection(PROJECTS).stream()]


def get_project(name: str) -> dict[str, Any] | None:
    snap = client().collection(PROJECTS).document(name).get()
    return (snap.to_dict() or {}) if snap.exists else None
