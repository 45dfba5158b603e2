"""Webhook intake (HTTP): a GitHub push becomes one render request per matching app."""

from __future__ import annotations

import json
import time

import flask
import functions_framework

from shared import bus, config, github, logs, metering, store, topology
from shared.intake import plan_push

# GitHub waits 10 s for an answer: the Firestore and Pub/Sub calls give up before that, so a
# redelivery is never taken for a duplicate of a delivery still being processed
ANSWER_WITHIN_S = 8.0


def _answer(status: int, **body: object) -> flask.Response:
    if status == 413:
        # functions-framework reads the whole body before answering, unless the answer is
        # streamed: so a body over the limit is answered at once and never read
        return flask.Response(iter([json.dumps(body)]), status=status, mimetype="application/json",
                              headers={"Connection": "close"})
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


@functions_framework.http
def intake(request: flask.Request) -> flask.Response:
    logs.clear()
    metering.reset()
    logs.bind_trace(request.headers.get("X-Cloud-Trace-Context") or request.headers.get("traceparent"))
    delivery = request.headers.get("X-GitHub-Delivery", "")
    event = request.headers.get("X-GitHub-Event", "")
    logs.bind(delivery=delivery, event=event)
    try:
        body = github.read_limited(request.content_length, request.stream, config.max_webhook_bytes())
        github.verify_signature(config.webhook_secrets(), body,
                                request.headers.get("X-Hub-Signature-256"))
        payload = github.payload_of(request.mimetype, body)
        if event == "ping":
            return _answer(200, result="pong", hook_id=github.hook_id(payload))
        if event != "push":
            logs.info("event ignored")
            return _answer(202, result="ignored", reason=f"event {event!r} is not handled")
        push = github.parse_push(payload)
    except github.WebhookError as exc:
        logs.warning("webhook refused", status=exc.status, reason=str(exc))
        return _answer(exc.status, error=str(exc))
    deadline = time.monotonic() + ANSWER_WITHIN_S
    if delivery and not store.record_delivery(delivery, timeout=deadline - time.monotonic()):
        logs.info("duplicate delivery")
        return _answer(200, result="duplicate")
    try:
        plan = plan_push(push, delivery, timeout=deadline - time.monotonic())
        if plan.requests:
            bus.publish(topology.RENDER, plan.requests, timeout=deadline - time.monotonic(),
                        together=True)
    except Exception:
        if delivery:
            store.forget_delivery(delivery)  # so that GitHub's redelivery is processed
        raise
    logs.info("push handled", ref=push.ref, commit=push.after,
              matched=[r.app for r in plan.requests], skipped=plan.skipped, **metering.snapshot())
    return _answer(200, result="accepted", apps=[r.app for r in plan.requests],
                   skipped=plan.skipped)
