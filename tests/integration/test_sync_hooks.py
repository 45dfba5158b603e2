"""Sync hooks on live pods (Argo CD's "Resource Hooks"): the real Job controller runs the hook
Jobs' pods on the simulated nodes, which succeed, or fail when the image says `fail`.

- pre-post-sync: the PreSync Job (only a generateName) runs and is deleted (HookSucceeded)
  before the application is applied, the PostSync Job after it is Healthy; hooks are not in the
  inventory and never drift; a second sync runs the BeforeHookCreation hook again;
- a failed PreSync hook stops the sync before anything is applied, and SyncFail runs;
- helm-hooks: Helm's hooks mapped (pre-install -> PreSync by weight, post-install -> PostSync,
  hook-succeeded), the test hook never applied; `gitops app get` and `history` show them.
"""

from __future__ import annotations

import pytest

from shared.adapters import kube, store
from tests.integration.conftest import (
    create_app,
    example_files,
    push,
    run_cli,
    sweep,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.integration
TIMEOUT = 90


def job(namespace: str, name: str) -> dict | None:
    return kube.cluster().get("batch/v1", "Job", namespace, name)


def by_phase(entry: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for h in entry.get("hooks") or []:
        out.setdefault(h["phase"], []).append(h)
    return out


def test_pre_and_post_sync_hooks_run_in_order_and_are_deleted_per_policy(stack, secret, uid, repo, namespace):
    app = f"hooks-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "pre-post-sync", example_files("pre-post-sync"))
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    hooks = by_phase(entry)
    assert [h["phase"] for h in entry["hooks"]] == ["PreSync", "PostSync"]  # SyncFail did not run
    (pre,), (post,) = hooks["PreSync"], hooks["PostSync"]
    assert (
        pre["name"].startswith("upgrade-sql-schema-") and len(pre["name"]) == len("upgrade-sql-schema-") + 10
    )
    assert (pre["status"], pre.get("deleted")) == ("Succeeded", True)  # HookSucceeded
    assert (post["name"], post["status"], post.get("deleted")) == ("smoke-test", "Succeeded", None)
    assert "hooks: 2 Succeeded" in entry["summary"]

    # PreSync ran and was deleted before the Sync phase; PostSync after the Deployment was Healthy
    wait_for(lambda: job(namespace, pre["name"]) is None, "the PreSync Job deleted")
    smoke = job(namespace, "smoke-test")
    assert smoke and any(c["type"] == "Complete" for c in smoke["status"]["conditions"])
    deployment = kube.cluster().get("apps/v1", "Deployment", namespace, "guestbook-ui")
    assert deployment["status"].get("availableReplicas") == 1
    assert smoke["metadata"]["creationTimestamp"] >= deployment["metadata"]["creationTimestamp"]
    assert "gitops.dev/app" not in smoke["metadata"]["labels"]  # a hook is not owned

    # not in the inventory, and no drift from hooks
    owned = {e["name"] for e in store.inventory(app, store.get_app(app).status)}
    assert owned == {"guestbook-config", "guestbook-ui"}
    sweep(app)
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and not (status.get("drift") or {}).get("ids")

    # a second sync runs the BeforeHookCreation hook again (a new Job), and a new PreSync name
    first_uid = smoke["metadata"]["uid"]
    files = example_files("pre-post-sync")
    files["app/guestbook-ui.yaml"] = files["app/guestbook-ui.yaml"].replace("greeting: hello", "greeting: hi")
    push(stack, secret, repo, "change the greeting", files)
    second = wait_history(app, 2, TIMEOUT)
    assert second["phase"] == "Succeeded", second["summary"]
    assert by_phase(second)["PreSync"][0]["name"] != pre["name"]
    again = job(namespace, "smoke-test")
    assert again and again["metadata"]["uid"] != first_uid

    code, out = run_cli("app", "history", app)
    assert code == 0 and "hooks: 2 Succeeded" in out
    code, out = run_cli("app", "get", app)
    assert code == 0 and "smoke-test  PostSync  Succeeded" in out


def test_a_failed_presync_hook_stops_the_sync_and_runs_sync_fail(stack, secret, uid, repo, namespace):
    app = f"hookfail-{uid}"
    create_app(app, repo, namespace)
    files = example_files("pre-post-sync")
    files["app/upgrade-sql-schema.yaml"] = files["app/upgrade-sql-schema.yaml"].replace(
        "migrate:1.0", "migrate:1.0-fail"
    )
    push(stack, secret, repo, "a migration that fails", files)
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Failed"
    hooks = by_phase(entry)
    assert hooks["PreSync"][0]["status"] == "Failed"
    assert not hooks["PreSync"][0].get("deleted")  # HookSucceeded only: the failed Job is kept
    assert job(namespace, hooks["PreSync"][0]["name"]) is not None
    assert [h["status"] for h in hooks["PostSync"]] == ["Skipped"]
    assert [(h["name"], h["status"], h.get("deleted")) for h in hooks["SyncFail"]] == [
        ("sync-fail-cleanup", "Succeeded", True)
    ]
    # nothing of the application was applied
    assert {r["action"] for r in entry["resources"]} == {"skipped"}
    assert kube.cluster().get("apps/v1", "Deployment", namespace, "guestbook-ui") is None
    assert "PreSync Job/upgrade-sql-schema-" in entry["summary"]


def test_helm_hooks_are_mapped_as_argo_cd_maps_them(stack, secret, uid, repo, namespace):
    app = f"helmhooks-{uid}"
    create_app(app, repo, namespace)
    push(stack, secret, repo, "helm-hooks", example_files("helm-hooks"))
    entry = wait_history(app, 1, TIMEOUT)
    assert entry["phase"] == "Succeeded", entry["summary"]
    release = app
    assert [(h["phase"], h["name"], h["status"], h.get("deleted")) for h in entry["hooks"]] == [
        ("PreSync", f"{release}-backup", "Succeeded", True),  # weight 0, then
        ("PreSync", f"{release}-migrate", "Succeeded", True),  # weight 1; hook-succeeded
        ("PostSync", f"{release}-notify", "Succeeded", None),
    ]
    assert job(namespace, f"{release}-notify") is not None
    # the test hook is never applied, and no hook is owned
    assert kube.cluster().get("v1", "Pod", namespace, f"{release}-test") is None
    assert {e["name"] for e in store.inventory(app, store.get_app(app).status)} == {f"{release}-web"}
