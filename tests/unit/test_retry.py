"""syncPolicy.retry: the model (Argo CD's shape and defaults), its import from an Argo CD
Application, and the policy that answers "retry now? when next?" (shared/core/policy.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.core import argocd, policy
from shared.core.model import AppSpec, Retry, SpecError, SyncPolicy, seconds
from shared.core.status import Initiator

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def after(s: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=s)


@pytest.mark.parametrize(
    ("text", "value"),
    [("5s", 5.0), ("3m", 180.0), ("1h30m", 5400.0), ("1m5s", 65.0), ("10", 10.0), ("0s", 0.0)],
)
def test_durations_as_argo_cd_writes_them(text, value):
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["", "5x", "m", "-5s", "1.5s"])
def test_bad_durations_are_refused(text):
    with pytest.raises(SpecError):
        seconds(text)


@pytest.mark.parametrize(
    ("retry", "made", "wait_s"),
    [
        (Retry(), 0, 5),  # Argo CD's defaults: 5s, factor 2, at most 3m
        (Retry(), 1, 10),
        (Retry(), 2, 20),
        (Retry(), 5, 160),
        (Retry(), 6, 180),  # 320 capped at maxDuration
        (Retry(duration="1m", factor=3, maxDuration="5m"), 1, 180),
        (Retry(duration="1m", factor=3, maxDuration="5m"), 2, 300),
        (Retry(duration="2s", factor=1), 4, 2),  # factor 1: a constant delay
    ],
)
def test_backoff(retry, made, wait_s):
    assert policy.backoff(retry, made) == dt.timedelta(seconds=wait_s)


@pytest.mark.parametrize(
    ("retry", "attempt", "next_in_s"),
    [
        (None, 1, "none"),  # not configured: no record at all
        (Retry(limit=0), 1, "none"),  # limit 0: no retries (Argo CD)
        (Retry(limit=2), 1, 5),  # attempt 1 failed: retry 1 after 5s
        (Retry(limit=2), 2, 10),  # retry 1 failed: retry 2 after 10s
        (Retry(limit=2), 3, None),  # retry 2 failed: gave up
        (Retry(limit=-1), 30, 180),  # below 0: without end, at most maxDuration apart
        (Retry(limit=1, duration="1s"), 1, 1),
    ],
)
def test_retry_after_failure(retry, attempt, next_in_s):
    state = policy.retry_after_failure(
        retry,
        attempt=attempt,
        revision="r-b",
        commit="b" * 40,
        initiator=Initiator.WEBHOOK,
        operation="op-1:retry-1" if attempt > 1 else "op-1",
        now=NOW,
        previous={"revision": "r-b", "operation": "op-1", "attempt": attempt - 1} if attempt > 1 else None,
    )
    if next_in_s == "none":
        assert state is None
        return
    assert state is not None
    assert (state["attempt"], state["operation"], state["revision"]) == (attempt, "op-1", "r-b")
    assert state["nextAt"] == (after(next_in_s) if next_in_s is not None else None)
    assert ("gave up" in state["message"]) is (next_in_s is None)


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (None, False),
        ({}, False),
        ({"nextAt": None}, False),  # gave up
        ({"nextAt": after(1)}, False),
        ({"nextAt": NOW}, True),
        ({"nextAt": after(-30)}, True),
    ],
)
def test_retry_due(state, due):
    assert policy.retry_due(state, NOW) is due


@pytest.mark.parametrize(
    ("status", "revision", "attempt"),
    [
        ({}, "r-b", 1),
        ({"retry": None}, "r-b", 1),
        ({"retry": {"revision": "r-b", "attempt": 1}}, "r-b", 2),
        ({"retry": {"revision": "r-b", "attempt": 3}}, "r-b", 4),
        ({"retry": {"revision": "r-a", "attempt": 3}}, "r-b", 1),  # another revision starts again
    ],
)
def test_attempt_of(status, revision, attempt):
    assert policy.attempt_of(status, revision) == attempt


def test_each_attempt_has_its_own_operation():
    assert policy.retry_operation({"operation": "op-1", "attempt": 1}) == "op-1:retry-1"
    assert policy.retry_operation({"operation": "op-1", "attempt": 2}) == "op-1:retry-2"


def test_the_model_keeps_argo_cds_shape():
    spec = AppSpec("a", "https://git.example/r", syncPolicy=SyncPolicy(retry=Retry(limit=3, duration="10s")))
    doc = spec.validate().to_doc()
    assert doc["syncPolicy"]["retry"] == {
        "limit": 3,
        "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"},
    }
    assert AppSpec.from_doc("a", doc) == spec
    assert AppSpec.from_doc("a", {"repoURL": "https://git.example/r"}).syncPolicy.retry is None


@pytest.mark.parametrize(
    ("retry", "field"), [(Retry(duration="soon"), "duration"), (Retry(maxDuration="x"), "maxDuration")]
)
def test_bad_retries_are_refused(retry, field):
    with pytest.raises(SpecError, match=field):
        AppSpec("a", "https://git.example/r", syncPolicy=SyncPolicy(retry=retry)).validate()


def test_argo_cd_import_maps_the_retry():
    spec, warnings = argocd.application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "guestbook"},
            "spec": {
                "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps", "path": "guestbook"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                "syncPolicy": {
                    "automated": {},
                    "retry": {
                        "limit": 5,
                        "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m", "jitter": 0.1},
                        "refresh": True,
                    },
                },
            },
        }
    )
    assert spec.syncPolicy.retry == Retry(limit=5, duration="5s", factor=2, maxDuration="3m")
    assert warnings == [
        "spec.syncPolicy.retry.refresh: not supported (ignored)",
        "spec.syncPolicy.retry.backoff.jitter: not supported (ignored)",
    ]


def test_the_first_operation_is_kept_whatever_the_names():
    """An application called retry-x: its operations contain ':retry-' from the start."""
    kept = policy.retry_after_failure(
        Retry(limit=2),
        attempt=2,
        revision="r-b",
        commit="b" * 40,
        initiator=Initiator.WEBHOOK,
        operation="delivery:retry-x:retry-1",
        now=NOW,
        previous={"revision": "r-b", "operation": "delivery:retry-x", "attempt": 1},
    )
    assert kept is not None and kept["operation"] == "delivery:retry-x"
    fresh = policy.retry_after_failure(
        Retry(limit=2),
        attempt=1,
        revision="r-c",
        commit="c" * 40,
        initiator=Initiator.WEBHOOK,
        operation="delivery2:retry-x",
        now=NOW,
        previous={"revision": "r-b", "operation": "delivery:retry-x", "attempt": 2},
    )
    assert fresh is not None and fresh["operation"] == "delivery2:retry-x"


@pytest.mark.parametrize(
    ("next_in_s", "inline"),
    [
        (5, True),  # Argo CD's default first backoff: the failed apply publishes it itself
        (60, True),
        (61, False),  # longer: the sweep publishes it when due
        (-10, True),  # already due
        (None, False),  # gave up
    ],
)
def test_retry_inline(next_in_s, inline):
    state = {"nextAt": None if next_in_s is None else after(next_in_s)}
    assert policy.retry_inline(state, NOW) is inline


@pytest.mark.parametrize(
    ("not_before", "wait"),
    [
        ("", 0.0),
        (after(5).isoformat(), 5.0),
        (after(-5).isoformat(), 0.0),  # late: no wait
        (after(3600).isoformat(), 60.0),  # a clock far off never holds it past a minute
        ("2024-05-01T12:00:07", 7.0),  # no zone: UTC
        ("soon", 0.0),
    ],
)
def test_wait_before_a_retry(not_before, wait):
    assert policy.wait_s(not_before, NOW) == wait


def test_a_retry_request_carries_when_it_is_due():
    state = {
        "revision": "r1",
        "initiator": Initiator.WEBHOOK,
        "operation": "op",
        "attempt": 2,
        "nextAt": after(10),
    }
    req = policy.retry_request("app", state, "retry 2 after op", now=NOW)
    assert (req.operation, req.revision, req.initiator, req.not_before) == (
        "op:retry-2",
        "r1",
        Initiator.WEBHOOK,
        after(10).isoformat(),
    )
    assert policy.retry_request("app", state, "sweep", now=after(11)).not_before == ""
