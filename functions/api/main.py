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
    body = request.get_data(cache=False)
    if (request.content_length or 0) > http.MAX_BODY_BYTES or len(body) > http.MAX_BODY_BYTES:
        return flask.Response(
            b'{"error": "the body is over 8 MiB"}', status=413, content_type="application/json"
        )
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
