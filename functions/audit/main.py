"""Drift audit (Pub/Sub): a sweep fans out per-application audits; an audit may self-heal."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import auditing, bus, events, topology
from shared.messages import AuditRequest, SweepRequest


def _sweep(req: SweepRequest, message_id: str) -> None:
    bus.publish(topology.AUDIT, auditing.fan_out(req, req.operation or f"sweep-{message_id}"))


def _audit(req: AuditRequest, _message_id: str) -> None:
    outcome = auditing.audit(req)
    if outcome.heal is not None:
        bus.publish(topology.APPLY, [outcome.heal])


@functions_framework.cloud_event
def audit(cloud_event: Any) -> None:
    topic = events.source_topic(cloud_event, topology.AUDIT)
    events.handle(cloud_event, {SweepRequest: _sweep, AuditRequest: _audit}, topic)
