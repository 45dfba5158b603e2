"""Helm charts from where teams keep them: a chart repository over HTTP (public, and behind
basic auth with the credential registered), a version range resolved, a dependency from the
repository, and a rollback that re-applies the recorded chart after the repository moved on."""

from __future__ import annotations

import json

import pytest
import yaml

from shared.adapters import store
from shared.cli import main
from shared.core import webhook as github
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl_json,
    push,
    register_credential,
    run_cli,
    sweep,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def chart(name: str, version: str, greeting: str, deps: str = "") -> dict[str, str]:
    return {
        "Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n{deps}",
        "values.yaml": f"greeting: {greeting}\n",
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: {{{{ .Release.Name }}}}-{name}\ndata:\n  greeting: {{{{ .Values.greeting }}}}\n"
        f"  version: {version}\n",
    }


def create(app: str, repo_url: str, name: str, version: str, namespace: str, *extra: str) -> None:
    args = ["app", "create", app, "--repo", repo_url, "--helm-chart", name, "--revision", version]
    assert main.main([*args, "--dest-namespace", namespace, *extra]) == 0


def sync(app: str) -> None:
    assert main.main(["app", "sync", app, "--wait", "--timeout", "90"]) == 0


def test_a_chart_from_a_repository_resolves_a_range_and_rolls_back_to_its_recorded_bytes(
    stack, chart_repo, uid, namespace
):
    name = f"web{uid}"
    chart_repo.publish(name, chart(name, "1.0.0", "one"))
    chart_repo.publish(name, chart(name, "1.1.0", "one-one"))
    chart_repo.publish(name, chart(name, "2.0.0", "two"))  # outside the range
    app = f"chart.{uid}"
    create(
        app,
        chart_repo.url(),
        name,
        "~1.0 || ^1.1",
        namespace,
        "--source",
        "{helm: {parameters: [{name: extra, value: x}]}}",
    )
    sync(app)
    cm = kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)
    assert cm["data"] == {"greeting": "one-one", "version": "1.1.0"}
    first = wait_history(app, 1)
    revision = store.get_revision(app, first["revision"])
    assert revision["chart"]["version"] == "1.1.0" and len(revision["chart"]["digest"]) == 64
    assert revision["source"] == "helm" and revision["ref"] == f"chart:{name}@1.1.0"

    chart_repo.publish(name, chart(name, "1.2.0", "one-two"))  # the repository moves on
    sync(app)
    assert kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)["data"]["version"] == "1.2.0"

    assert main.main(["app", "rollback", app, "1", "--wait"]) == 0
    cm = kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)
    assert cm["data"] == {"greeting": "one-one", "version": "1.1.0"}  # the recorded chart, not 1.2.0


def test_a_chart_behind_basic_auth_and_one_with_a_dependency_from_the_repository(
    stack, chart_repo, uid, namespace
):
    lib = f"lib{uid}"
    chart_repo.publish(lib, chart(lib, "0.3.0", "from-lib"))
    top = f"top{uid}"
    deps = f"dependencies:\n- {{name: {lib}, version: '^0.3.0', repository: '{chart_repo.url()}'}}\n"
    chart_repo.publish(top, chart(top, "1.0.0", "top", deps), private=True)

    app = f"private.{uid}"
    main.main(["repo", "remove", chart_repo.url("private")])  # a reused stack may have it
    create(app, chart_repo.url("private"), top, "1.0.0", namespace)
    sync_code = main.main(["app", "sync", app, "--wait", "--timeout", "60"])
    assert sync_code != 0  # no credential: the render fails and says why
    render = store.get_app(app).status["render"]
    assert "HTTP 401" in render["message"] and "gitops repo add" in render["message"]

    register_credential(chart_repo.url("private"), chart_repo.username, chart_repo.password)
    sync(app)
    names = {
        kubectl_json("get", "configmap", f"{app}-{n}", "-n", namespace)["data"]["greeting"]
        for n in (top, lib)
    }
    assert names == {"top", "from-lib"}
    assert chart_repo.password not in str(store.get_app(app).status)


def test_a_chart_from_an_oci_registry(stack, chart_repo, oci_registry, uid, namespace, tmp_path):
    name = f"oci{uid}"
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        oci_registry.push(chart_repo.package(name, chart(name, version, f"v{version}"), tmp_path))
    app = f"oci.{uid}"
    create(app, oci_registry.url(), name, "^1", namespace)
    sync(app)
    cm = kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)
    assert cm["data"] == {"greeting": "v1.1.0", "version": "1.1.0"}
    revision = store.get_revision(app, wait_history(app, 1)["revision"])
    assert revision["chart"]["version"] == "1.1.0" and revision["chart"]["repoURL"] == oci_registry.url()


def test_a_multi_source_application_takes_its_values_from_git_and_follows_a_push_to_them(
    stack, secret, chart_repo, repo, uid, namespace, tmp_path
):
    name = f"ms{uid}"
    chart_repo.publish(name, chart(name, "1.0.0", "from-chart"))
    heads = [repo.commit_and_push("values", {"envs/prod/values.yaml": "greeting: from-git\n"})]
    app = f"multi.{uid}"
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": app},
                "spec": {
                    "sources": [
                        {
                            "repoURL": chart_repo.url(),
                            "chart": name,
                            "targetRevision": "1.0.0",
                            "helm": {"valueFiles": ["$values/envs/prod/values.yaml"]},
                        },
                        {"repoURL": repo.url, "targetRevision": "main", "ref": "values"},
                    ],
                    "destination": {"namespace": namespace},
                    "syncPolicy": {"automated": {}},
                },
            }
        )
    )
    assert main.main(["app", "create", "-f", str(manifest)]) == 0
    sync(app)
    cm = kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)
    assert cm["data"]["greeting"] == "from-git"
    revision = store.get_revision(app, wait_history(app, 1)["revision"])
    assert set(revision["refCommits"]) == {"values"} and len(revision["refCommits"]["values"]) == 40

    # a push to another folder of the values repository does not concern it; one to its
    # value files' folder is routed to it by intake, rendered and auto-synced
    def push_listing(message: str, path: str, text: str) -> tuple[str, dict]:
        sha = repo.commit_and_push(message, {path: text})
        changed = {"added": [], "modified": [path], "removed": []}
        body = github.push_payload(repo.url, "refs/heads/main", heads[-1], sha, changed=changed)
        heads.append(sha)
        status, answer = webhook(stack, secret, body)
        assert status == 200, answer
        return sha, answer

    _, answer = push_listing("elsewhere", "docs/README.md", "values live in envs/\n")
    assert app not in answer["apps"] and "no change under envs/prod" in answer["skipped"][app]
    sha, answer = push_listing("new greeting", "envs/prod/values.yaml", "greeting: pushed\n")
    assert answer["apps"] == [app]
    entry = wait_history(app, 2, timeout=60)
    assert entry["phase"] == "Succeeded" and entry["initiator"] == "webhook", entry["summary"]
    assert kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)["data"]["greeting"] == "pushed"
    assert store.get_revision(app, entry["revision"])["refCommits"] == {"values": sha}
    assert history_count(app) == 2


def test_an_app_of_apps_registers_and_renders_a_chart_child(stack, secret, chart_repo, repo, uid, namespace):
    name = f"kid{uid}"
    chart_repo.publish(name, chart(name, "0.1.0", "child"))
    child = f"example.{name}"
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": child},
        "spec": {
            "source": {"repoURL": chart_repo.url(), "chart": name, "targetRevision": "0.1.x"},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {}},
        },
    }
    parent = f"parent-{uid}"
    create_app(parent, repo, namespace, path="apps")
    push(stack, secret, repo, "children", {"apps/child.yaml": yaml.safe_dump(manifest)})
    assert wait_history(parent, 1, timeout=60)["phase"] == "Succeeded"
    wait_for(lambda: store.get_app(child).status.get("render"), f"a render of {child}", 60)
    assert store.get_app(child).status["render"].get("errors") == [], store.get_app(child).status
    assert wait_history(child, 1, timeout=60)["phase"] == "Succeeded"
    assert kubectl_json("get", "configmap", f"{child}-{name}", "-n", namespace)["data"]["greeting"] == "child"


def test_the_stack_serves_a_chart_repository_and_an_oci_registry(stack, chart_repo, oci_registry):
    import base64
    import urllib.error
    import urllib.request

    assert {"chart-repo", "oci-registry"} <= {p.name for p in stack.procs}
    assert all(stack.proc(n).alive() for n in ("chart-repo", "oci-registry"))

    def status(url: str, headers: dict[str, str] | None = None) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    basic = base64.b64encode(f"{chart_repo.username}:{chart_repo.password}".encode()).decode()
    assert status(chart_repo.url() + "/index.yaml") == 200
    assert status(chart_repo.url("private") + "/index.yaml") == 401
    assert status(chart_repo.url("private") + "/index.yaml", {"Authorization": f"Basic {basic}"}) == 200
    registry = oci_registry.url().replace("oci://", "http://").rsplit("/", 1)[0]
    assert status(registry + "/v2/") == 200


def test_an_automated_chart_app_follows_its_range_when_the_sweep_finds_a_newer_version(
    stack, chart_repo, uid, namespace
):
    name = f"follow{uid}"
    chart_repo.publish(name, chart(name, "1.0.0", "one"))
    app = f"follow.{uid}"
    create(app, chart_repo.url(), name, ">=1.0 <2", namespace, "--sync-policy", "automated")
    sync(app)
    assert kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)["data"]["version"] == "1.0.0"
    sweep(app)  # nothing new: no render, no sync
    assert history_count(app) == 1

    chart_repo.publish(name, chart(name, "1.2.0", "one-two"))
    chart_repo.publish(name, chart(name, "2.0.0", "two"))  # outside the range
    sweep(app)  # resolves the range again (Argo CD on refresh), renders 1.2.0, auto-syncs it
    entry = wait_history(app, 2, timeout=60)
    assert entry["phase"] == "Succeeded" and entry["initiator"] == "sweep", entry["summary"]
    cm = kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)
    assert cm["data"] == {"greeting": "one-two", "version": "1.2.0"}
    assert store.get_revision(app, entry["revision"])["chart"]["version"] == "1.2.0"
    sweep(app)
    assert history_count(app) == 2  # followed once


def test_a_chart_app_previews_with_dry_run_and_takes_value_files_from_the_chart(
    stack, chart_repo, uid, namespace
):
    name = f"vf{uid}"
    files = chart(name, "1.0.0", "default") | {"values-prod.yaml": "greeting: prod\n"}
    chart_repo.publish(name, files)
    app = f"vf.{uid}"
    create(
        app,
        chart_repo.url(),
        name,
        "1.0.0",
        namespace,
        "--source",
        "{helm: {valueFiles: [values-prod.yaml]}}",
    )

    code, out = run_cli("app", "sync", app, "--dry-run")
    assert code == 0, out
    assert f"{app}-{name}" in out and "created" in out
    assert history_count(app) == 0  # nothing applied
    code, out = run_cli("-o", "json", "app", "sync", app, "--dry-run")
    assert code == 0 and json.loads(out)["dryRun"] is True and json.loads(out)["commit"] == f"{name}@1.0.0"

    sync(app)
    assert kubectl_json("get", "configmap", f"{app}-{name}", "-n", namespace)["data"]["greeting"] == "prod"
    code, out = run_cli("app", "sync", app, "--dry-run")
    assert code == 0 and "unchanged" in out

    missing = f"vfmissing.{uid}"
    create(
        missing,
        chart_repo.url(),
        name,
        "1.0.0",
        namespace,
        "--source",
        "{helm: {valueFiles: [values-qa.yaml]}}",
    )
    assert main.main(["app", "sync", missing, "--wait", "--timeout", "60"]) != 0
    message = store.get_app(missing).status["render"]["message"]
    assert "source.helm.valueFiles[0]" in message and "values-qa.yaml" in message, message
