"""Hostile and broken webhook requests against the served intake function.

Each case asserts the exact HTTP answer (what GitHub's delivery log shows the operator),
that nothing reached the render topic unless it should, and that the function still
answers a good request afterwards.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main
from shared.core import topology, webhook
from stack.gitrepo import WorkRepo
from tests.integration import manifests
from tests.integration.conftest import Observer, post

pytestmark = pytest.mark.adversarial


@dataclass
class Target:
    url: str
    secret: bytes
    repo: WorkRepo
    sha: str
    app: str
    seen: Observer


@pytest.fixture(scope="module")
def target(stack: Any) -> Iterator[Target]:
    uid = uuid.uuid4().hex[:6]
    repo = WorkRepo(stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"dana/hooks-{uid}")
    sha = repo.commit_and_push("one", {"app/cm.yaml": manifests.configmap()})
    app = f"hooks-{uid}"
    assert (
        main.main(
            [
                "app",
                "create",
                app,
                "--repo",
                repo.url,
                "--path",
                "app",
                "--revision",
                "main",
                "--dest-namespace",
                "default",
            ]
        )
        == 0
    )  # manual: renders, never applies
    secret = Path(stack.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    seen = Observer(topology.RENDER)
    yield Target(stack.env["GITOPS_INTAKE_URL"], secret, repo, sha, app, seen)
    seen.close()
    main.main(["app", "delete", app])


def send(
    t: Target,
    body: bytes,
    *,
    event: str = "push",
    content_type: str | None = "application/json",
    signature: str | None = "sign",
    delivery: str | None = None,
    secret: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4())}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if signature == "sign":
        headers["X-Hub-Signature-256"] = webhook.sign(secret or t.secret, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return post(t.url, body, headers)


def still_serving(t: Target) -> None:
    """The function answers a good request after the bad one (nothing crashed)."""
    assert send(t, b'{"zen": "ok", "hook_id": 7}', event="ping") == (200, {"result": "pong", "hook_id": 7})


def push_body(t: Target, **changes: Any) -> bytes:
    payload = json.loads(webhook.push_payload(t.repo.url, "refs/heads/main", webhook.ZERO_SHA, t.sha))
    for key, value in changes.items():
        if value is _DROP:
            payload.pop(key)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


_DROP = object()


def _sig(t: Target, body: bytes) -> str:
    return webhook.sign(t.secret, body)


# (case id, how to make the signature header from (target, body); None = header absent)
SIGNATURES = [
    ("missing", lambda t, b: None, "missing or malformed"),
    ("empty", lambda t, b: "", "missing or malformed"),
    ("sha1-prefix", lambda t, b: "sha1=" + _sig(t, b)[7:47], "missing or malformed"),
    ("uppercase-prefix", lambda t, b: "SHA256=" + _sig(t, b)[7:], "missing or malformed"),
    ("no-prefix", lambda t, b: _sig(t, b)[7:], "missing or malformed"),
    ("bad-hex", lambda t, b: "sha256=" + "zz" * 32, "does not match"),
    ("wrong-secret", lambda t, b: webhook.sign(b"not-the-secret", b), "does not match"),
    ("truncated", lambda t, b: _sig(t, b)[:40], "does not match"),
    ("uppercase-hex", lambda t, b: "sha256=" + _sig(t, b)[7:].upper(), "does not match"),
    ("inner-space", lambda t, b: "sha256= " + _sig(t, b)[7:], "does not match"),
    ("two-signatures", lambda t, b: _sig(t, b) + "," + _sig(t, b), "does not match"),
    ("other-body", lambda t, b: webhook.sign(t.secret, b + b" "), "does not match"),
    ("empty-secret", lambda t, b: webhook.sign(b"", b), "does not match"),
]


@pytest.mark.parametrize("make, reason", [s[1:] for s in SIGNATURES], ids=[s[0] for s in SIGNATURES])
def test_bad_signature_is_401_and_publishes_nothing(target, make, reason):
    body = push_body(target)
    header = make(target, body)
    status, answer = send(target, body, signature=header if header is not None else None)
    assert status == 401 and reason in answer["error"]
    assert target.seen.drain(0.2) == []
    still_serving(target)


FORM = "application/x-www-form-urlencoded"
BODIES = [
    # (id, body, content type, event, status, error substring)
    ("text-plain", b"{}", "text/plain", "push", 415, "is not application/json"),
    ("no-content-type", b"{}", None, "push", 415, "is not application/json"),
    ("multipart", b"--x--", "multipart/form-data; boundary=x", "push", 415, "is not application/json"),
    ("xml", b"<push/>", "application/xml", "push", 415, "is not application/json"),
    ("form-without-payload", b"nothing=here", FORM, "push", 400, "no payload field"),
    ("form-unparseable", b"a", FORM, "push", 400, "cannot be parsed"),
    ("form-invalid-utf8", b"payload=\xff\xfe", FORM, "push", 400, "cannot be parsed"),
    ("json-invalid-utf8", b'{"ref": "\xff"}', "application/json", "push", 400, "not JSON"),
    ("json-truncated", b'{"ref": "refs/heads/main", "after":', "application/json", "push", 400, "not JSON"),
    ("json-array", b"[1, 2]", "application/json", "push", 400, "not a JSON object"),
    ("json-null", b"null", "application/json", "push", 400, "not a JSON object"),
    ("json-string", b'"push"', "application/json", "push", 400, "not a JSON object"),
    ("empty-body", b"", "application/json", "push", 400, "not JSON"),
    # JSON in UTF-16 is decoded (json.loads detects it) and then judged like any payload
    (
        "utf16-body",
        '{"ref": "x"}'.encode("utf-16"),
        "application/json",
        "push",
        400,
        "needs repository, ref and after",
    ),
]


@pytest.mark.parametrize(
    "body, content_type, event, status, reason", [b[1:] for b in BODIES], ids=[b[0] for b in BODIES]
)
def test_bad_body_or_content_type_is_refused(target, body, content_type, event, status, reason):
    if content_type is None:  # urllib would add a form content type: send the bytes as they are
        head = (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: {event}\r\n"
            f"X-Hub-Signature-256: {webhook.sign(target.secret, body)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        got, data = _raw_request(target.url, head, body)
        answer = json.loads(data.split(b"\r\n\r\n", 1)[1] or b"{}")
    else:
        got, answer = send(target, body, content_type=content_type, event=event)
    assert got == status and reason in answer["error"]
    assert target.seen.drain(0.2) == []
    still_serving(target)


def _repo(t: Target) -> dict[str, Any]:
    return json.loads(push_body(t))["repository"]


SHAPES = [
    ("no-repository", lambda t: push_body(t, repository=_DROP), "needs repository, ref and after"),
    ("repository-string", lambda t: push_body(t, repository=t.repo.url), "needs repository, ref and after"),
    ("ref-number", lambda t: push_body(t, ref=42), "needs repository, ref and after"),
    ("no-after", lambda t: push_body(t, after=_DROP), "needs repository, ref and after"),
    ("after-not-a-sha", lambda t: push_body(t, after="HEAD"), "is not a commit id"),
    ("after-shell", lambda t: push_body(t, after="$(reboot)" + "a" * 31), "is not a commit id"),
    ("ref-short-name", lambda t: push_body(t, ref="main"), "is not a full ref name"),
    ("repository-without-url", lambda t: push_body(t, repository={"name": "x"}), "has no URL"),
    (
        "repository-urls-wrong-type",
        lambda t: push_body(t, repository={"clone_url": 5, "html_url": []}),
        "has no URL",
    ),
]


@pytest.mark.parametrize("make, reason", [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_malformed_push_payload_is_400(target, make, reason):
    status, answer = send(target, make(target))
    assert status == 400 and reason in answer["error"]
    assert target.seen.drain(0.2) == []
    still_serving(target)


def test_wrong_types_inside_commits_match_every_app_instead_of_crashing(target):
    body = push_body(target, before="1" * 40, commits=[{"added": "app/x.yaml"}, 7, None])
    status, answer = send(target, body)
    assert (status, answer["apps"]) == (200, [target.app])
    assert [m["app"] for m in target.seen.drain(0.5)] == [target.app]


def test_huge_commit_list_is_accepted_and_matches_every_app(target):
    commits = [
        {"id": f"{i:040x}", "added": [f"other/{i}.yaml"], "modified": [], "removed": []}
        for i in range(webhook.MAX_COMMITS + 10)
    ]
    status, answer = send(target, push_body(target, before="1" * 40, commits=commits))
    # GitHub lists at most 2,048 commits: a longer list cannot tell which paths changed
    assert (status, answer["apps"]) == (200, [target.app])
    assert [m["app"] for m in target.seen.drain(0.5)] == [target.app]


@pytest.mark.parametrize("event", ["pull_request", "issues", "PUSH", "", "push\r\nX-Evil: 1"])
def test_other_events_are_ignored_with_202(target, event):
    if "\r" in event:  # a header cannot carry a newline: the client refuses it first
        with pytest.raises(ValueError):
            send(target, b'{"action": "opened"}', event=event)
    else:
        status, answer = send(target, b'{"action": "opened"}', event=event)
        assert (status, answer["result"]) == (202, "ignored")
    assert target.seen.drain(0.2) == []
    still_serving(target)


def test_deleted_branch_publishes_nothing(target):
    body = webhook.push_payload(target.repo.url, "refs/heads/main", target.sha, webhook.ZERO_SHA)
    status, answer = send(target, body)
    assert (status, answer["apps"]) == (200, [])
    assert "refs/heads/main was deleted" in answer["skipped"][target.app]
    assert target.seen.drain(0.2) == []


def test_unregistered_repository_publishes_nothing(target):
    body = webhook.push_payload(
        target.repo.url.replace("hooks-", "nobody-"), "refs/heads/main", webhook.ZERO_SHA, target.sha
    )
    status, answer = send(target, body)
    assert (status, answer["result"], answer["apps"], answer["skipped"]) == (200, "accepted", [], {})
    assert target.seen.drain(0.2) == []


def test_push_to_another_branch_publishes_nothing(target):
    body = webhook.push_payload(target.repo.url, "refs/heads/feature", webhook.ZERO_SHA, target.sha)
    status, answer = send(target, body)
    assert (status, answer["apps"]) == (200, [])
    assert "targets main" in answer["skipped"][target.app]
    assert target.seen.drain(0.2) == []


def test_replayed_delivery_is_published_once(target):
    delivery = str(uuid.uuid4())
    body = push_body(target)
    assert send(target, body, delivery=delivery)[1]["apps"] == [target.app]
    for _ in range(3):
        assert send(target, body, delivery=delivery) == (200, {"result": "duplicate"})
    assert [m["app"] for m in target.seen.drain(0.5)] == [target.app]


def test_replayed_body_with_a_bad_signature_is_still_401(target):
    """A replay needs the secret too: the delivery id alone is worth nothing."""
    delivery = str(uuid.uuid4())
    body = push_body(target)
    assert send(target, body, delivery=delivery, signature="sha256=" + "0" * 64)[0] == 401
    assert send(target, body, delivery=delivery)[1]["apps"] == [target.app]
    assert len(target.seen.drain(0.5)) == 1


def _raw_request(url: str, head: str, body: bytes) -> tuple[int, bytes]:
    host = urllib.parse.urlparse(url)
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.sendall(head.encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            data += chunk
            answer_head, done, answer_body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *(\d+)", answer_head)
            body_done = (
                len(answer_body) >= int(length.group(1)) if length else answer_body.endswith(b"0\r\n\r\n")
            )  # chunked
            if not chunk or (done and body_done and b"Connection: close" not in head.encode()):
                break
        return int(data.split(b" ", 2)[1]), data


def test_oversize_body_is_413_without_reading_it(target):
    """Content-Length says 50 MB; only the headers are sent: the answer comes at once."""
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-Hub-Signature-256: sha256={'0' * 64}\r\nContent-Length: 50000000\r\n\r\n"
    )
    status, data = _raw_request(target.url, head, b"{")
    assert status == 413 and b"over the" in data
    still_serving(target)


def test_oversize_body_under_a_small_limit_is_413(stack, target, serve_function):
    url = serve_function(
        "intake", GITHUB_WEBHOOK_SECRET=target.secret.decode(), GITOPS_MAX_WEBHOOK_BYTES="4096"
    )
    body = push_body(target, pad="x" * 5000)
    status, answer = post(
        url,
        body,
        {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": webhook.sign(target.secret, body),
        },
    )
    assert status == 413 and "4096-byte limit" in answer["error"]
    assert target.seen.drain(0.2) == []
    ping = b'{"hook_id": 1}'
    assert (
        post(
            url,
            ping,
            {
                "Content-Type": "application/json",
                "X-GitHub-Event": "ping",
                "X-Hub-Signature-256": webhook.sign(target.secret, ping),
            },
        )[0]
        == 200
    )


def test_malformed_headers_are_refused(target):
    body = push_body(target)
    sig = webhook.sign(target.secret, body)
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nX-Hub-Signature-256: {sig}\r\n"
        f"Content-Length: not-a-number\r\n\r\n"
    )
    status, _ = _raw_request(target.url, head, body)
    assert status == 400
    assert target.seen.drain(0.2) == []
    still_serving(target)
