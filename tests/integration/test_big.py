"""Big applications within every Firestore limit (issue 23).

One automated application of 5,000 ConfigMaps, one push: every object applied, the sync
recorded once (before, the application document passed 1 MiB with its inventory, the
write was refused as if retryable and Pub/Sub redelivered the apply again and again).
The emulator does not enforce Firestore's limits, so the test checks every document the
sync wrote against them (shared/docsize.py).
"""

from __future__ import annotations

import time

from shared import docsize, store
from tests.integration import manifests
from tests.integration.conftest import create_app, function_log, history_count, kubectl, wait_history
from tests.integration.test_pipeline import push


def configmaps(count: int) -> str:
    return "---\n".join(manifests.configmap(f"cm-{i:05d}") for i in range(count))


def _documents(app: str) -> list[tuple[str, dict]]:
    """Every document under applications/{app}, with its path relative to the database."""
    out = []
    ref = store.client().collection(store.APPS).document(app)

    def walk(doc_ref) -> None:
        snap = doc_ref.get()
        if snap.exists:
            out.append((doc_ref.path, snap.to_dict() or {}))
        for sub in doc_ref.collections():
            for child in sub.list_documents():
                walk(child)

    walk(ref)
    return out


def test_5000_configmaps_one_push_ends_synced_with_one_history_entry(stack, secret, uid, repo, namespace):
    app = f"huge-{uid}"
    create_app(app, repo, namespace)
    sha = push(stack, secret, repo, "5,000 configmaps", {"app/cms.yaml": configmaps(5000)})
    entry = wait_history(app, 1, timeout=900)
    assert (entry["commit"], entry["phase"]) == (sha, "Succeeded"), entry["summary"]
    assert entry["counts"] == {"created": 5000}
    assert len(entry["resources"]) == 5000  # read back from the entry's parts
    assert "resources" not in store.history(app)[0]  # the entry itself keeps summary and counts
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and status["operation"]["phase"] == "Succeeded"
    assert status["inventory"]["count"] == 5000 and status["inventory"]["parts"] >= 2
    assert len(store.inventory(app, status)) == 5000
    listed = kubectl("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}", "-o", "name")
    assert len(listed.split()) == 5000
    # every document is one Firestore would store
    documents = _documents(app)
    assert len(documents) >= 6  # the app, its revision, history entry, inventory and results parts
    for path, data in documents:
        assert docsize.problems(path, data) == [], path
    # applied and recorded once; no redelivery follows
    summaries = [
        line
        for line in function_log(stack, "apply").splitlines()
        if f'"app":"{app}"' in line and '"message":"sync 1 of' in line
    ]
    assert len(summaries) == 1
    handled = function_log(stack, "apply").count(f'"app":"{app}"')
    time.sleep(5)
    assert function_log(stack, "apply").count(f'"app":"{app}"') == handled
    assert history_count(app) == 1
