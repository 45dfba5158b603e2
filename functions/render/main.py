"""Manifest rendering (Pub/Sub): fetch the commit, render, store, request the apply."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.adapters import bus
from shared.core import topology
from shared.core.messages import RenderRequest
from shared.steps import events
from shared.steps import render as rendering


def _render(req: RenderRequest, _message_id: str) -> None:
    rendered = rendering.render(req)
    if rendered.apply is not None:
        bus.publish(topology.APPLY, [rendered.apply])
    if rendered.event is not None:
        bus.publish_events(topology.NOTIFICATIONS, [rendered.event])


@functions_framework.cloud_event
def render(cloud_event: Any) -> None:
    events.handle(cloud_event, {RenderRequest: _render}, topology.RENDER)
