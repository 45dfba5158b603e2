"""Glue for the CloudEvent functions: decode the Pub/Sub message, sort permanent from transient."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.adapters import bus
from shared.core import messages, topology
from shared.core.failures import Kind
from shared.platform import logs, metering
from shared.steps import errorkinds

Handler = Callable[[Any, str], None]


def source_topic(cloud_event: Any, default: str) -> str:
    """The topic a push came from (the push URL ends in /projects/P/topics/T)."""
    try:
        source = str(cloud_event["source"] or "")
    except (KeyError, TypeError):
        source = ""
    return source.rsplit("/topics/", 1)[1] if "/topics/" in source else default


def handle(cloud_event: Any, handlers: Mapping[type, Handler], topic: str) -> None:
    """Decode the message, pick its handler by kind, run it with the Pub/Sub message id.

    Poison messages (malformed, or naming an application, revision or commit that does
    not exist) and any other permanent error (`classify`: a step records those it can on the
    application first) can never succeed: they go straight to the topic's dead-letter topic
    with the reason, are logged at ERROR (an operator can alert on it), and are acknowledged.
    A transient exception propagates, the function answers 500, and Pub/Sub redelivers
    with backoff until, after its bounded attempts, the dead-letter policy takes it.
    """
    logs.clear()
    metering.reset()
    started, t0 = time.time(), time.perf_counter()
    with contextlib.suppress(KeyError, TypeError):
        logs.bind_trace(cloud_event["traceparent"])
    data = cloud_event.data if isinstance(cloud_event.data, dict) else {}
    message_id = str((data.get("message") or {}).get("messageId", ""))
    logs.bind(messageId=message_id)
    raw = b""
    try:
        raw, _attributes = messages.from_cloud_event_data(data)
        message = messages.decode(raw, *handlers)
        logs.bind(
            kind=message.kind, app=getattr(message, "app", ""), operation=getattr(message, "operation", "")
        )
        handlers[type(message)](message, message_id)
    except Exception as exc:
        if errorkinds.classify(exc) is not Kind.PERMANENT:
            raise
        dead_letter = topology.dead_letter_of(topic)
        bus.publish_raw(dead_letter, raw, reason=str(exc)[:1000], messageId=message_id, sourceTopic=topic)
        logs.error(
            "poison message sent to the dead-letter topic",
            reason=str(exc)[:1000],
            error=type(exc).__name__,
            deadLetterTopic=dead_letter,
        )
    finally:  # one line per invocation, failed ones too: what it cost (bench/ reads these)
        logs.info(
            "handled",
            topic=topic,
            started=round(started, 3),
            ms=round((time.perf_counter() - t0) * 1000, 1),
            **metering.snapshot(),
            **metering.process_totals(),
        )
