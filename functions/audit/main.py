"""Drift audit (Pub/Sub): a sweep fans out batches of audits; an audit may self-heal."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.adapters import bus
from shared.core import topology
from shared.core.messages import AuditBatch, AuditRequest, SweepRequest
from shared.steps import audit as auditing
from shared.steps import events


def _sweep(req: SweepRequest, message_id: str) -> None:
    operation = req.operation or f"sweep-{message_id}"
    sweep = auditing.fan_out(req, operation)
    bus.publish(topology.AUDIT, sweep.audits, order_by_app=False)
    if sweep.renders:
        bus.publish(topology.RENDER, sweep.renders)
    if sweep.retries:
        bus.publish(topology.APPLY, sweep.retries)


def _publish(outcomes: list[auditing.AuditOutcome]) -> None:
    applies = [o.apply for o in outcomes if o.apply is not None]
    if applies:
        bus.publish(topology.APPLY, applies)
    notes = [o.event for o in outcomes if o.event is not None]
    if notes:
        bus.publish_events(topology.NOTIFICATIONS, notes)


def _audit(req: AuditRequest, _message_id: str) -> None:
    _publish([auditing.audit(req)])


def _audits(req: AuditBatch, _message_id: str) -> None:
    done = auditing.audit_all(req)
    _publish(done.outcomes)
    if done.retries:
        bus.publish(topology.AUDIT, done.retries)


@functions_framework.cloud_event
def audit(cloud_event: Any) -> None:
    topic = events.source_topic(cloud_event, topology.AUDIT)
    events.handle(cloud_event, {SweepRequest: _sweep, AuditRequest: _audit, AuditBatch: _audits}, topic)
