"""The route table: (method, path pattern) -> endpoint, and the dispatch."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shared.api.http import ApiError
from shared.api.server import Call

Endpoint = Callable[..., tuple[int, Any]]
ROUTES: list[tuple[str, re.Pattern[str], Endpoint]] = []
NAME = r"(?P<name>[^/]+)"


def route(method: str, pattern: str) -> Callable[[Endpoint], Endpoint]:
    def register(func: Endpoint) -> Endpoint:
        ROUTES.append((method, re.compile(f"^{pattern}/?$"), func))
        return func

    return register


def dispatch(call: Call) -> tuple[int, Any]:
    methods = []
    for method, pattern, func in ROUTES:
        found = pattern.match(call.request.path)
        if found:
            if method == call.request.method:
                return func(call, **found.groupdict())
            methods.append(method)
    if methods:
        raise ApiError(405, f"{call.request.method} {call.request.path}: use {', '.join(methods)}")
    raise ApiError(404, f"no endpoint {call.request.method} {call.request.path}")
