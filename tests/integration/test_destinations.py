"""Named destination clusters: a kubeconfig context, and an API server registered by URL, CA
and a token read from a secret file; two applications namespaces apart."""

from __future__ import annotations

import json

import pytest
import yaml

from shared.adapters import kube
from shared.core import webhook as github
from shared.core.model import AppSpec, Destination
from shared.sync.engine import Options, apply_all
from shared.sync.prepare import prepare
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl_json, wait_history, webhook

pytestmark = pytest.mark.integration


def test_app_targeting_a_kubeconfig_context_syncs_through_the_functions(stack, secret, uid, repo, namespace):
    from shared.cli import main

    app = f"ctx-{uid}"
    assert (
        main.main(
            [
                "app",
                "create",
                app,
                "--repo",
                repo.url,
                "--path",
                "app",
                "--revision",
                "main",
                "--dest-cluster",
                "local",
                "--dest-namespace",
                namespace,
                "--sync-policy",
                "automated",
            ]
        )
        == 0
    )
    sha = repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert wait_history(app, 1)["phase"] == "Succeeded"
    assert (
        kubectl_json("get", "configmap", "settings", "-n", namespace)["metadata"]["labels"]["gitops.dev/app"]
        == app
    )


def test_registered_api_server_with_a_token_from_a_secret_file(stack, uid, namespace, tmp_path, monkeypatch):
    with open(stack.env["KUBECONFIG"]) as f:
        config = yaml.safe_load(f)
    token_file = tmp_path / "token"
    token_file.write_text(config["users"][0]["user"]["token"])
    cluster = config["clusters"][0]["cluster"]
    name = f"registered-{uid}"
    monkeypatch.setenv(
        "GITOPS_CLUSTERS",
        json.dumps(
            {
                name: {
                    "endpoint": cluster["server"],
                    "caCertificate": cluster["certificate-authority-data"],
                    "tokenFile": str(token_file),
                }
            }
        ),
    )
    remote = kube.cluster(name)
    spec = AppSpec(name=f"reg-{uid}", repoURL="git@h:x", destination=Destination(name, namespace))
    result = apply_all(
        remote, spec, prepare(spec, [yaml.safe_load(manifests.configmap("remote"))], remote), [], Options()
    )
    assert result.counts() == {"created": 1}
    assert kubectl_json("get", "configmap", "remote", "-n", namespace)["data"]["greeting"] == "hello"


def test_two_apps_namespaces_apart_keep_to_their_own_objects(stack, secret, uid, repo):
    from tests.integration.conftest import kubectl

    namespaces = [f"a-{uid}", f"b-{uid}"]
    for ns in namespaces:
        kubectl("create", "namespace", ns)
        create_app(f"{ns}-app", repo, ns, path=f"apps/{ns}")
    files = {f"apps/{ns}/cm.yaml": manifests.configmap("same-name", greeting=ns) for ns in namespaces}
    sha = repo.commit_and_push("two", files)
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    for ns in namespaces:
        wait_history(f"{ns}-app", 1)
        live = kubectl_json("get", "configmap", "same-name", "-n", ns)
        assert live["data"]["greeting"] == ns
        assert live["metadata"]["labels"]["gitops.dev/app"] == f"{ns}-app"
    # the second app's prune never touches the first app's object of the same name
    b = namespaces[1]
    sha2 = repo.commit_and_push(
        "replace b", {f"apps/{b}/cm.yaml": None, f"apps/{b}/other.yaml": manifests.configmap("other")}
    )
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", sha, sha2))
    actions = {r["name"]: r["action"] for r in wait_history(f"{namespaces[1]}-app", 2)["resources"]}
    assert actions == {"other": "created", "same-name": "pruned"}
    assert (
        kubectl_json("get", "configmap", "same-name", "-n", namespaces[0])["data"]["greeting"]
        == namespaces[0]
    )
    for ns in namespaces:
        kubectl("delete", "namespace", ns, "--wait=false")
