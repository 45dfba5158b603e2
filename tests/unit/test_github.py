"""Webhook signatures (with GitHub's documented test vector) and push parsing."""

import json

import pytest

from shared.core import webhook

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_sign_matches_githubs_test_vector():
    assert webhook.sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_vector_under_any_configured_secret():
    webhook.verify_signature([b"old-secret", VECTOR_SECRET], VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    "header", [None, "", "sha1=abc", "sha256=", VECTOR_SIGNATURE[:-1] + "0", VECTOR_SIGNATURE.upper()]
)
def test_verify_refuses_missing_or_wrong_signatures_with_401(header):
    with pytest.raises(webhook.WebhookError) as err:
        webhook.verify_signature([VECTOR_SECRET], VECTOR_BODY, header)
    assert err.value.status == 401


def test_verify_refuses_when_no_secret_is_configured():
    with pytest.raises(webhook.WebhookError) as err:
        webhook.verify_signature([], VECTOR_BODY, VECTOR_SIGNATURE)
    assert err.value.status == 500


def test_parse_push_reads_repo_urls_ref_and_commit():
    body = webhook.push_payload(
        "http://127.0.0.1:1/r.git", "refs/heads/main", webhook.ZERO_SHA, "a" * 40, "msg"
    )
    push = webhook.parse_push(body)
    assert push.ref == "refs/heads/main"
    assert push.after == "a" * 40
    assert "http://127.0.0.1:1/r.git" in push.repo_urls
    assert push.default_branch == "main"
    assert not push.deleted


def test_parse_push_marks_branch_deletion():
    body = webhook.push_payload("http://h/r.git", "refs/heads/x", "a" * 40, webhook.ZERO_SHA)
    assert webhook.parse_push(body).deleted


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"ref": "x"}).encode(),
        json.dumps({"ref": "r", "after": "a", "repository": {}}).encode(),
    ],
)
def test_parse_push_refuses_malformed_payloads_with_400(body):
    with pytest.raises(webhook.WebhookError) as err:
        webhook.parse_push(body)
    assert err.value.status == 400
