"""Hostile and broken repository content: refused with file, line and reason; nothing applied.

Most cases run against the render code itself (fast, no servers); a few go through the
whole pipeline (push, webhook, render and apply functions) to show where the operator sees
the error and that the last good revision keeps running.
"""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from dulwich import porcelain
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import MemoryRepo

from shared.adapters import git, store
from shared.render.parse import MAX_FILE_BYTES, render_files
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    function_log,
    history_count,
    kubectl,
    kubectl_json,
    push,
    wait_for,
)

pytestmark = pytest.mark.adversarial

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# (id, file name, content, (line, column) or None, message substring)
BROKEN = [
    (
        "bad-indent",
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: {}\n",
        (5, 10),
        "YAML: mapping values are not allowed",
    ),
    (
        "tab-indent",
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n",
        (4, 1),
        "a tab in indentation",
    ),
    (
        "unclosed-quote",
        "a.yaml",
        'apiVersion: v1\nkind: "ConfigMap\nmetadata: {name: x}\n',
        None,
        "YAML: found unexpected end of stream",
    ),
    ("unclosed-flow", "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n", None, "YAML:"),
    ("duplicate-key", "a.yaml", CM + "data: {}\ndata: {k: v}\n", (5, 1), "duplicate key (first at line 4)"),
    ("non-string-key", "a.yaml", CM + "data: {1: a}\n", (4, 8), "key '1' is not a string"),
    ("complex-key", "a.yaml", CM + "data: {? [a, b] : c}\n", (4, 10), "is not a string"),
    ("alias-bomb", "a.yaml", _bomb(), (1, 1), "an alias bomb?"),
    ("undefined-alias", "a.yaml", CM + "data: *nothere\n", (4, 7), "found undefined alias"),
    (
        "python-tag",
        "a.yaml",
        CM + "data: !!python/object/apply:os.system ['id']\n",
        (4, 7),
        "could not determine a constructor",
    ),
    (
        "include-tag",
        "a.yaml",
        CM + "data: !include /etc/passwd\n",
        (4, 7),
        "could not determine a constructor for the tag '!include'",
    ),
    (
        "deep-nesting",
        "a.yaml",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        None,
        "exceeded maximum nesting depth",
    ),
    ("nul-character", "a.yaml", "apiVersion: v1\x00\n", None, "unacceptable character #x0000"),
    ("list-document", "a.yaml", "- a\n- b\n", (1, 1), "a manifest must be a mapping, got list"),
    ("scalar-document", "a.yaml", "just text\n", (1, 1), "a manifest must be a mapping, got str"),
    ("no-apiversion", "a.yaml", "kind: ConfigMap\nmetadata: {name: x}\n", (1, 1), "apiVersion: required"),
    ("no-kind", "a.yaml", "apiVersion: v1\nmetadata: {name: x}\n", (1, 1), "kind: required"),
    (
        "no-name",
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n",
        (3, 1),
        "metadata.name: required",
    ),
    (
        "uppercase-name",
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
        (3, 1),
        "is not a valid name",
    ),
    (
        "name-too-long",
        "a.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {'a' * 254}}}\n",
        (3, 1),
        "is not a valid name",
    ),
    (
        "path-in-name",
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../etc}\n",
        (3, 1),
        "is not a valid name",
    ),
    (
        "list-items-not-mappings",
        "a.yaml",
        "apiVersion: v1\nkind: List\nitems: [1, 2]\n",
        (1, 1),
        "items[0].: a manifest must be a mapping, got int",
    ),
    ("broken-json", "a.json", '{"apiVersion": "v1", "kind": ', None, "YAML: did not find expected node"),
]


@pytest.mark.parametrize("name, content, where, message", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_manifest_is_an_exact_error(name, content, where, message):
    rendered = render_files([(f"app/{name}", content.encode())])
    assert rendered.objects == []
    assert len(rendered.errors) >= 1
    error = rendered.errors[0]
    assert error.file == f"app/{name}" and message in str(error), str(error)
    if where:
        assert (error.line, error.column) == where, str(error)


def test_invalid_utf8_is_an_error_naming_the_byte():
    rendered = render_files([("app/a.yaml", b"apiVersion: v1\nkind: \xff\xfe\n")])
    assert [str(e) for e in rendered.errors] == ["app/a.yaml: not UTF-8 text (invalid start byte at byte 21)"]


def test_huge_file_is_refused_without_parsing():
    start = time.monotonic()
    rendered = render_files([("app/big.yaml", b"#" * (MAX_FILE_BYTES + 1))])
    assert [str(e) for e in rendered.errors] == [f"app/big.yaml: file is larger than {MAX_FILE_BYTES} bytes"]
    assert time.monotonic() - start < 5  # refused by size, not parsed


def test_binary_files_are_ignored_and_binary_named_yaml_is_an_error():
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(256)
    rendered = render_files([("app/logo.png", png), ("app/cm.yaml", CM.encode()), ("app/logo.yaml", png)])
    assert [o["metadata"]["name"] for o in rendered.objects] == ["x"]
    assert [e.file for e in rendered.errors] == ["app/logo.yaml"]
    assert "not UTF-8 text" in rendered.errors[0].message


def test_a_huge_number_of_files_renders_every_one():
    files = [(f"app/{i:05d}.yaml", CM.replace("name: x", f"name: c{i}").encode()) for i in range(5000)]
    files += [(f"docs/{i}.md", b"# notes\n") for i in range(5000)]
    rendered = render_files(files)
    assert rendered.errors == [] and len(rendered.objects) == 5000


def test_the_same_object_twice_is_an_error_naming_both_places():
    rendered = render_files([("app/a.yaml", CM.encode()), ("app/b.yaml", CM.encode())])
    assert [str(e) for e in rendered.errors] == [
        "app/b.yaml:1:1: metadata.name: ConfigMap/x is also defined at app/a.yaml:1"
    ]


def _tree_repo(entries: list[tuple[bytes, int, bytes]]) -> tuple[MemoryRepo, str]:
    """A repository whose app/ folder holds exactly these (name, mode, content) entries."""
    repo = MemoryRepo()
    app = Tree()
    for name, mode, content in entries:
        blob = Blob.from_string(content)
        repo.object_store.add_object(blob)
        app.add(name, mode, blob.id)
    repo.object_store.add_object(app)
    root = Tree()
    root.add(b"app", stat.S_IFDIR, app.id)
    repo.object_store.add_object(root)
    commit = Commit()
    commit.tree = root.id
    commit.author = commit.committer = b"x <x@example.com>"
    commit.commit_time = commit.author_time = 0
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = b"tree"
    repo.object_store.add_object(commit)
    return repo, commit.id.decode()


def test_a_folder_outside_the_repository_is_not_found():
    repo, sha = _tree_repo([(b"cm.yaml", 0o100644, CM.encode())])
    for folder in ("../app", "app/../../etc", "/etc"):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            list(git.entries(repo, sha, folder))


# ---- through the pipeline -------------------------------------------------------------


def _render_error(app: str, commit: str) -> dict:
    return wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == commit and r,
        f"the render verdict on {commit[:7]}",
    )


@pytest.mark.parametrize("case", ["alias-bomb", "huge-file", "python-tag"])
def test_broken_content_through_the_pipeline_keeps_the_last_good_revision(
    stack, secret, uid, repo, namespace, case
):
    app = f"bad-{case}-{uid}"
    create_app(app, repo, namespace)
    good = push(stack, secret, repo, "good", {"app/cm.yaml": manifests.configmap(greeting="good")})
    wait_for(lambda: history_count(app) == 1, "the good sync")
    content = {
        "alias-bomb": CM + _bomb(),  # a manifest (YAML naming no kind is not one: skipped unread)
        "huge-file": "#" * (MAX_FILE_BYTES + 10),
        "python-tag": CM + "data: !!python/object/apply:os.system ['id']\n",
    }[case]
    bad = push(
        stack,
        secret,
        repo,
        case,
        {"app/bad.yaml": content, "app/cm.yaml": manifests.configmap(greeting="bad")},
        good,
    )
    render = _render_error(app, bad)
    assert render["revision"] is None and render["errors"][0]["file"] == "app/bad.yaml"
    assert render["message"].startswith(f"render of {bad[:7]} failed: app/bad.yaml")
    assert '"render failed"' in function_log(stack, "render")
    assert history_count(app) == 1
    assert (
        json.loads(kubectl("get", "configmap", "settings", "-n", namespace, "-o", "json"))["data"]["greeting"]
        == "good"
    )
    # still serving: the fix syncs
    push(stack, secret, repo, "fix", {"app/bad.yaml": None}, bad)
    wait_for(lambda: history_count(app) == 2, "the fixed sync")


def test_symlinks_and_binary_files_in_a_pushed_repository(stack, secret, uid, repo, namespace):
    """A symlink inside the repository is read; one leaving it is refused by name; a binary
    file that is not a manifest is skipped."""
    app = f"links-{uid}"
    create_app(app, repo, namespace)
    repo.write({"app/cm.yaml": manifests.configmap(), "shared/inside.yaml": manifests.configmap("inside")})

    def link(path: str, target: str) -> None:
        os.symlink(target, os.path.join(repo.path, path))
        porcelain.add(repo.repo, [os.path.join(repo.path, path)])

    link("app/inside.yaml", "../shared/inside.yaml")
    with open(os.path.join(repo.path, "app", "logo.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    porcelain.add(repo.repo, [os.path.join(repo.path, "app", "logo.png")])
    good = repo.commit("links")
    repo.push()
    from shared.core import webhook as github
    from tests.integration.conftest import wait_history, webhook

    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, good))
    entry = wait_history(app, 1)
    assert entry["phase"] == "Succeeded"
    assert sorted(r["name"] for r in entry["resources"]) == ["inside", "settings"]
    link("app/passwd.yaml", "/etc/passwd")
    link("app/up.yaml", "../../../../etc/hostname")
    bad = repo.commit("links leaving the repository")
    repo.push()
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", good, bad))
    render = _render_error(app, bad)
    assert render["errors"][0]["message"] == "symlink to '/etc/passwd' leaves the repository (refused)"
    assert render["errors"][0]["file"] == "app/passwd.yaml"
    assert all("leaves the repository (refused)" in e["message"] for e in render["errors"])
    assert history_count(app) == 1


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    "chart/templates/cm.yaml": manifests.configmap("from-chart"),
}
SOURCES = [
    # (id, files, source options, the error's file, its message)
    (
        "kustomize-remote-url",
        {
            "app/kustomization.yaml": "resources:\n- cm.yaml\n- https://github.com/acme/app//base?ref=v1\n",
            "app/cm.yaml": manifests.configmap(),
        },
        {},
        "app/kustomization.yaml",
        "remote resources are not fetched (no network while rendering) (refused)",
    ),
    (
        "kustomize-absolute-path",
        {"app/kustomization.yaml": "resources:\n- /etc/kubernetes\n"},
        {},
        "app/kustomization.yaml",
        "'/etc/kubernetes': absolute paths are not allowed (refused)",
    ),
    (
        "kustomize-outside",
        {"app/kustomization.yaml": "resources:\n- ../../../outside\n"},
        {},
        "app/kustomization.yaml",
        "'../../../outside': leaves the repository (refused)",
    ),
    (
        "helm-values-outside",
        CHART,
        {"helm": {"valueFiles": ["../../etc/passwd"]}},
        "chart",
        "source.helm.valueFiles[0]: '../../etc/passwd' leaves the repository (refused)",
    ),
    (
        "helm-values-dot-dot-inside-chart",
        CHART,
        {"helm": {"valueFiles": ["templates/../../../x.yaml"]}},
        "chart",
        "source.helm.valueFiles[0]: 'templates/../../../x.yaml' leaves the repository (refused)",
    ),
    (
        "helm-file-dependency-outside",
        {
            **CHART,
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n"
            "- {name: x, version: 0.1.0, repository: 'file://../../outside'}\n",
        },
        {},
        "chart/Chart.yaml",
        "dependencies[0].repository: dependency x: 'file://../../outside' leaves the repository (refused)",
    ),
    (
        "helm-file-dependency-cycle",
        {
            **CHART,
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n"
            "- {name: b, version: 0.1.0, repository: 'file://deps/b'}\n",
            "chart/deps/b/Chart.yaml": "apiVersion: v2\nname: b\nversion: 0.1.0\ndependencies:\n"
            "- {name: c, version: 0.1.0, repository: 'file://../..'}\n",
        },
        {},
        "chart/deps/b/Chart.yaml",
        "dependencies[0].repository: dependency c: a cycle (chart -> chart/deps/b -> chart) (refused)",
    ),
    (
        "jsonnet-import-outside",
        {"app/main.jsonnet": "import '../../../etc/hosts'\n"},
        {},
        "app/main.jsonnet",
        "jsonnet: import of '../../../etc/hosts' leaves the repository (refused)",
    ),
    (
        "jsonnet-import-absolute",
        {"app/main.jsonnet": "importstr '/etc/hosts'\n"},
        {},
        "app/main.jsonnet",
        "jsonnet: import of absolute path '/etc/hosts' (refused)",
    ),
]


def test_helm_values_at_an_absolute_path_are_refused_when_the_app_is_registered(tmp_path, capsys):
    manifest = tmp_path / "app.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "abs-values"},
                "spec": {
                    "source": {
                        "repoURL": "http://127.0.0.1:1/x.git",
                        "path": "chart",
                        "helm": {"valueFiles": ["/etc/passwd"]},
                    }
                },
            }
        )
    )
    from shared.cli import main

    assert main.main(["app", "create", "-f", str(manifest)]) == 1
    assert capsys.readouterr().err == (
        f"error: {manifest}: source.helm.valueFiles[0]: '/etc/passwd' must be a path inside the "
        "repository, relative to the chart\n"
    )


@pytest.mark.parametrize(
    "files, source, file, message", [c[1:] for c in SOURCES], ids=[c[0] for c in SOURCES]
)
def test_sources_reaching_outside_the_repository_are_refused_through_the_pipeline(
    stack, secret, uid, repo, namespace, tmp_path, files, source, file, message
):
    app = f"src-{uid}"
    path = file.split("/")[0]
    manifest = tmp_path / "app.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": app},
                "spec": {
                    "project": "default",
                    "destination": {"namespace": namespace},
                    "source": {"repoURL": repo.url, "path": path, "targetRevision": "main", **source},
                    "syncPolicy": {"automated": {}},
                },
            }
        )
    )
    from shared.cli import main

    assert main.main(["app", "create", "-f", str(manifest)]) == 0
    sha = push(stack, secret, repo, "reach out", files)
    render = _render_error(app, sha)
    assert render["revision"] is None
    error = render["errors"][0]
    assert error["file"] == file and message in f"{error['field']}: {error['message']}", render
    assert history_count(app) == 0
    assert kubectl_json("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}")["items"] == []
