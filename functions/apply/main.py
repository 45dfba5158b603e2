"""Cluster apply (Pub/Sub): apply one stored revision and record it in history."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.adapters import bus
from shared.core import topology
from shared.core.messages import ApplyRequest
from shared.steps import apply as applying
from shared.steps import events


def _apply(req: ApplyRequest, _message_id: str) -> None:
    outcome = applying.apply(req)
    if outcome.renders:
        bus.publish(topology.RENDER, outcome.renders)
    if outcome.retries:
        bus.publish(topology.APPLY, outcome.retries)
    if outcome.event is not None:
        bus.publish_events(topology.NOTIFICATIONS, [outcome.event])


@functions_framework.cloud_event
def apply(cloud_event: Any) -> None:
    events.handle(cloud_event, {ApplyRequest: _apply}, topology.APPLY)
