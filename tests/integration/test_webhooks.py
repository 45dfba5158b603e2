"""Webhook intake hardened for the real GitHub, monorepos, private repositories, notifications."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from pathlib import Path

import pytest

from shared.adapters import store
from shared.cli import main
from shared.core import topology
from shared.core import webhook as github
from shared.core.model import AppSpec
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    function_log,
    kubectl_json,
    post,
    private_repo,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def signed_post(url, secret, body, event="push", content_type="application/json", **headers):
    return post(
        url,
        body,
        {
            "Content-Type": content_type,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github.sign(secret, body),
            **headers,
        },
    )


def test_secret_rotation_form_bodies_content_types_and_size_limit(stack, serve_function):
    url = serve_function(
        "intake", GITHUB_WEBHOOK_SECRET="old-secret, new-secret", GITOPS_MAX_WEBHOOK_BYTES="2048"
    )
    ping = b'{"zen": "Speak like a human.", "hook_id": 42}'
    for secret in (b"old-secret", b"new-secret"):
        assert signed_post(url, secret, ping, event="ping") == (200, {"result": "pong", "hook_id": 42})
    assert signed_post(url, b"other", ping, event="ping")[0] == 401
    form = urllib.parse.urlencode({"payload": ping.decode()}).encode()
    assert (
        signed_post(url, b"new-secret", form, event="ping", content_type="application/x-www-form-urlencoded")[
            1
        ]["hook_id"]
        == 42
    )
    assert signed_post(url, b"new-secret", ping, event="ping", content_type="text/plain")[0] == 415
    big = b'{"pad": "' + b"x" * 4096 + b'"}'
    status, body = signed_post(url, b"new-secret", big, event="ping")
    assert status == 413 and "limit" in body["error"]
    bad_form = b"nothing=here"
    form_type = "application/x-www-form-urlencoded"
    assert signed_post(url, b"new-secret", bad_form, content_type=form_type)[0] == 400


def test_url_forms_and_tags_match_the_same_application(stack, secret, uid, repo, namespace, observe):
    app = f"forms-{uid}"
    from shared.cli import main as gitops

    # the same repository without .git and with a trailing slash (GitHub answers both)
    assert (
        gitops.main(
            [
                "app",
                "create",
                app,
                "--repo",
                repo.url.removesuffix(".git") + "/",
                "--path",
                "app",
                "--revision",
                "v1.0",
                "--dest-namespace",
                namespace,
            ]
        )
        == 0
    )
    sha = repo.commit_and_push("tag me", {"app/cm.yaml": manifests.configmap()})
    seen = observe(topology.RENDER)
    zero = github.ZERO_SHA
    status, body = webhook(stack, secret, github.push_payload(repo.url, "refs/tags/v1.0", zero, sha))
    assert (status, body["apps"]) == (200, [app])
    status, body = webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", zero, sha))
    assert body["apps"] == [] and app in body["skipped"]
    assert [m["app"] for m in seen.drain()] == [app]


def test_monorepo_push_renders_only_the_apps_whose_paths_changed(stack, secret, uid, repo, observe):
    names = [f"mono{i:02d}-{uid}" for i in range(20)]
    for i, name in enumerate(names):
        assert (
            main.main(
                [
                    "app",
                    "create",
                    name,
                    "--repo",
                    repo.url,
                    "--path",
                    f"apps/app{i:02d}",
                    "--revision",
                    "main",
                    "--dest-namespace",
                    "default",
                ]
            )
            == 0
        )
    shared_app = f"uses-base-{uid}"
    store.put_app(
        AppSpec(
            name=shared_app, repoURL=repo.url, path="apps/other", targetRevision="main", watchPaths=("base",)
        )
    )
    files = {f"apps/app{i:02d}/cm.yaml": manifests.configmap(f"c{i}") for i in range(20)}
    first = repo.commit_and_push(
        "all", {**files, "base/x.yaml": "# shared\n", "apps/other/cm.yaml": manifests.configmap("o")}
    )
    seen = observe(topology.RENDER)
    second = repo.commit_and_push("one", {"apps/app07/cm.yaml": manifests.configmap("c7", "changed")})
    body = github.push_payload(
        repo.url,
        "refs/heads/main",
        first,
        second,
        "one",
        changed={"added": [], "modified": ["apps/app07/cm.yaml"], "removed": []},
    )
    status, answer = webhook(stack, secret, body)
    assert (status, answer["apps"]) == (200, [names[7]])
    assert "no change under apps/app03" in answer["skipped"][names[3]]
    assert [m["app"] for m in seen.drain()] == [names[7]]
    third = repo.commit_and_push("base", {"base/x.yaml": "# shared, changed\n"})
    body = github.push_payload(
        repo.url,
        "refs/heads/main",
        second,
        third,
        "base",
        changed={"added": [], "modified": ["base/x.yaml"], "removed": []},
    )
    assert webhook(stack, secret, body)[1]["apps"] == [shared_app]
    # a payload without file lists (GitHub truncated it): every app on the branch renders
    body = github.push_payload(repo.url, "refs/heads/main", second, third, "base")
    assert len(webhook(stack, secret, body)[1]["apps"]) == 21
    log_line = next(
        json.loads(line)
        for line in function_log(stack, "intake").splitlines()
        if '"push handled"' in line and names[7] in line
    )
    assert log_line["delivery"] and log_line["matched"] == [names[7]] and names[3] in log_line["skipped"]


def test_private_repository_over_basic_auth_keeps_the_credential_secret(stack, secret, uid, namespace):
    # without a credential the render fails and the push is retried, so it is registered first
    repo, _, password = private_repo(stack, f"repo-{uid}")
    sha = repo.commit_and_push("private", {"app/cm.yaml": manifests.configmap("private-cm")})
    app = f"private-{uid}"
    create_app(app, repo, namespace)
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert wait_history(app, 1)["phase"] == "Succeeded"
    assert kubectl_json("get", "configmap", "private-cm", "-n", namespace)["data"]["greeting"] == "hello"
    everything = json.dumps(
        [
            store.get_app(app).spec.to_doc(),
            store.get_app(app).status,
            store.history(app),
            store.get_revision(app, store.history(app)[0]["revision"]),
        ],
        default=str,
    )
    assert password not in everything
    for name in ("intake", "render", "apply", "audit"):
        assert password not in function_log(stack, name)
    assert main.main(["-o", "json", "app", "get", app]) == 0


def test_commit_statuses_and_notification_events(stack, secret, uid, repo, namespace, observe):
    events = observe(topology.NOTIFICATIONS)
    app = f"notify-{uid}"
    create_app(app, repo, namespace, self_heal=True)
    sha = repo.commit_and_push("notify", {"app/cm.yaml": manifests.configmap()})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    wait_history(app, 1)

    def statuses():
        record = Path(stack.env["GITOPS_GITHUB_API_RECORD"])
        lines = record.read_text().splitlines() if record.exists() else []
        return [json.loads(line) for line in lines if sha in line]

    got = wait_for(lambda: (s := statuses()) and len(s) >= 2 and s, "two commit statuses")
    path = f"/repos/dana/repo-{uid}/statuses/{sha}"
    assert [(r["path"], r["body"]["state"]) for r in got] == [(path, "pending"), (path, "success")]
    assert got[1]["body"]["context"] == f"gitops/{app}" and got[0]["authorization"].startswith("Bearer ")
    from tests.integration.conftest import kubectl

    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"x"}}')
    assert main.main(["sweep", app, "--wait", "--timeout", "30"]) == 0
    wait_history(app, 2)
    # this app's events (other apps' renders may fail meanwhile: those are events too)
    seen: list[dict] = []
    received = wait_for(
        lambda: (seen.extend(m for m in events.drain(0.5) if m["app"] == app) or len(seen) >= 3) and seen,
        "events",
        20,
    )
    kinds = [(e["type"], e["app"]) for e in received]
    assert kinds[:3] == [("sync", app), ("drift", app), ("sync", app)]
    drift_event = received[1]
    assert drift_event["objects"][0]["fields"] == ["data.greeting"] and drift_event["schema"] == 1
    assert received[2]["initiator"] == "self-heal"
