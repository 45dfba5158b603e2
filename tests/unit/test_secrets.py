"""Secret values never go to Firestore: redacted to digests, restored from Git and checked."""

import hashlib

import pytest

from shared.core import secrets

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {"password": "c3VwZXJzZWNyZXQ="},
    "stringData": {"user": "admin"},
}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}


def test_redact_replaces_every_secret_value_and_leaves_other_objects():
    stored, redacted = secrets.redact([SECRET, CONFIG])
    assert redacted
    assert "c3VwZXJzZWNyZXQ=" not in repr(stored) and "admin" not in repr(stored)
    assert stored[0]["data"]["password"].startswith(secrets.PREFIX)
    assert stored[1] is CONFIG
    assert SECRET["data"]["password"] == "c3VwZXJzZWNyZXQ="  # the input is not modified


def test_restore_puts_the_values_back_from_git():
    stored, _ = secrets.redact([SECRET, CONFIG])
    assert secrets.restore(stored, [CONFIG, SECRET]) == [SECRET, CONFIG]


def test_restore_refuses_values_that_changed_or_vanished():
    stored, _ = secrets.redact([SECRET])
    changed = {**SECRET, "data": {"password": "b3RoZXI="}}
    with pytest.raises(secrets.SecretMismatch, match=r"data\.password"):
        secrets.restore(stored, [changed])
    with pytest.raises(secrets.SecretMismatch, match="not in Git"):
        secrets.restore(stored, [])


def test_no_secrets_means_nothing_redacted():
    assert secrets.redact([CONFIG]) == ([CONFIG], False)


def test_masked_shows_each_value_as_the_mask_and_the_start_of_its_digest():
    shown = secrets.masked({**SECRET, "stringData": {"token": "abc"}})
    digest = hashlib.sha256(b"abc").hexdigest()
    assert shown["stringData"] == {"token": f"*** (sha256 {digest[:8]})"}
    assert shown["data"]["password"] == secrets.masked(SECRET)["data"]["password"]  # equal stays equal
    assert "c3VwZXJzZWNyZXQ=" not in str(shown)
    assert SECRET["data"]["password"] == "c3VwZXJzZWNyZXQ="  # the object shown is a copy
    assert secrets.masked(CONFIG) == CONFIG


def test_values_are_held_in_data_and_string_data_of_a_secret_only():
    assert secrets.holds_values("Secret", "data") and secrets.holds_values("Secret", "stringData")
    assert not secrets.holds_values("Secret", "metadata") and not secrets.holds_values("ConfigMap", "data")
