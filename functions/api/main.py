"""The API (HTTP): people's one way to change state, and the web pages.

Thin: Flask's request becomes shared.api's, and the answer a Flask response. Everything else
(token verification, RBAC, audit, the endpoints) is in shared/api.
"""

from __future__ import annotations

import flask
import functions_framework

from shared.api import http, server


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    # the size is checked before anything is read: the declared length, then (chunked) a read
    # capped at one byte over the limit
    too_big = flask.Response(
        b'{"error": "the body is over 8 MiB"}',
        status=413,
        content_type="application/json",
        headers=http.SECURITY_HEADERS,
    )
    if (request.content_length or 0) > http.MAX_BODY_BYTES:
        return too_big
    chunks, size = [], 0
    while size <= http.MAX_BODY_BYTES:
        chunk = request.stream.read(min(1 << 20, http.MAX_BODY_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > http.MAX_BODY_BYTES:
        return too_big
    body = b"".join(chunks)
    answer = server.handle(
        http.Request(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.args.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            cookies=dict(request.cookies),
            body=body,
        )
    )
    return flask.Response(
        answer.body, status=answer.status, content_type=answer.content_type, headers=dict(answer.headers)
    )
