"""Message encoding and the poison-message rules."""

import base64
import json

import pytest

from shared.core import messages
from shared.core.messages import ApplyRequest, AuditRequest, BadMessage, RenderRequest, SweepRequest


def test_round_trip_of_every_kind():
    for msg in (
        RenderRequest("a", "c" * 40, "refs/heads/main", "webhook", "op"),
        ApplyRequest("a", "rev", "rollback", "op", "cli:me"),
        SweepRequest(("a", "b"), "op"),
        AuditRequest("a", "op"),
    ):
        assert messages.decode(messages.encode(msg), type(msg)) == msg


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
