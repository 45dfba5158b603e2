"""Drift audit (Pub/Sub): a sweep fans out per-application audits; an audit may self-heal."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.adapters import bus
from shared.core import topology
from shared.core.messages import AuditRequest, SweepRequest
from shared.steps import audit as auditing
from shared.steps import events


def _sweep(req: SweepRequest, message_id: str) -> None:
    sweep = auditing.fan_out(req, req.operation or f"sweep-{message_id}")
    bus.publish(topology.AUDIT, sweep.audits)
    if sweep.renders:
        bus.publish(topology.RENDER, sweep.renders)
    if sweep.retries:
        bus.publish(topology.APPLY, sweep.retries)


def _audit(req: AuditRequest, _message_id: str) -> None:
    outcome = auditing.audit(req)
    if outcome.apply is not None:
        bus.publish(topology.APPLY, [outcome.apply])
    if outcome.event is not None:
        bus.publish_events(topology.NOTIFICATIONS, [outcome.event])


@functions_framework.cloud_event
def audit(cloud_event: Any) -> None:
    topic = events.source_topic(cloud_event, topology.AUDIT)
    events.handle(cloud_event, {SweepRequest: _sweep, AuditRequest: _audit}, topic)
