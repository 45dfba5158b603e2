"""Webhook intake (HTTP): a GitHub push becomes one render request per matching app.

An ASGI function (functions-framework serves an `aio` function with uvicorn, here with
httptools and uvloop): its HTTP side costs a fraction of gunicorn's threads and Flask, which
were two fifths of this function's CPU under a burst of pushes. The body is read on the
event loop (and refused past the limit without reading the rest); the Firestore and Pub/Sub
calls, which block, run in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from shared.adapters import bus
from shared.core import topology, webhook
from shared.core.messages import RenderRequest
from shared.platform import config, logs, metering
from shared.steps.intake import receive

# GitHub waits 10 s for an answer: the Firestore and Pub/Sub calls give up before that, so a
# redelivery is never taken for a duplicate of a delivery still being processed
ANSWER_WITHIN_S = 8.0

Answer = tuple[int, dict[str, object]]


@functions_framework.aio.http
async def intake(request: Request) -> Response:
    try:
        body = await _read_limited(request, config.max_webhook_bytes())
    except webhook.WebhookError as exc:
        # answered at once, and the connection closed: the rest of the body is never read
        return _response(*_refused(request.headers, exc), close=True)
    status, answer = await asyncio.to_thread(handle, request.headers, body)
    return _response(status, answer)


async def _read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise webhook.WebhookError(413, f"body of {length} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise webhook.WebhookError(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(status: int, answer: dict[str, object], *, close: bool = False) -> Response:
    return Response(
        json.dumps(answer),
        status_code=status,
        media_type="application/json",
        headers={"Connection": "close"} if close else None,
    )


def _bind(headers: Mapping[str, str]) -> tuple[str, str]:
    logs.clear()
    metering.reset()
    logs.bind_trace(headers.get("X-Cloud-Trace-Context") or headers.get("traceparent"))
    delivery = headers.get("X-GitHub-Delivery", "")
    event = headers.get("X-GitHub-Event", "")
    logs.bind(delivery=delivery, event=event)
    return delivery, event


def _refused(headers: Mapping[str, str], exc: webhook.WebhookError) -> Answer:
    _bind(headers)
    logs.warning("webhook refused", status=exc.status, reason=str(exc))
    return exc.status, {"error": str(exc)}


def _publish_renders(requests: list[RenderRequest], timeout: float) -> None:
    bus.publish(topology.RENDER, requests, timeout=timeout, together=True)


def handle(headers: Mapping[str, str], body: bytes) -> Answer:
    """The answer to one webhook delivery (status, JSON body)."""
    delivery, event = _bind(headers)
    mimetype = headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        webhook.verify_signature(config.webhook_secrets(), body, headers.get("X-Hub-Signature-256"))
        payload = webhook.payload_of(mimetype, body)
        if event == "ping":
            return 200, {"result": "pong", "hook_id": webhook.hook_id(payload)}
        if event != "push":
            logs.info("event ignored")
            return 202, {"result": "ignored", "reason": f"event {event!r} is not handled"}
        push = webhook.parse_push(payload)
    except webhook.WebhookError as exc:
        return _refused(headers, exc)
    plan = receive(push, delivery, deadline=time.monotonic() + ANSWER_WITHIN_S, publish=_publish_renders)
    if plan is None:
        return 200, {"result": "duplicate"}
    return 200, {"result": "accepted", "apps": [r.app for r in plan.requests], "skipped": plan.skipped}
