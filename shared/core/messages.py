"""The messages the functions exchange over Pub/Sub, with a schema version.

Every message is a JSON object `{"schema": 1, "kind": ..., ...}`. Decoding checks
the version and required fields, and raises `BadMessage` (a poison message: it is
acknowledged and logged, never retried forever).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from shared.core.status import Initiator

SCHEMA = 1

INITIATORS = tuple(i.value for i in Initiator)


class BadMessage(ValueError):
    """A message that can never be processed (unparseable, wrong schema, missing field)."""


@dataclass(frozen=True)
class RenderRequest:
    """Render one application at one commit (published by intake, the CLI and the sweep)."""

    kind: ClassVar[str] = "render"
    app: str
    commit: str
    ref: str
    initiator: Initiator
    operation: str  # idempotency key: one operation = at most one history entry
    triggered_by: str = ""  # delivery id, CLI user, scheduler job
    prune: bool = False  # prune this once even if the policy does not (gitops app sync --prune)
    before: str = ""  # a push's before commit (all zeros: the ref was created); '' otherwise


@dataclass(frozen=True)
class ApplyRequest:
    """Apply one stored revision of an application (published by render, rollback, self-heal)."""

    kind: ClassVar[str] = "apply"
    app: str
    revision: str  # id of applications/{app}/revisions/{revision}
    initiator: Initiator
    operation: str
    triggered_by: str = ""
    prune: bool = False
    before: str = ""  # the push's before commit, from the render request
    not_before: str = ""  # ISO 8601: a retry's backoff; the apply waits until then (policy.wait_s)


@dataclass(frozen=True)
class SweepRequest:
    """The periodic drift sweep (published by Cloud Scheduler): all apps, or some."""

    kind: ClassVar[str] = "sweep"
    apps: tuple[str, ...] = ()
    operation: str = ""
    project: str = ""


@dataclass(frozen=True)
class AuditRequest:
    """Audit one application against its last applied revision (and, from a sweep, its
    target's head when that is not synced)."""

    kind: ClassVar[str] = "audit"
    app: str
    operation: str
    head: str = ""  # the commit the target points at, when the sweep found it not synced
    ref: str = ""  # the target's ref (refs/heads/main; '' for HEAD)


Message = RenderRequest | ApplyRequest | SweepRequest | AuditRequest
_KINDS: dict[str, type] = {c.kind: c for c in (RenderRequest, ApplyRequest, SweepRequest, AuditRequest)}


def encode(message: Message) -> bytes:
    body: dict[str, Any] = {"schema": SCHEMA, "kind": message.kind, **asdict(message)}
    if isinstance(message, SweepRequest):
        body["apps"] = list(message.apps)
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(data: bytes, *expected: type[Message]) -> Message:
    """Decode a message body of one of the expected kinds; raise BadMessage otherwise."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"message is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadMessage("message is not a JSON object")
    if body.get("schema") != SCHEMA:
        raise BadMessage(f"schema: expected {SCHEMA}, got {body.get('schema')!r}")
    kind = body.get("kind")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls not in expected:
        raise BadMessage(f"kind: expected {' or '.join(e.kind for e in expected)}, got {kind!r}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in body:
            value = body[f.name]
            values[f.name] = tuple(value) if f.name == "apps" else value
    try:
        message = cls(**values)
    except TypeError as exc:
        raise BadMessage(f"{kind} message: {exc}") from exc
    for name, value in values.items():
        if name == "prune" and not isinstance(value, bool):
            raise BadMessage(f"prune: expected a boolean, got {type(value).__name__}")
        if name not in ("apps", "prune") and not isinstance(value, str):
            raise BadMessage(f"{name}: expected a string, got {type(value).__name__}")
    if isinstance(message, RenderRequest | ApplyRequest):
        if message.initiator not in INITIATORS:
            raise BadMessage(f"initiator: {message.initiator!r} is not one of {INITIATORS}")
        return replace(message, initiator=Initiator(message.initiator))
    return message


def from_cloud_event_data(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Unwrap the Pub/Sub message from a `messagePublished` CloudEvent's data."""
    try:
        msg = data["message"]
        raw = base64.b64decode(msg.get("data", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"not a Pub/Sub CloudEvent: {exc}") from exc
    return raw, dict(msg.get("attributes") or {})
