"""What the API refuses in a request body before it reaches an operation: nesting too deep,
unknown keys in a spec's sub-objects (each named), a pin reason too long."""

from __future__ import annotations

import pytest

from shared.api.http import MAX_DEPTH, ApiError, Request
from shared.core.model import AppSpec, SpecError


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (b'{"a": 1}', True),
        (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', True),  # brackets in a string
        (b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', True),  # after an escaped quote
        (b'{"a": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}", True),
        (b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", False),
        (b'{"a": ' + b"[" * 100_000 + b"}", False),  # was a RecursionError (500)
        (b"[" * 100_000, False),
    ],
)
def test_a_body_nesting_too_deep_is_a_400(body, ok):
    request = Request("POST", "/api/v1/applications", body=body)
    if ok:
        assert isinstance(request.json(), dict)
        return
    with pytest.raises(ApiError) as err:
        request.json()
    assert err.value.status == 400 and "nests deeper" in err.value.message


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (
            {"ignoreDifferences": [{"kind": "ConfigMap", "jsonPointers": ["/data"], "zz": 1}]},
            "ignoreDifferences[0].zz",
        ),
        ({"refSources": [{"ref": "v", "repoURL": "git@h:v", "zz": 1}]}, "refSources[0].zz"),
        ({"source": {"helm": {"zz": 1}}}, "source.helm.zz"),
    ],
)
def test_unknown_keys_in_a_spec_sub_object_are_refused_naming_the_field(extra, field):
    doc = {"repoURL": "git@h:r", **extra}
    if "refSources" in extra:
        doc.update(repoURL="https://charts.example.com", chart="c", targetRevision="1.0.0")
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        AppSpec.from_doc("a", doc).validate()


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"host": "api.example.com"}, True),  # the CLI, curl: no Origin
        ({"host": "api.example.com", "origin": "https://api.example.com"}, True),
        ({"host": "api.example.com", "origin": "https://evil.example"}, False),
        ({"host": "api.example.com", "origin": "null"}, False),
        ({"host": "api.example.com", "sec-fetch-site": "cross-site"}, False),
        ({"host": "api.example.com", "sec-fetch-site": "same-site"}, False),
        (
            {"host": "api.example.com", "sec-fetch-site": "same-origin", "origin": "https://api.example.com"},
            True,
        ),
    ],
)
def test_sign_in_posts_only_from_this_site(headers, ok):
    from shared.api import server

    assert server._same_origin(Request("POST", "/login", headers=headers)) is ok


def test_every_answer_carries_the_security_headers_and_a_page_keeps_its_own_policy():
    from shared.api.http import SECURITY_HEADERS, Response, error_response, secured

    answer = secured(error_response(401, "no"))
    assert {k: answer.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
    page = secured(Response(200, b"", "text/html", {"Content-Security-Policy": "default-src 'self'"}))
    assert page.headers["Content-Security-Policy"] == "default-src 'self'"
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("cloud", "traceparent", "expected"),
    [
        ("105445aa7843bc8bf206b12000100000/1;o=1", "", "105445aa7843bc8bf206b12000100000"),
        ("105445aa7843bc8bf206b12000100000", "", "105445aa7843bc8bf206b12000100000"),
        ("", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("<script>/1", "", None),
        ("x" * 5000, "", None),
        ("105445aa7843bc8bf206b12000100000\nforged log line", "", None),
        ("", "00-../../etc-00f067aa0ba902b7-01", None),
    ],
)
def test_a_trace_header_is_used_only_in_its_own_format(cloud, traceparent, expected):
    from shared.api import server

    assert server.trace_id(cloud, traceparent) == expected
