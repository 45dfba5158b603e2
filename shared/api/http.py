"""The API's request and response, free of any web framework (functions/api adapts Flask's)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32  # a request body's JSON nesting (deeper: 400, not a RecursionError's 500)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        if _nesting(self.body) > MAX_DEPTH:
            raise ApiError(400, f"the body nests deeper than {MAX_DEPTH} levels")
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"the body is not JSON: {str(exc)[:200]}") from None
        if not isinstance(value, dict):
            raise ApiError(400, "the body must be a JSON object")
        return value


def _nesting(body: bytes) -> int:
    """How deep the brackets of a JSON text nest (outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


# on every answer (JSON, pages, the sign-in page, 401s): no sniffing, no framing, no scripts
# but our own; a page's own Content-Security-Policy (the web UI's) is kept
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "same-origin",  # no-referrer would make a browser send Origin: null
}


def secured(response: Response) -> Response:
    """RESPONSE with the security headers it does not set itself."""
    return Response(
        response.status, response.body, response.content_type, {**SECURITY_HEADERS, **response.headers}
    )


# gRPC codes, as Argo CD's API answers them in "code"
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 412: 9, 500: 13, 503: 14}


class ApiError(Exception):
    """An answer other than success: the status and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data, default=_default).encode(), headers=headers or {})


def error_response(status: int, message: str) -> Response:
    return json_response(status, {"error": message, "message": message, "code": GRPC_CODES.get(status, 2)})


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
