"""Sources through the served functions: a Kustomize overlay synced from an Argo CD manifest, and
one commit shared by many applications rendered once (renders/{digest} counts it)."""

from __future__ import annotations

import textwrap

import pytest

from shared.adapters import git, store
from shared.cli import main
from shared.core import webhook as github
from shared.render import cache, sources
from shared.render import tree as trees
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl, kubectl_json, wait_for, wait_history, webhook

pytestmark = pytest.mark.integration


# the file lists of a push changing only base/ (all three: a commit without them changes
# "unknown files", which concerns every application)
BASE_ONLY = {"added": [], "modified": ["base/cm.yaml"], "removed": []}


def push(stack, secret, repo, files):
    sha = repo.commit_and_push("sources", files)
    status, _ = webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert status == 200
    return sha


def test_kustomize_overlay_with_spec_options_is_synced(stack, secret, uid, repo, namespace, tmp_path):
    app = f"kust-{uid}"
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {{name: {app}}}
        spec:
          source:
            repoURL: {repo.url}
            targetRevision: main
            path: overlays/prod
            kustomize:
              namePrefix: prod-
              commonLabels: {{tier: web}}
          destination: {{server: https://kubernetes.default.svc, namespace: {namespace}}}
          syncPolicy: {{automated: {{prune: true}}}}
        """)
    )
    assert main.main(["app", "create", "-f", str(manifest)]) == 0
    sha = push(
        stack,
        secret,
        repo,
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": manifests.configmap(),
            "overlays/prod/kustomization.yaml": "resources: [../../base]\nnameSuffix: -v1\n",
        },
    )
    entry = wait_history(app, 1, timeout=60)
    assert entry["commit"] == sha and entry["phase"] == "Succeeded"
    cm = kubectl_json("get", "configmap", "prod-settings-v1", "-n", namespace)
    assert cm["metadata"]["labels"]["tier"] == "web"
    revision = store.get_revision(app, entry["revision"])
    assert revision["source"] == "kustomize"
    assert revision["sourceOptions"]["kustomize"]["namePrefix"] == "prod-"
    # the render read base/: a push changing only base/ concerns the overlay's application
    change = repo.commit_and_push("base only", {"base/cm.yaml": manifests.configmap(greeting="hi")})
    status, _ = webhook(
        stack, secret, github.push_payload(repo.url, "refs/heads/main", sha, change, changed=BASE_ONLY)
    )
    assert status == 200
    assert wait_history(app, 2, timeout=60)["commit"] == change
    # once the overlay stops reading base/, a push changing only base/ no longer concerns it
    own = push(
        stack,
        secret,
        repo,
        {
            "overlays/prod/kustomization.yaml": "resources: [cm.yaml]\n",
            "overlays/prod/cm.yaml": manifests.configmap(),
        },
    )
    assert wait_history(app, 3, timeout=60)["commit"] == own
    later = repo.commit_and_push("base again", {"base/cm.yaml": manifests.configmap(greeting="ho")})
    status, answer = webhook(
        stack, secret, github.push_payload(repo.url, "refs/heads/main", own, later, changed=BASE_ONLY)
    )
    assert status == 200 and app in answer["skipped"] and app not in answer["apps"]
    # app set --source changes the options, validated by field
    assert main.main(["app", "set", app, "--source", "{kustomize: {images: ['bad image']}}"]) == 1
    assert main.main(["app", "set", app, "--source", "{kustomize: {namePrefix: staging-}}"]) == 0
    assert store.get_app(app).spec.source == {"kustomize": {"namePrefix": "staging-"}}


def test_helm_chart_with_values_is_synced(stack, secret, uid, repo, namespace):
    app = f"helm-{uid}"
    create_app(app, repo, namespace, path="chart")
    assert (
        main.main(
            [
                "app",
                "set",
                app,
                "--source",
                "{helm: {valueFiles: [values-prod.yaml], values: 'greeting: hi'}}",
            ]
        )
        == 0
    )
    sha = push(
        stack,
        secret,
        repo,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "chart/values.yaml": "greeting: hello\nsize: small\n",
            "chart/values-prod.yaml": "size: large\n",
            "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: {{ .Release.Name }}-cfg\ndata:\n"
            "  greeting: {{ .Values.greeting }}\n  size: {{ .Values.size }}\n",
        },
    )
    entry = wait_history(app, 1, timeout=60)
    assert entry["commit"] == sha and entry["phase"] == "Succeeded"
    cm = kubectl_json("get", "configmap", f"{app}-cfg", "-n", namespace)  # release name: the app's
    assert cm["data"] == {"greeting": "hi", "size": "large"}
    assert store.get_revision(app, entry["revision"])["source"] == "helm"


def test_many_apps_on_one_commit_and_path_render_once(stack, secret, uid, repo):
    names = [f"share{i}-{uid}" for i in range(4)]
    namespaces = [f"t-{uid}-{i}" for i in range(4)]
    try:
        for app, ns in zip(names, namespaces, strict=True):
            kubectl("create", "namespace", ns)
            create_app(app, repo, ns)
        sha = push(stack, secret, repo, {"app/cm.yaml": manifests.configmap()})
        revisions = [store.get_revision(app, wait_history(app, 1, timeout=60)["revision"]) for app in names]
        digests = {r["renderDigest"] for r in revisions}
        assert len(digests) == 1
        digest = digests.pop()
        # uses are tallied in the render function and written about once a second
        cached = wait_for(lambda: (d := store.get_render(digest)) and d.get("uses") == 4 and d, "4 uses")
        assert cached["renders"] == 1
        assert cached["kind"] == "directory" and cached["files"][0]["name"] == "app/cm.yaml"
        # another instance (this process: nothing in memory) parses the stored output, renders nothing
        spec = store.get_app(names[0]).spec
        tree = trees.GitTree(git.fetch(spec.repoURL, sha, "refs/heads/main"), sha)
        again = cache.render(tree, spec.repo_key, sha, sources.Request.of(spec))
        assert (again.cached, again.digest) == ("store", digest)
        assert again.rendered.sources[0].file == "app/cm.yaml"
        cache.flush_uses()  # this process's tally, written now rather than in a second
        after = store.get_render(digest) or {}
        assert (after["renders"], after["uses"]) == (1, 5)
        for ns in namespaces:  # each app still applied its own copy
            assert kubectl_json("get", "configmap", "settings", "-n", ns)["metadata"]["name"] == "settings"
    finally:
        for ns in namespaces:
            kubectl("delete", "namespace", ns, "--wait=false")
