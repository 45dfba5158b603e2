"""Poison messages published through the real Pub/Sub emulator to the served functions.

Each lands on its topic's dead-letter topic with the reason (an operator alerts on it),
is logged at ERROR, and the functions go on serving: a good push still syncs afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.adapters import bus
from shared.core import messages, topology
from shared.core import webhook as github
from shared.core.messages import ApplyRequest, AuditRequest, RenderRequest
from tests.integration import manifests
from tests.integration.conftest import Observer, create_app, function_log, wait_history, webhook

pytestmark = pytest.mark.adversarial


class DeadLetters:
    """Everything that reached the dead-letter topics, by the original message id."""

    def __init__(self) -> None:
        self.observers = {
            t: Observer(topology.dead_letter_of(t))
            for t in (topology.RENDER, topology.APPLY, topology.AUDIT, topology.SWEEP)
        }
        self.seen: dict[str, tuple[str, dict[str, str]]] = {}

    def wait(self, message_id: str, timeout: float = 20) -> tuple[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while message_id not in self.seen and time.monotonic() < deadline:
            for topic, observer in self.observers.items():
                for _, attrs in observer.drain_raw(0.1):
                    self.seen[attrs.get("messageId", "")] = (topic, attrs)
        assert message_id in self.seen, f"message {message_id} never reached a dead-letter topic"
        return self.seen[message_id]

    def close(self) -> None:
        for observer in self.observers.values():
            observer.close()


@pytest.fixture(scope="module")
def dead(stack: Any) -> Iterator[DeadLetters]:
    letters = DeadLetters()
    yield letters
    letters.close()


@pytest.fixture(scope="module")
def known(stack: Any) -> Iterator[dict[str, str]]:
    """An application that exists, synced once (for messages naming what it does not have)."""
    from shared.cli import main
    from stack.gitrepo import WorkRepo

    uid = uuid.uuid4().hex[:6]
    repo = WorkRepo(stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"dana/msgs-{uid}")
    sha = repo.commit_and_push("one", {"app/cm.yaml": manifests.configmap()})
    app = f"msgs-{uid}"
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
    )
    yield {"app": app, "sha": sha, "ref": "refs/heads/main"}
    main.main(["app", "delete", app])


def _render(k: dict[str, str], **over: Any) -> bytes:
    body = json.loads(
        messages.encode(
            RenderRequest(app=k["app"], commit=k["sha"], ref=k["ref"], initiator="webhook", operation="op")
        )
    )
    return json.dumps({**body, **over}).encode()


def _apply(k: dict[str, str], **over: Any) -> bytes:
    body = json.loads(
        messages.encode(
            ApplyRequest(app=k["app"], revision="nope-00000000", initiator="webhook", operation="op")
        )
    )
    return json.dumps({**body, **over}).encode()


# (id, topic, body maker, dead-letter reason prefix)
POISON: list[tuple[str, str, Callable[[dict[str, str]], bytes], str]] = [
    ("render-not-json", topology.RENDER, lambda k: b"\x00\xffnot json", "message is not JSON"),
    ("render-json-array", topology.RENDER, lambda k: b"[]", "message is not a JSON object"),
    ("render-schema-2", topology.RENDER, lambda k: _render(k, schema=2), "schema: expected 1, got 2"),
    ("render-no-schema", topology.RENDER, lambda k: _render(k, schema=None), "schema: expected 1, got None"),
    ("render-wrong-kind", topology.RENDER, lambda k: _apply(k), "kind: expected render, got 'apply'"),
    (
        "render-missing-commit",
        topology.RENDER,
        lambda k: json.dumps({x: y for x, y in json.loads(_render(k)).items() if x != "commit"}).encode(),
        "render message:",
    ),
    (
        "render-commit-number",
        topology.RENDER,
        lambda k: _render(k, commit=42),
        "commit: expected a string, got int",
    ),
    (
        "render-bad-initiator",
        topology.RENDER,
        lambda k: _render(k, initiator="root"),
        "initiator: 'root' is not one of",
    ),
    (
        "render-unknown-app",
        topology.RENDER,
        lambda k: _render(k, app="nobody-" + k["app"]),
        "application 'nobody-",
    ),
    (
        "render-missing-commit-sha",
        topology.RENDER,
        lambda k: _render(k, commit="f" * 40),
        f"commit {'f' * 40} is not reachable",
    ),
    (
        "apply-unknown-revision",
        topology.APPLY,
        lambda k: _apply(k),
        "revision 'nope-00000000' of application",
    ),
    (
        "apply-unknown-app",
        topology.APPLY,
        lambda k: _apply(k, app="nobody-" + k["app"]),
        "application 'nobody-",
    ),
    ("apply-prune-string", topology.APPLY, lambda k: _apply(k, prune="yes"), "prune: expected a boolean"),
    ("apply-schema-0", topology.APPLY, lambda k: _apply(k, schema=0), "schema: expected 1, got 0"),
    ("audit-not-json", topology.AUDIT, lambda k: b"{", "message is not JSON"),
    (
        "audit-unknown-app",
        topology.AUDIT,
        lambda k: messages.encode(AuditRequest(app="nobody-" + k["app"], operation="op")),
        "application 'nobody-",
    ),
    ("sweep-garbage", topology.SWEEP, lambda k: b"run the sweep please", "message is not JSON"),
    (
        "sweep-render-kind",
        topology.SWEEP,
        lambda k: _render(k),
        "kind: expected sweep or audit or audits, got 'render'",
    ),
    (
        "audits-bad-entry",
        topology.AUDIT,
        lambda k: json.dumps({"schema": 1, "kind": "audits", "audits": [{"app": k["app"]}]}).encode(),
        "audits[0]: audit message",
    ),
]


@pytest.mark.parametrize("topic, make, reason", [p[1:] for p in POISON], ids=[p[0] for p in POISON])
def test_poison_message_reaches_the_dead_letter_topic_with_its_reason(
    stack, dead, known, topic, make, reason
):
    message_id = bus.publish_raw(topic, make(known))
    where, attrs = dead.wait(message_id)
    assert where == topic and attrs["sourceTopic"] == topic
    assert attrs["reason"].startswith(reason) or reason in attrs["reason"], attrs["reason"]
    function = next(s.function for s in topology.SUBSCRIPTIONS if s.topic == topic)
    log = [
        json.loads(line)
        for line in function_log(stack, function).splitlines()
        if message_id in line and line.startswith("{")
    ]
    assert any(e["severity"] == "ERROR" and e["message"].startswith("poison message") for e in log)


def test_functions_still_serve_after_the_poison(stack, secret, uid, repo, namespace):
    app = f"after-poison-{uid}"
    create_app(app, repo, namespace)
    sha = repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert wait_history(app, 1)["phase"] == "Succeeded"
