"""Secret values never go to Firestore: redacted to digests, restored from Git and checked."""

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
