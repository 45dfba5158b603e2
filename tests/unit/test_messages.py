"""Message encoding and the poison-message rules."""

import base64
import json
import re

import pytest

from shared.core import messages
from shared.core.messages import (
    ApplyRequest,
    AuditBatch,
    AuditRequest,
    BadMessage,
    RenderRequest,
    SweepRequest,
)


def test_round_trip_of_every_kind():
    for msg in (
        RenderRequest("a", "c" * 40, "refs/heads/main", "webhook", "op"),
        ApplyRequest("a", "rev", "rollback", "op", "cli:me"),
        SweepRequest(("a", "b"), "op"),
        AuditRequest("a", "op"),
        AuditBatch((AuditRequest("a", "op:a", "c" * 40, "refs/heads/main"), AuditRequest("b", "op:b")), "op"),
    ):
        assert messages.decode(messages.encode(msg), type(msg)) == msg


def test_a_sweeps_audits_travel_in_batches():
    audits = [AuditRequest(f"a{i}", f"op:a{i}") for i in range(120)]
    out = messages.batches(audits, "op", size=50)
    assert [len(b.audits) for b in out] == [50, 50, 20]
    assert [a for b in out for a in b.audits] == audits
    assert messages.batches([], "op") == []
    # and of about max_objects objects: a big application travels alone
    sizes = [10, 10, 5000, 10, 990, 1]
    out = messages.batches(audits[:6], "op", sizes, max_objects=1000)
    assert [[a.app for a in b.audits] for b in out] == [["a0", "a1"], ["a2"], ["a3", "a4"], ["a5"]]


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"audits": "a"}, "audits: expected a list"),
        ({"audits": [1]}, "audits[0]: expected an object"),
        ({"audits": [{"app": "a"}]}, "audits[0]: audit message"),
        ({"audits": [{"app": "a", "operation": 2}]}, "audits[0]: operation: expected a string"),
        ({"audits": [], "operation": 3}, "operation: expected a string"),
    ],
)
def test_a_bad_audit_batch_is_poison(body, reason):
    raw = json.dumps({"schema": 1, "kind": "audits", **body}).encode()
    with pytest.raises(BadMessage, match=re.escape(reason)):
        messages.decode(raw, AuditBatch)


def test_decode_picks_the_kind_among_several():
    raw = messages.encode(AuditRequest("a", "op"))
    assert isinstance(messages.decode(raw, SweepRequest, AuditRequest), AuditRequest)


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (json.dumps({"schema": 2, "kind": "apply"}).encode(), "schema"),
        (json.dumps({"schema": 1, "kind": "render"}).encode(), "kind"),
        (json.dumps({"schema": 1, "kind": "apply", "app": "a"}).encode(), "apply message"),
        (
            json.dumps(
                {
                    "schema": 1,
                    "kind": "apply",
                    "app": 1,
                    "revision": "r",
                    "initiator": "webhook",
                    "operation": "o",
                }
            ).encode(),
            "app: expected a string",
        ),
        (
            json.dumps(
                {
                    "schema": 1,
                    "kind": "apply",
                    "app": "a",
                    "revision": "r",
                    "initiator": "martian",
                    "operation": "o",
                }
            ).encode(),
            "initiator",
        ),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw, reason):
    with pytest.raises(BadMessage, match=reason):
        messages.decode(raw, ApplyRequest)


def test_cloud_event_data_is_unwrapped():
    data = {"message": {"data": base64.b64encode(b"x").decode(), "attributes": {"k": "v"}}}
    assert messages.from_cloud_event_data(data) == (b"x", {"k": "v"})
