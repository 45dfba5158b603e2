"""A monorepo with several applications: a push concerns only the applications whose path,
watched paths or render inputs it touched. The sweep finds it by a tree diff between the
synced commit and the head (no render): the others record the head as seen, with no render
and no history entry, and read Synced at it (as Argo CD shows the new revision)."""

from __future__ import annotations

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl_json, sweep, wait_for, wait_history, webhook

pytestmark = pytest.mark.integration


def greeting(namespace: str, name: str) -> str:
    return kubectl_json("get", "configmap", name, "-n", namespace)["data"]["greeting"]


def test_a_sweep_after_a_one_app_push_renders_only_that_app(stack, secret, uid, repo, namespace):
    a, b, c = (f"mono-{x}-{uid}" for x in "abc")
    create_app(a, repo, namespace, path="apps/a")
    create_app(b, repo, namespace, path="apps/b")
    create_app(c, repo, namespace, path="apps/c")  # a kustomize overlay of bases/c
    assert main.main(["app", "set", a, "--watch-path", "shared"]) == 0
    first = repo.commit_and_push(
        "three applications",
        {
            "apps/a/cm.yaml": manifests.configmap(name="a"),
            "apps/b/cm.yaml": manifests.configmap(name="b"),
            "apps/c/kustomization.yaml": "resources: [../../bases/c]\n",
            "bases/c/kustomization.yaml": "resources: [cm.yaml]\n",
            "bases/c/cm.yaml": manifests.configmap(name="c"),
            "shared/README.md": "shared by a\n",
        },
    )
    status, _ = webhook(
        stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, first)
    )
    assert status == 200
    for app in (a, b, c):
        assert wait_history(app, 1, timeout=90)["commit"] == first
    assert store.get_app(c).status["render"]["reads"] == ["bases/c"]

    # a push for b alone, whose webhook never came: the sweep renders b, and only b
    only_b = repo.commit_and_push("b only", {"apps/b/cm.yaml": manifests.configmap(name="b", greeting="b2")})
    sweep(a, b, c)
    assert wait_history(b, 2, timeout=90)["commit"] == only_b
    wait_for(lambda: greeting(namespace, "b") == "b2", "b's new greeting")
    for app in (a, c):
        status_ = store.get_app(app).status
        assert status_["historyCount"] == 1, app
        assert status_["render"]["commit"] == first, app  # never rendered again
        assert status_["sync"]["seen"]["commit"] == only_b and status_["sync"]["seen"]["base"] == first
    # their audits compare with the head: Synced at it, the synced revision being its render
    sweep(a, c)
    for app in (a, c):
        sync_state = store.get_app(app).status["sync"]
        assert (sync_state["status"], sync_state["target"]["commit"]) == ("Synced", only_b), app
        assert sync_state["commit"] == first
    # a sweep again finds nothing to do for anyone
    sweep(a, b, c)
    assert [store.get_app(x).status["historyCount"] for x in (a, b, c)] == [1, 2, 1]

    # a watched path (a's) and a base outside the path its last render read (c's)
    both = repo.commit_and_push(
        "shared and a base",
        {"shared/README.md": "changed\n", "bases/c/cm.yaml": manifests.configmap(name="c", greeting="c2")},
    )
    sweep(a, b, c)
    assert wait_history(a, 2, timeout=90)["commit"] == both
    assert wait_history(c, 2, timeout=90)["commit"] == both
    wait_for(lambda: greeting(namespace, "c") == "c2", "c's new greeting")
    b_status = store.get_app(b).status
    assert b_status["historyCount"] == 2 and b_status["render"]["commit"] == only_b
    assert b_status["sync"]["seen"]["commit"] == both
