"""The REST endpoints, on Argo CD's paths where one fits (`/api/v1/applications/...`).

Each endpoint checks what it needs with `call.require(resource, action, object)` before it
does anything, then calls one operation of shared/steps/operations (the one implementation,
whatever the caller). A list answers only what the caller may get. The endpoints of each
resource are in their own module and register themselves in shared/api/routing.py.
"""

from __future__ import annotations

from shared.api import apps, routing, session, settings

MODULES = (apps, session, settings)
dispatch = routing.dispatch
