"""The served intake function with real signed GitHub-shaped payloads and the Pub/Sub emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.adapters import store
from shared.core import topology
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import create_app, wait_for, webhook

pytestmark = pytest.mark.integration


@pytest.fixture
def pushed(repo):
    sha = repo.commit_and_push("first", {"app/cm.yaml": manifests.configmap()})
    return sha, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha, "first")


def test_ping_is_answered_and_publishes_nothing(stack, secret, observe):
    seen = observe(topology.RENDER)
    status, body = webhook(stack, secret, b'{"zen": "Keep it simple.", "hook_id": 1}', event="ping")
    assert (status, body["result"]) == (200, "pong")
    assert seen.drain(0.5) == []


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "sha1=abc"])
def test_missing_or_bad_signature_is_401_and_publishes_nothing(
    stack, uid, repo, namespace, pushed, observe, signature
):
    create_app(f"sig-{uid}", repo, namespace, automated=False)
    seen = observe(topology.RENDER)
    status, _ = webhook(stack, None, pushed[1], signature=signature)
    assert status == 401
    assert seen.drain(0.5) == []


def test_push_renders_only_apps_on_that_repo_and_branch(stack, secret, uid, repo, namespace, pushed, observe):
    create_app(f"main-{uid}", repo, namespace, automated=False)
    create_app(f"dev-{uid}", repo, namespace, automated=False, revision="dev")
    seen = observe(topology.RENDER)
    status, body = webhook(stack, secret, pushed[1], delivery=f"d-{uid}")
    assert status == 200
    assert body["apps"] == [f"main-{uid}"]
    assert f"dev-{uid}" in body["skipped"]
    messages = seen.drain()
    assert [(m["app"], m["commit"], m["initiator"]) for m in messages] == [
        (f"main-{uid}", pushed[0], "webhook")
    ]
    # the render function stored the revision; a manual app is now OutOfSync, not applied
    app = wait_for(lambda: (a := store.get_app(f"main-{uid}")).status.get("render") and a, "render status")
    assert app.status["render"]["commit"] == pushed[0]
    assert app.status["sync"]["status"] == "OutOfSync"
    assert int(app.status.get("historyCount", 0)) == 0


def test_redelivery_of_the_same_delivery_id_publishes_nothing(
    stack, secret, uid, repo, namespace, pushed, observe
):
    create_app(f"dup-{uid}", repo, namespace, automated=False)
    seen = observe(topology.RENDER)
    assert webhook(stack, secret, pushed[1], delivery=f"dup-{uid}")[1]["result"] == "accepted"
    status, body = webhook(stack, secret, pushed[1], delivery=f"dup-{uid}")
    assert (status, body["result"]) == (200, "duplicate")
    assert len(seen.drain()) == 1


def test_a_burst_with_redeliveries_among_it_publishes_each_delivery_once(
    stack, secret, uid, repo, namespace, pushed, observe
):
    """Concurrent requests share their Firestore commits and Publish requests (shared/adapters/coalesce.py):
    each still gets its own answer, and a redelivery racing its original is a duplicate."""
    create_app(f"burst-{uid}", repo, namespace, automated=False)
    seen = observe(topology.RENDER)
    deliveries = [f"burst-{uid}-{i}" for i in range(24)] + [f"burst-{uid}-{i}" for i in range(0, 24, 3)]
    with ThreadPoolExecutor(len(deliveries)) as pool:
        answers = list(pool.map(lambda d: webhook(stack, secret, pushed[1], delivery=d), deliveries))
    assert all(status == 200 for status, _ in answers)
    results = [body["result"] for _, body in answers]
    assert results.count("accepted") == 24 and results.count("duplicate") == 8
    operations = [m["operation"] for m in seen.drain(2)]
    assert sorted(operations) == sorted(f"burst-{uid}-{i}:burst-{uid}" for i in range(24))


def test_creates_committed_together_answer_each_for_itself(stack, uid):
    """One atomic commit of several creates; when one exists, each is tried alone."""
    hot = store.hot()
    name = lambda i: store.delivery_ref(f"together-{uid}-{i}")._document_path  # noqa: E731
    assert store.record_delivery(f"together-{uid}-1")
    when = {"expireAt": store.now()}
    items = [(name(0), when), (name(1), when), (name(2), when), (name(0), when)]
    assert hot._create_all(items, 10) == [True, False, True, False]
    assert hot._create_all([(name(3), when), (name(4), when)], 10) == [True, True]
    assert not store.record_delivery(f"together-{uid}-4")
    # an id that is no plain document id is kept under its hash, not refused
    assert store.record_delivery(f"odd/{uid}/id") and not store.record_delivery(f"odd/{uid}/id")


def test_other_events_and_branch_deletions_publish_nothing(stack, secret, uid, repo, namespace, observe):
    create_app(f"del-{uid}", repo, namespace, automated=False)
    seen = observe(topology.RENDER)
    status, body = webhook(stack, secret, b'{"action": "opened"}', event="pull_request")
    assert (status, body["result"]) == (202, "ignored")
    deletion = github.push_payload(repo.url, "refs/heads/main", "a" * 40, github.ZERO_SHA)
    status, body = webhook(stack, secret, deletion)
    assert status == 200 and body["apps"] == []
    assert seen.drain(0.5) == []


def test_malformed_push_is_400(stack, secret):
    assert webhook(stack, secret, b"{not json")[0] == 400
