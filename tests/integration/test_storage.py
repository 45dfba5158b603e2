"""Rendered revisions bigger than Firestore's 1 MiB document limit: compressed, split, read back exactly."""

from __future__ import annotations

import secrets as random

import pytest

from shared.adapters import store
from shared.core import webhook as github
from tests.integration.conftest import create_app, kubectl, wait_history, webhook

pytestmark = pytest.mark.integration


def configmaps(count: int, size: int) -> str:
    """`count` ConfigMaps of `size` random hex characters each (hardly compressible)."""
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blob-{i:04d}\n"
        f"data:\n  blob: {random.token_hex(size // 2)}\n"
        for i in range(count)
    ]
    return "---\n".join(docs)


def test_big_revision_is_split_compressed_and_synced(stack, secret, uid, repo, namespace):
    app = f"big-{uid}"
    create_app(app, repo, namespace)
    body = configmaps(300, 8000)  # ~2.4 MB of YAML: > 1 MiB even compressed
    sha = repo.commit_and_push("big", {"app/blobs.yaml": body})
    payload = github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha)
    assert webhook(stack, secret, payload)[0] == 200
    entry = wait_history(app, 1, timeout=90)
    assert entry["phase"] == "Succeeded"

    ref = (
        store.client()
        .collection(store.APPS)
        .document(app)
        .collection("revisions")
        .document(entry["revision"])
    )
    head = ref.get().to_dict()
    assert head["packed"]["parts"] >= 2 and head["packed"]["bytes"] > 2_000_000
    assert head["manifests"].startswith("(compressed:")
    revision = store.get_revision(app, entry["revision"])
    assert "packed" not in revision and len(revision["objects"]) == 300
    assert "blob-0299" in revision["manifests"]
    live = kubectl("get", "configmap", "blob-0123", "-n", namespace, "-o", "jsonpath={.data.blob}")
    assert live in revision["manifests"] and live in body


def test_round_trip_is_exact_and_parts_go_with_the_revision(stack, uid, repo):
    from shared.core.model import AppSpec

    app = f"packed-{uid}"
    store.put_app(AppSpec(name=app, repoURL=repo.url), create=True)
    manifests = configmaps(200, 7000)
    doc = {
        "commit": "a" * 40,
        "manifests": manifests,
        "objects": [f"v1/ConfigMap/x/{i}" for i in range(200)],
        "findings": [{"file": "f.yaml", "line": 1, "column": 1, "field": "", "message": "é ✓"}],
        "renderedAt": store.now(),
    }
    store.put_revision(app, "r1", doc)
    store.put_revision(
        app, "small", {"commit": "b" * 40, "manifests": "kind: ConfigMap\n", "renderedAt": store.now()}
    )
    back = store.get_revision(app, "r1")
    assert back["manifests"] == manifests and back["objects"] == doc["objects"]
    assert back["findings"] == doc["findings"]
    assert store.get_revision(app, "small")["manifests"] == "kind: ConfigMap\n"  # small ones stay readable

    # a revision whose parts are missing is reported, never returned half
    parts = (
        store.client()
        .collection(store.APPS)
        .document(app)
        .collection("revisions")
        .document("r1")
        .collection("parts")
    )
    list(parts.list_documents())[-1].delete()
    with pytest.raises(store.NotFound, match="incomplete"):
        store.get_revision(app, "r1")

    store.delete_app(app)
    assert not list(parts.list_documents())
