"""Application names as Argo CD allows them: dots (its app of apps example names children
`example.guestbook`) and more than a label's 63 characters, through Firestore, Pub/Sub and
the cluster: synced, labelled, pruned."""

from __future__ import annotations

import pytest

from shared.core import names
from shared.platform import config
from tests.integration.conftest import create_app, kubectl, kubectl_json, push, wait_for, wait_history

pytestmark = pytest.mark.integration

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\ndata: {{k: v}}\n"


def test_a_long_dotted_name_syncs_labels_and_prunes(stack, secret, uid, repo, namespace):
    app = f"example.guestbook.{uid}." + "x" * 60  # longer than a label value
    assert len(app) > 63
    create_app(app, repo, namespace)
    push(stack, secret, repo, "two", {"app/a.yaml": CM.format("a"), "app/b.yaml": CM.format("b")})
    entry = wait_history(app, 1, timeout=60)
    assert entry["phase"] == "Succeeded", [r.get("message") for r in entry.get("resources") or []]
    label = kubectl_json("get", "configmap", "a", "-n", namespace)["metadata"]["labels"][config.LABEL_APP]
    assert label == names.label_value(app) and len(label) <= 63
    push(stack, secret, repo, "one", {"app/b.yaml": None})
    assert wait_history(app, 2, timeout=60)["phase"] == "Succeeded"
    wait_for(
        lambda: "configmap/b" not in kubectl("get", "configmap", "-n", namespace, "-o", "name").split(),
        "b pruned",
    )
