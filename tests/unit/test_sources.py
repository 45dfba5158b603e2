"""Sources: Directory, Kustomize, Helm, Jsonnet on small fixture repositories; the sandbox's refusals
and limits, each with the exact finding; source options in the spec; the render-once cache."""

import json
import os
import textwrap

import pytest
from dulwich.index import commit_tree
from dulwich.objects import Blob, Commit
from dulwich.repo import Repo

from shared.core.model import AppSpec, SpecError
from shared.render import cache, sandbox, sources
from shared.render.sources import Request
from shared.render.tree import FolderTree, GitTree, Limits

DEPLOY = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: nginx:1.25}]
    """)


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"


def folder(tmp_path, files: dict[str, str]) -> FolderTree:
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return FolderTree(tmp_path)


def git(tmp_path, files: dict[str, str], links: dict[str, str] | None = None) -> GitTree:
    """A commit holding files and symlinks (path -> target), read from dulwich's object store."""
    (tmp_path / "repo.git").mkdir(parents=True)
    repo = Repo.init_bare(str(tmp_path / "repo.git"))
    entries = []
    for path, data in [
        *((p, (t, 0o100644)) for p, t in files.items()),
        *((p, (t, 0o120000)) for p, t in (links or {}).items()),
    ]:
        blob = Blob.from_string(data[0].encode())
        repo.object_store.add_object(blob)
        entries.append((path.encode(), blob.id, data[1]))
    commit = Commit()
    commit.tree = commit_tree(repo.object_store, entries)
    commit.author = commit.committer = b"t <t@example.com>"
    commit.commit_time = commit.author_time = 0
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = b"fixture"
    repo.object_store.add_object(commit)
    return GitTree(repo, commit.id.decode())


def errors(rendered) -> list[str]:
    return [str(e) for e in rendered.errors]


# ---- Directory ---------------------------------------------------------------------------


def test_directory_recurse_include_exclude(tmp_path):
    tree = folder(
        tmp_path,
        {
            "app/a.yaml": cm("a"),
            "app/sub/b.yml": cm("b"),
            "app/sub/test/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
            "app/README.md": "# not a manifest",
            "other/d.yaml": cm("d"),
        },
    )
    names = lambda r: sorted(o["metadata"]["name"] for o in r.objects)  # noqa: E731
    recurse = {"recurse": True}
    kind, out = sources.render(tree, Request("app"))  # Argo CD's default: no recursion
    assert kind == "directory" and names(out) == ["a"] and not out.errors
    assert names(sources.render(tree, Request("app", {"directory": recurse}))[1]) == ["a", "b", "c"]
    assert names(
        sources.render(tree, Request("app", {"directory": {**recurse, "exclude": "sub/test/*"}}))[1]
    ) == ["a", "b"]
    assert names(
        sources.render(tree, Request("app", {"directory": {**recurse, "include": "{a.yaml,sub/*.yml}"}}))[1]
    ) == ["a", "b"]


def test_directory_recursion_skips_yaml_that_holds_no_object(tmp_path):
    """A chart's values.yaml and a kustomization in subfolders are not manifests: skipped, as
    Argo CD skips them; a manifest missing its kind is still an error."""
    tree = folder(
        tmp_path,
        {
            "app/a.yaml": cm("a"),
            "app/chart/values.yaml": "replicas: 2\nimage: {tag: '1.2'}\n",
            "app/overlay/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../a.yaml]\n"
            ),
            "app/settings.json": '{"debug": true}',
            "app/sub/b.yaml": cm("b"),
        },
    )
    opts = {"directory": {"recurse": True}}
    _, out = sources.render(tree, Request("app", opts))
    assert sorted(o["metadata"]["name"] for o in out.objects) == ["a", "b"] and not out.errors
    broken = folder(tmp_path / "broken", {"app/sub/x.yaml": "apiVersion: v1\nmetadata: {name: x}\n"})
    assert errors(sources.render(broken, Request("app", opts))[1]) == ["app/sub/x.yaml:1:1: kind: required"]


def test_directory_from_git_reads_symlinks_inside_and_refuses_those_leaving(tmp_path):
    tree = git(
        tmp_path, {"app/a.yaml": cm("a"), "shared/b.yaml": cm("b")}, {"app/b.yaml": "../shared/b.yaml"}
    )
    _, out = sources.render(tree, Request("app"))
    assert not out.errors and sorted(o["metadata"]["name"] for o in out.objects) == ["a", "b"]
    tree = git(tmp_path / "2", {"app/a.yaml": cm("a")}, {"app/passwd.yaml": "../../etc/passwd"})
    assert errors(sources.render(tree, Request("app"))[1]) == [
        "app/passwd.yaml: symlink to '../../etc/passwd' leaves the repository (refused)"
    ]
    tree = git(tmp_path / "3", {"app/a.yaml": cm("a")}, {"app/abs.yaml": "/etc/passwd"})
    assert errors(sources.render(tree, Request("app"))[1]) == [
        "app/abs.yaml: symlink to '/etc/passwd' leaves the repository (refused)"
    ]


def test_missing_path(tmp_path):
    tree = git(tmp_path, {"app/a.yaml": cm("a")})
    assert errors(sources.render(tree, Request("nope"))[1])[0].startswith(
        "nope: path: path 'nope' does not exist at "
    )


# ---- Kustomize ---------------------------------------------------------------------------

BASE = {
    "base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "base/deploy.yaml": DEPLOY,
    "overlays/prod/kustomization.yaml": "resources: [../../base]\nnamePrefix: prod-\n",
}


def test_kustomize_overlay_with_base_prefix_and_images(tmp_path):
    tree = git(tmp_path, BASE)
    options = {
        "kustomize": {
            "nameSuffix": "-v2",
            "images": ["nginx=ghcr.io/acme/nginx:1.27"],
            "commonLabels": {"team": "web"},
            "commonAnnotations": {"owner": "a"},
            "namespace": "shop",
        }
    }
    kind, out = sources.render(tree, Request("overlays/prod", options))
    assert kind == "kustomize" and not out.errors
    [deploy] = out.objects
    assert deploy["metadata"] == {
        "name": "prod-web-v2",
        "namespace": "shop",
        "labels": {"team": "web"},
        "annotations": {"owner": "a"},
    }
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/nginx:1.27"
    assert deploy["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "web"}
    assert out.sources[0].file == "overlays/prod (kustomize build).yaml"
    # without options: the overlay as it is
    _, plain = sources.render(tree, Request("overlays/prod"))
    assert plain.objects[0]["metadata"]["name"] == "prod-web"


def test_kustomize_refuses_remote_absolute_and_outside_references(tmp_path):
    remote = "remote resources are not fetched (no network while rendering) (refused)"
    cases = {
        "resources:\n- deploy.yaml\n- https://github.com/acme/app//base?ref=v1\n": (
            f"app/kustomization.yaml:3:3: resources[1]: 'https://github.com/acme/app//base?ref=v1': {remote}"
        ),
        "resources:\n- github.com/acme/app/base\n": (
            f"app/kustomization.yaml:2:3: resources[0]: 'github.com/acme/app/base': {remote}"
        ),
        "resources:\n- git@github.com:acme/app.git\n": (
            f"app/kustomization.yaml:2:3: resources[0]: 'git@github.com:acme/app.git': {remote}"
        ),
        "resources:\n- /etc/kubernetes\n": (
            "app/kustomization.yaml:2:3: resources[0]: '/etc/kubernetes': "
            "absolute paths are not allowed (refused)"
        ),
        "resources: [deploy.yaml]\npatches:\n- path: ../../outside.yaml\n": (
            "app/kustomization.yaml:3:9: patches[0].path: '../../outside.yaml': "
            "leaves the repository (refused)"
        ),
    }
    for i, (text, expected) in enumerate(cases.items()):
        tree = git(tmp_path / str(i), {"app/kustomization.yaml": text, "app/deploy.yaml": DEPLOY})
        assert errors(sources.render(tree, Request("app"))[1]) == [expected]


def test_kustomize_refuses_remote_references_in_a_base_it_uses(tmp_path):
    tree = git(tmp_path, {**BASE, "base/kustomization.yaml": "resources:\n- https://example.com/x.yaml\n"})
    assert errors(sources.render(tree, Request("overlays/prod"))[1]) == [
        "base/kustomization.yaml:2:3: resources[0]: 'https://example.com/x.yaml': remote resources are "
        "not fetched (no network while rendering) (refused)"
    ]


def test_kustomize_errors_name_the_file_not_the_sandbox(tmp_path):
    tree = git(tmp_path, {"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    [error] = errors(sources.render(tree, Request("app"))[1])
    assert error == (
        "app/kustomization.yaml:1:13: resources[0]: 'missing.yaml': not a file or folder in "
        "the repository (refused)"
    )  # checked before kustomize runs
    tree = git(
        tmp_path / "2", {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": "kind: [\n"}
    )
    [error] = errors(sources.render(tree, Request("app"))[1])
    assert error.startswith("app: kustomize build: ") and "cm.yaml" in error
    assert "gitops-render-" not in error and "/src/" not in error


# ---- Helm --------------------------------------------------------------------------------

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: nginx:1.25\n",
    "chart/values-prod.yaml": "replicas: 3\n",
    "chart/templates/cm.yaml": textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-cfg
          namespace: {{ .Release.Namespace }}
        data:
          replicas: "{{ .Values.replicas }}"
          image: {{ .Values.image }}
          kube: "{{ .Capabilities.KubeVersion.Version }}"
        """),
    "values/shared.yaml": "image: redis:7\n",
}


def test_helm_values_files_inline_values_release_namespace_and_kube_version(tmp_path):
    tree = git(tmp_path, CHART)
    options = {
        "helm": {
            "valueFiles": ["values-prod.yaml", "../values/shared.yaml"],
            "values": "image: busybox:1.36\n",
        }
    }
    kind, out = sources.render(
        tree, Request("chart", options, release="shop", namespace="prod", kube_version="1.31.0")
    )
    assert kind == "helm" and not out.errors
    assert out.objects == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-cfg", "namespace": "prod"},
            "data": {"replicas": "3", "image": "busybox:1.36", "kube": "v1.31.0"},
        }
    ]
    assert out.sources[0].file == "chart (helm template).yaml"
    _, map_values = sources.render(tree, Request("chart", {"helm": {"values": {"replicas": 5}}}))
    assert map_values.objects[0]["data"]["replicas"] == "5"


def test_helm_value_files_must_stay_in_the_repository(tmp_path):
    tree = git(tmp_path, CHART)
    for value_file in ("../../etc/passwd", "/etc/passwd"):
        assert errors(sources.render(tree, Request("chart", {"helm": {"valueFiles": [value_file]}}))[1]) == [
            f"chart: source.helm.valueFiles[0]: {value_file!r} leaves the repository (refused)"
        ]
    assert errors(sources.render(tree, Request("chart", {"helm": {"valueFiles": ["nope.yaml"]}}))[1]) == [
        "chart: source.helm.valueFiles[0]: 'nope.yaml': no such file in the repository"
    ]


SUB = {
    "Chart.yaml": "apiVersion: v2\nname: {name}\nversion: 0.2.0\n{deps}",
    "values.yaml": "greeting: from-{name}\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
    "metadata:\n  name: {{{{ .Release.Name }}}}-{name}\ndata:\n  greeting: {{{{ .Values.greeting }}}}\n",
}


def chart(at: str, name: str, deps: str = "") -> dict[str, str]:
    return {f"{at}/{k}": v.format(name=name, deps=deps) for k, v in SUB.items()}


def test_helm_file_dependencies_inside_the_repository_render_with_no_network(tmp_path):
    files = {
        **chart(
            "apps/shop",
            "shop",
            "dependencies:\n- {name: db, version: 0.2.0, repository: file://../../libs/db}\n"
            "- {name: cache, version: '>=0.1', repository: 'file://../cache'}\n",
        ),
        "apps/shop/values.yaml": "greeting: shop\ndb: {greeting: tuned}\n",
        **chart(
            "libs/db", "db", "dependencies:\n- {name: common, version: 0.2.0, repository: file://../common}\n"
        ),
        **chart("libs/common", "common"),
        **chart("apps/cache", "cache"),
    }
    kind, out = sources.render(git(tmp_path, files), Request("apps/shop", release="r"))
    assert kind == "helm" and not out.errors, errors(out)
    assert {o["metadata"]["name"]: o["data"]["greeting"] for o in out.objects} == {
        "r-shop": "shop",
        "r-db": "tuned",
        "r-common": "from-common",
        "r-cache": "from-cache",
    }


def test_helm_vendored_dependencies_are_used_as_they_are(tmp_path):
    files = {
        **chart(
            "c",
            "app",
            "dependencies:\n- {name: sub, version: 0.2.0, repository: https://charts.example.com}\n",
        ),
        **chart("c/charts/sub", "sub"),
    }
    _, out = sources.render(git(tmp_path, files), Request("c", release="r"))
    assert not out.errors and sorted(o["metadata"]["name"] for o in out.objects) == ["r-app", "r-sub"]


def test_helm_remote_dependencies_must_be_vendored(tmp_path):
    deps = "dependencies:\n- {name: sub, version: 0.2.0, repository: https://charts.example.com}\n"
    _, out = sources.render(git(tmp_path, chart("c", "app", deps)), Request("c"))
    assert errors(out) == [
        "c/Chart.yaml: dependencies[0].repository: dependency sub (https://charts.example.com) is not "
        "in c/charts/: run helm "
        "dependency build and commit charts/ (a chart's remote dependencies are not fetched: only the "
        "hosts an application names are contacted)"
    ]
    vendored = {**chart("c", "app", deps), **chart("c/charts/renamed", "sub")}  # found by its Chart.yaml
    _, out = sources.render(git(tmp_path / "v", vendored), Request("c", release="r"))
    assert not out.errors and sorted(o["metadata"]["name"] for o in out.objects) == ["r-app", "r-sub"]


@pytest.mark.parametrize(
    "repository, error",
    [
        ("file://../../outside", "'file://../../outside' leaves the repository (refused)"),
        ("file:///etc", "'file:///etc' must be a path relative to the chart"),
        ("file://../nochart", "no Chart.yaml in nochart (file://../nochart)"),
        ("file://../loop", "a cycle (c -> loop -> c) (refused)"),
    ],
)
def test_helm_file_dependencies_are_checked(tmp_path, repository, error):
    files = {
        **chart(
            "c",
            "app",
            "dependencies:\n- {name: ok, version: 0.1.0, repository: 'file://../ok'}\n"
            f"- {{name: dep, version: 0.2.0, repository: '{repository}'}}\n",
        ),
        **chart("ok", "ok"),
        "nochart/values.yaml": "a: 1\n",
        **chart("loop", "dep", "dependencies:\n- {name: app, version: 0.2.0, repository: 'file://../c'}\n"),
    }
    _, out = sources.render(git(tmp_path, files), Request("c"))
    # named: the file declaring the dependency, and the field (the cycle closes in loop/)
    where = "loop/Chart.yaml: dependencies[0]" if "cycle" in error else "c/Chart.yaml: dependencies[1]"
    assert errors(out) == [f"{where}.repository: dependency {'app' if 'cycle' in error else 'dep'}: {error}"]


def test_helm_missing_binary_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "helm_binary", lambda: None)
    assert errors(sources.render(git(tmp_path, CHART), Request("chart"))[1]) == [
        "chart: helm is not installed: put helm on PATH or set GITOPS_HELM (stack/setup.sh installs "
        "one in ~/.cache/gitops/bin/helm)"
    ]


# ---- Jsonnet -----------------------------------------------------------------------------

JSONNET = {
    "js/main.jsonnet": "local lib = import '../lib/cm.libsonnet';\n"
    "function(replicas) [lib.cm(std.extVar('env'), replicas)]\n",
    "lib/cm.libsonnet": "{ cm(env, n):: { apiVersion: 'v1', kind: 'ConfigMap', "
    "metadata: { name: 'cfg-' + env }, data: { n: std.toString(n) } } }\n",
}


def test_jsonnet_with_ext_vars_and_tlas(tmp_path):
    options = {
        "jsonnet": {"extVars": {"env": "prod"}, "tlas": [{"name": "replicas", "value": "3", "code": True}]}
    }
    kind, out = sources.render(git(tmp_path, JSONNET), Request("js", options))
    assert kind == "jsonnet" and not out.errors
    assert out.objects == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg-prod"}, "data": {"n": "3"}}
    ]
    assert out.sources[0].file == "js/main.jsonnet (jsonnet).json"


def test_jsonnet_imports_outside_the_repository_are_refused(tmp_path):
    tree = git(tmp_path, {"js/main.jsonnet": "import '../../../etc/hosts'\n"})
    assert errors(sources.render(tree, Request("js"))[1]) == [
        "js/main.jsonnet:1:1: jsonnet: import of '../../../etc/hosts' leaves the repository (refused)"
    ]
    tree = git(tmp_path / "2", {"js/main.jsonnet": "importstr '/etc/hosts'\n"})
    assert errors(sources.render(tree, Request("js"))[1]) == [
        "js/main.jsonnet:1:1: jsonnet: import of absolute path '/etc/hosts' (refused)"
    ]


def test_jsonnet_errors_name_file_line_column(tmp_path):
    tree = git(tmp_path, {"js/main.jsonnet": "{a: }\n"})
    assert errors(sources.render(tree, Request("js"))[1]) == [
        'js/main.jsonnet:1:5: jsonnet: js/main.jsonnet:1:5-6 Unexpected: "}" while parsing terminal'
    ]
    tree = git(tmp_path / "2", {"js/main.jsonnet": "\nimport 'nope.libsonnet'\n"})
    assert errors(sources.render(tree, Request("js"))[1]) == [
        "js/main.jsonnet:2:1: jsonnet: import of 'js/nope.libsonnet': no such file in the repository"
    ]


# ---- limits ------------------------------------------------------------------------------


def test_time_limit(tmp_path):
    loop = "local f(n, acc) = if n == 0 then acc else f(n - 1, acc + 1) tailstrict; [f(1000000000, 0)]\n"
    tree = git(tmp_path, {"js/main.jsonnet": loop})
    assert errors(sources.render(tree, Request("js"), Limits(seconds=0.5, memory=8 << 30))[1]) == [
        "js/main.jsonnet: jsonnet took longer than 0.5s (limit)"
    ]
    # with the default memory limit the same loop runs out of memory first
    assert errors(sources.render(tree, Request("js"), Limits(seconds=30))[1]) == [
        f"js/main.jsonnet: jsonnet needed more than {Limits().memory:,} bytes of memory (limit)"
    ]


def test_file_byte_and_resource_limits(tmp_path):
    tree = git(tmp_path, {f"app/{i}.yaml": cm(f"c{i}") for i in range(5)})
    assert errors(sources.render(tree, Request("app"), Limits(files=4))[1]) == [
        "app: more than 4 files to read (limit)"
    ]
    assert errors(sources.render(tree, Request("app"), Limits(bytes=100))[1]) == [
        "app: more than 100 bytes to read (limit)"
    ]
    assert errors(sources.render(tree, Request("app"), Limits(resources=4))[1]) == [
        "app/0.yaml: 5 resources: more than 4 (limit)"
    ]
    # Kustomize reads the whole repository: the limit counts it all
    kustomized = sources.render(git(tmp_path / "k", BASE), Request("overlays/prod"), Limits(files=2))[1]
    assert errors(kustomized) == ["overlays/prod: more than 2 files to read (limit)"]


def test_binary_manifest_is_reported_and_other_binaries_skipped(tmp_path):
    tree = folder(tmp_path, {"app/a.yaml": cm("a")})
    (tmp_path / "app" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "app" / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    assert errors(sources.render(tree, Request("app"))[1]) == [
        "app/bin.yaml: not UTF-8 text (invalid start byte at byte 0)"
    ]


def test_renderers_start_with_an_empty_environment_in_new_namespaces(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/secret.json")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    fds: list[int] = []
    argv, env = sandbox.command_line(sandbox.binary("/usr/bin/true"), [], tmp_path, None, fds)
    for fd in fds:
        os.close(fd)
    assert env == {}  # bwrap (PID 1 inside) holds no environment of ours
    assert "--unshare-all" in argv and "--die-with-parent" in argv
    pairs = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setenv"}
    assert pairs["HTTPS_PROXY"] == pairs["HTTP_PROXY"] == "http://127.0.0.1:9"
    assert not {"GOOGLE_APPLICATION_CREDENTIALS", "GITHUB_TOKEN"} & set(pairs)
    assert argv[:1] == ["bwrap"]


# ---- choosing the source, the spec's options, the cache -----------------------------------


def test_source_is_chosen_from_the_files_or_the_spec(tmp_path):
    tree = git(
        tmp_path, {**BASE, **CHART, **JSONNET, "plain/a.yaml": cm("a"), "k2/Kustomization": "resources: []\n"}
    )
    assert [sources.detect(tree, p, {}) for p in ("overlays/prod", "chart", "js", "plain", "k2")] == [
        "kustomize",
        "helm",
        "directory",
        "directory",
        "kustomize",
    ]
    assert sources.detect(tree, "chart", {"directory": {}}) == "directory"
    assert sources.render(tree, Request("js"))[0] == "jsonnet"


def test_spec_source_options_are_validated_by_field():
    def check(source):
        with pytest.raises(SpecError) as err:
            AppSpec("a", "https://x/y.git", source=source).validate()
        return str(err.value)

    assert check({"helm": {"valueFiles": ["/etc/x"]}}) == (
        "source.helm.valueFiles[0]: '/etc/x' must be a path inside the repository, relative to the chart"
    )
    assert check({"kustomize": {"images": ["bad image"]}}) == (
        "source.kustomize.images[0]: 'bad image' is not [old=]name[:tag][@sha256:...]"
    )
    assert check({"helm": {"values": "a: [1"}}).startswith("source.helm.values: not valid YAML (line 1, ")
    assert check({"jsonnet": {"extVars": {"1x": "a"}}}) == (
        "source.jsonnet.extVars[0].name: '1x' is not a Jsonnet identifier"
    )
    assert check({"kustomize": {}, "helm": {}}) == "source: set at most one of kustomize and helm"
    assert check({"kustomize": {"namePrefix": 1}}) == "source.kustomize.namePrefix: must be a string"
    assert check({"helm": {"releaseName": "Bad_Name"}}).startswith("source.helm.releaseName: 'Bad_Name'")
    spec = AppSpec("a", "https://x/y.git", source={"kustomize": {"images": ["nginx:1.27"]}}).validate()
    assert AppSpec.from_doc("a", spec.to_doc()) == spec and spec.to_doc()["source"] == {
        "kustomize": {"images": ["nginx:1.27"]}
    }


def test_render_once_per_digest_in_memory(tmp_path, monkeypatch):
    cache.clear()
    tree = git(tmp_path, BASE)
    calls = []
    real = sources.produce
    monkeypatch.setattr(sources, "produce", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = cache.render(tree, "repo", tree.commit, Request("overlays/prod"), shared=False)
    again = cache.render(tree, "repo", tree.commit, Request("overlays/prod", release="other"), shared=False)
    assert (first.cached, again.cached, len(calls)) == ("", "memory", 1)
    assert again.rendered is first.rendered and first.digest == again.digest
    other = cache.render(
        tree, "repo", tree.commit, Request("overlays/prod", {"kustomize": {"namePrefix": "x-"}}), shared=False
    )
    assert other.digest != first.digest and len(calls) == 2
    # Helm's release name and namespace are part of what it renders
    assert cache.key("r", "c", Request("chart", release="a"), "helm") != cache.key(
        "r", "c", Request("chart", release="b"), "helm"
    )
    cache.clear()


def printed(capsys) -> dict:
    """The JSON document the CLI printed (log lines may come before it)."""
    lines = capsys.readouterr().out.splitlines()
    return json.loads("\n".join(lines[lines.index("{") :]))


def test_cli_render_path_uses_sources(tmp_path, capsys):
    from shared.cli import main

    folder(tmp_path, {**BASE, **JSONNET})
    assert main.main(["render", str(tmp_path / "overlays/prod")]) == 1  # ../../base leaves PATH
    assert capsys.readouterr().out.strip() == (
        "kustomization.yaml:1:13: resources[0]: '../../base': leaves the repository (refused)"
    )
    (tmp_path / ".git").mkdir()  # inside a checkout, its top is the root
    assert (
        main.main(
            [
                "-o",
                "json",
                "render",
                str(tmp_path / "overlays/prod"),
                "--check",
                "RES001=off",
                "--check",
                "SEC004=off",
                "--check",
                "NET001=off",
            ]
        )
        == 0
    )
    assert printed(capsys)["source"] == "kustomize"
    assert (
        main.main(
            [
                "-o",
                "json",
                "render",
                str(tmp_path / "js"),
                "--source",
                "{jsonnet: {extVars: {env: dev}, tlas: {replicas: '2'}}}",
            ]
        )
        == 0
    )
    out = printed(capsys)
    assert (out["source"], out["objects"], out["errors"]) == ("jsonnet", 1, [])


def test_failed_renders_are_tried_again(tmp_path):
    cache.clear()
    tree = git(tmp_path, {"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    first = cache.render(tree, "repo", tree.commit, Request("app"), shared=False)
    again = cache.render(tree, "repo", tree.commit, Request("app"), shared=False)
    assert first.rendered.errors and (first.cached, again.cached) == ("", "")
    cache.clear()


def test_folders_read_outside_the_path_are_reported_for_routing(tmp_path):
    tree = git(tmp_path, {**BASE, **CHART, **JSONNET})

    def outside(req):
        return sources.produce(tree, req, sources.detect(tree, req.path, req.source)).outside(req.path)

    assert outside(Request("overlays/prod")) == ["base"]
    value_files = ["values-prod.yaml", "../values/shared.yaml"]
    assert outside(Request("chart", {"helm": {"valueFiles": value_files}})) == ["values"]
    jsonnet = {"extVars": {"env": "a"}, "tlas": {"replicas": "1"}}
    assert outside(Request("js", {"jsonnet": jsonnet})) == ["lib"]
    assert outside(Request("base")) == []


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "<<: {resources: [../other]}\n",
            "app/kustomization.yaml:1:1: <<: merge keys are not allowed in a kustomization (refused)",
        ),
        (
            "resources: [cm.yaml]\nresources: [../other]\n",
            "app/kustomization.yaml:2:1: resources: duplicate key in a kustomization (refused)",
        ),
    ],
)
def test_a_kustomization_we_would_read_differently_from_kustomize_is_refused(tmp_path, body, message):
    tree = git(tmp_path, {"app/kustomization.yaml": body, "app/cm.yaml": cm("a"), "other/cm.yaml": cm("b")})
    assert errors(sources.render(tree, Request("app"))[1]) == [message]


def test_a_plugin_source_is_refused_at_render_naming_the_plugin(tmp_path):
    tree = folder(tmp_path, {"app/cm.yaml": cm("a")})
    kind, out = sources.render(tree, Request("app", {"plugin": {"name": "kasane"}}))
    assert kind == "plugin" and not out.objects
    assert errors(out) == [
        "app: source.plugin: config management plugin 'kasane' is not supported: plugins run "
        "arbitrary tools outside the render sandbox; render its output into Git, or use a "
        "directory, kustomize, helm or jsonnet source"
    ]


def test_cli_render_warns_about_children_an_app_of_apps_could_not_register(tmp_path, capsys):
    from shared.cli import main

    child = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {}}}\n" + (
        "spec: {{source: {{repoURL: 'https://h/r.git', path: g{}}}, destination: {{namespace: web}}}}\n"
    )
    folder(
        tmp_path,
        {
            "apps/good.yaml": child.format("example.guestbook", ""),
            "apps/plugin.yaml": "# a plugin\n" + child.format("example.vault", ", plugin: {name: kasane}"),
        },
    )
    assert main.main(["render", str(tmp_path / "apps")]) == 0  # warnings, not errors
    shown = [line for line in capsys.readouterr().out.splitlines() if "app of apps" in line]
    assert shown == [
        "plugin.yaml:2:1: Application example.vault cannot be registered: spec.source.plugin: config "
        "management plugin 'kasane' is not supported: plugins run arbitrary tools outside the render "
        "sandbox; render its output into Git, or use a directory, kustomize, helm or jsonnet source "
        "[warning: app of apps]"
    ]
