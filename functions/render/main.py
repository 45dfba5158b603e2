"""Manifest rendering (Pub/Sub): fetch the commit, render, store, request the apply."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import bus, events, rendering, topology
from shared.messages import RenderRequest


def _render(req: RenderRequest, _message_id: str) -> None:
    apply_request = rendering.render(req)
    if apply_request is not None:
        bus.publish(topology.APPLY, [apply_request])


@functions_framework.cloud_event
def render(cloud_event: Any) -> None:
    events.handle(cloud_event, {RenderRequest: _render}, topology.RENDER)
