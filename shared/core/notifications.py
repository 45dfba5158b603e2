"""Events on the notifications topic, for Slack bridges, BigQuery or anything else.

Every event is one JSON object (schema version 1):

    {"schema": 1, "type": "sync" | "drift" | "rollback" | "render-failed" | "blocked",
     "app": str, "project": str,
     "time": RFC 3339, "summary": str,                   # a sentence a person can read
     "commit": str, "revision": str,
     # sync and rollback:
     "sequence": int, "initiator": str, "phase": "Succeeded" | "Failed",
     "health": str, "counts": {action: n}, "triggeredBy": str,
     # drift:
     "objects": [{"object": str, "drift": "modified" | "missing" | "extra",
                  "fields": [str], "writtenBy": str}],   # at most OBJECTS of them
     "objectCount": int, "action": str,
     "attempt": int,   # 1, or which retry (syncPolicy.retry)
     # when the sync failed and retries are configured: the next attempt ('' : gave up)
     "retry": {"attempt": int, "limit": int, "nextAt": RFC 3339 | ""},
     # render-failed (the commit could not be rendered) and blocked (the security gate
     # refused it): nothing was applied, the cluster keeps the last good revision
     "initiator": str, "triggeredBy": str, "errors": [str]}   # at most ERRORS of them

Message attributes: type, app (filters can select on them). Secret values never appear:
drift fields carry paths only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.core.status import Initiator

SCHEMA = 1
OBJECTS = 100  # drifted objects named in one event (its drift record has them all)
ERRORS = 20  # render errors or gate findings named in one event (the status has 50)


def _time(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value or "")


def sync_event(app: str, project: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "type": "rollback" if entry["initiator"] == Initiator.ROLLBACK else "sync",
        "app": app,
        "project": project,
        "time": _time(entry.get("finishedAt")),
        "summary": entry["summary"],
        "commit": entry["commit"],
        "revision": entry["revision"],
        "sequence": entry["sequence"],
        "initiator": entry["initiator"],
        "phase": entry["phase"],
        "health": (entry.get("health") or {}).get("status", ""),
        "counts": entry.get("counts", {}),
        "triggeredBy": entry.get("triggeredBy", ""),
        "attempt": entry.get("attempt", 1),
        **({"retry": _retry(entry["retry"])} if entry.get("retry") else {}),
    }


def _retry(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "attempt": state.get("attempt", 1),
        "limit": state.get("limit", 0),
        "nextAt": _time(state.get("nextAt")),
    }


def drift_event(app: str, project: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "type": "drift",
        "app": app,
        "project": project,
        "time": _time(record.get("detectedAt")),
        "summary": record["summary"],
        "commit": record.get("commit", ""),
        "revision": record.get("revision", ""),
        "objects": [
            {
                "object": o["object"],
                "drift": o["drift"],
                "fields": [f["path"] for f in o.get("fields") or []],
                "writtenBy": o.get("writtenBy", ""),
            }
            for o in record["objects"][:OBJECTS]
        ],
        "objectCount": len(record["objects"]),
        "action": record.get("action", ""),
    }


def render_event(
    app: str,
    project: str,
    *,
    blocked: bool,
    commit: str,
    initiator: str,
    triggered_by: str,
    summary: str,
    errors: list[str],
    at: dt.datetime,
) -> dict[str, Any]:
    """A render that failed, or a revision the security gate blocked (type "blocked")."""
    return {
        "schema": SCHEMA,
        "type": "blocked" if blocked else "render-failed",
        "app": app,
        "project": project,
        "time": _time(at),
        "summary": summary,
        "commit": commit,
        "revision": "",
        "initiator": initiator,
        "triggeredBy": triggered_by,
        "errors": errors[:ERRORS],
    }
