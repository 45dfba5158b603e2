"""Glue for the CloudEvent functions: decode the Pub/Sub message, sort poison from retryable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from shared import logs, messages, store

Handler = Callable[[Any, str], None]


def handle(cloud_event: Any, handlers: Mapping[type, Handler]) -> None:
    """Decode the message, pick its handler by kind, run it with the Pub/Sub message id.

    Malformed messages and messages for applications that do not exist can never
    succeed: they are logged at ERROR (an operator can alert on it) and acknowledged.
    Any other exception propagates, the function answers 500, and Pub/Sub redelivers
    with backoff until the dead-letter topic takes the message.
    """
    logs.clear()
    with contextlib.suppress(KeyError, TypeError):
        logs.bind_trace(cloud_event["traceparent"])
    data = cloud_event.data if isinstance(cloud_event.data, dict) else {}
    message_id = str((data.get("message") or {}).get("messageId", ""))
    logs.bind(messageId=message_id)
    try:
        raw, _attributes = messages.from_cloud_event_data(data)
        message = messages.decode(raw, *handlers)
    except messages.BadMessage as exc:
        logs.error("poison message dropped", reason=str(exc))
        return
    logs.bind(kind=message.kind, app=getattr(message, "app", ""),
              operation=getattr(message, "operation", ""))
    try:
        handlers[type(message)](message, message_id)
    except store.NotFound as exc:
        logs.error("message for something that does not exist dropped", reason=str(exc))
