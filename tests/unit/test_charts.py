"""Helm chart dependencies and where they come from (shared/core/charts.py)."""

import json
import re

import pytest

from shared.core import charts, versions
from shared.core.charts import Dependency


def test_dependencies_from_chart_yaml_else_requirements_yaml():
    v2 = {
        "dependencies": [
            {"name": "db", "version": "1.x", "repository": "file://../db", "alias": "x"},
            {"v": 1},
        ]
    }
    assert charts.dependencies(v2) == [Dependency("db", "1.x", "file://../db", "x")]
    assert charts.declared_in(v2) == "Chart.yaml" and charts.declared_in({}, {"dependencies": []}) == (
        "requirements.yaml"
    )
    v2b = {"dependencies": [{"v": 1}, {"name": "db"}]}
    assert charts.dependencies(v2b) == [Dependency("db", index=1)]
    v1 = {"dependencies": [{"name": "redis", "repository": "https://charts.example.com"}]}
    assert charts.dependencies({"apiVersion": "v1"}, v1) == [
        Dependency("redis", "", "https://charts.example.com")
    ]
    assert charts.dependencies(None) == [] and charts.dependencies({"dependencies": "x"}) == []


@pytest.mark.parametrize(
    "chart, repository, path, problem",
    [
        ("apps/shop", "file://../../libs/db", "libs/db", None),
        ("apps/shop", "file://./sub", "apps/shop/sub", None),
        (".", "file://libs/db", "libs/db", None),
        ("apps/shop", "file://../../../etc", None, "leaves the repository"),
        ("apps/shop", "file:///etc", None, "must be a path relative to the chart"),
        ("apps/shop", "file://", None, "must be a path relative to the chart"),
    ],
)
def test_local_paths_stay_in_the_repository(chart, repository, path, problem):
    found, why = charts.local_path(chart, Dependency("db", repository=repository))
    assert found == path
    assert (why is None) if problem is None else (problem in why)


AVAILABLE = [
    "0.1.0",
    "0.2.3",
    "0.2.9",
    "1.0.0",
    "1.2.0",
    "1.2.7",
    "1.3.0-rc.1",
    "1.3.0",
    "1.10.0",
    "2.0.0",
    "v2.1",
]


@pytest.mark.parametrize(
    "constraint, picked",
    [
        ("", "v2.1"),  # latest stable
        ("*", "v2.1"),
        ("1.2.7", "1.2.7"),  # exact
        ("=1.2.0", "1.2.0"),
        ("1.2", "1.2.7"),  # a partial version is a wildcard, as 1.2.x
        ("1.2.x", "1.2.7"),
        ("1.x", "1.10.0"),  # 1.10 > 1.3: numeric order, not text
        ("~1.2.3", "1.2.7"),
        ("~1", "1.10.0"),
        ("^1.2.0", "1.10.0"),
        ("^0.2.3", "0.2.9"),  # below 1.0 the minor is fixed
        ("^0.0.1", None),
        (">=1.2.0 <1.3.0", "1.2.7"),  # spaces join terms
        (">=1.2.0, <1.3.0", "1.2.7"),  # and commas
        (">= 1.2.0, < 1.3", "1.2.7"),
        (">1.2", "v2.1"),
        ("<=1.2.x", "1.2.7"),  # a wildcard upper bound includes its whole range
        ("!=2.x, >=1.0", "1.10.0"),
        ("1.0.0 - 1.2", "1.2.7"),  # hyphen range
        ("~0.1 || ^2.0.0", "v2.1"),  # alternatives
        ("1.3.0-rc.1", "1.3.0-rc.1"),  # pre-releases only when a term asks for one
        (">=1.3.0-0", "v2.1"),
        (">=1.3.0-0 <1.3.0", None),  # each term: <1.3.0 names none
        ("<1.3.0", "1.2.7"),
        ("~1.3.0-0", "1.3.0"),
        (">=3", None),
    ],
)
def test_version_constraints_resolve_as_helm_does(constraint, picked):
    assert versions.resolve(constraint, AVAILABLE) == picked


@pytest.mark.parametrize("bad", ["latest", ">=1.2.3.4", "~>", "1.2 -", "main"])
def test_not_a_constraint(bad):
    with pytest.raises(versions.ConstraintError):
        versions.constraint(bad)


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://charts.example.com", None),
        ("http://127.0.0.1:8879/charts/", None),
        ("oci://registry.example.com/charts", None),
        ("ftp://charts.example.com", "must be a Helm repository URL"),
        ("git@github.com:org/charts.git", "must be a Helm repository URL"),
        ("https://user:pw@charts.example.com", "must not hold a query, a fragment or credentials"),
        ("https://charts.example.com/?x=1", "must not hold a query"),
    ],
)
def test_chart_repository_urls(url, problem):
    found = charts.repository_problem(url)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    "repo, url, absolute, problem",
    [
        ("https://h/charts", "web-1.0.0.tgz", "https://h/charts/web-1.0.0.tgz", None),
        ("https://h/charts/", "sub/web-1.0.0.tgz", "https://h/charts/sub/web-1.0.0.tgz", None),
        ("https://h/charts", "https://h/other/web.tgz", "https://h/other/web.tgz", None),
        ("https://h/charts", "https://evil.example/web.tgz", None, "on another host"),
        ("https://h/charts", "http://h/charts/web.tgz", None, "on another host"),  # scheme downgrade
        ("https://h/charts", "file:///etc/passwd", None, "not an http(s) URL"),
    ],
)
def test_archive_urls_stay_on_the_repositorys_host(repo, url, absolute, problem):
    found, why = charts.chart_url(repo, url)
    assert found == absolute
    assert (why is None) if problem is None else (problem in why)


def test_releases_of_an_index():
    digest = "a" * 64
    index = {
        "entries": {
            "web": [
                {"version": "1.0.0", "urls": ["web-1.0.0.tgz"], "digest": digest, "created": "2026-01-01"},
                {"version": "1.1.0", "urls": ["web-1.1.0.tgz"], "digest": "sha256:" + "B" * 64},
                {"version": "1.2.0", "urls": []},  # no archive: left out
                {"version": "1.3.0", "urls": ["x.tgz"], "digest": "not-a-digest"},
            ]
        }
    }
    found = charts.releases(index, "web")
    assert [(r.version, r.digest) for r in found] == [("1.0.0", digest), ("1.1.0", "b" * 64), ("1.3.0", "")]
    assert charts.releases(index, "db") == [] and charts.releases("junk", "web") == []


@pytest.mark.parametrize(
    "url, user",
    [
        ("https://charts.example.com/private", "deep"),  # the longest prefix wins
        ("https://charts.example.com/private/", "deep"),
        ("https://charts.example.com/public", "host"),
        ("https://charts.example.com.evil.net/private", None),  # a prefix is a path, not text
        ("https://other.example.com/private", None),
    ],
)
def test_chart_repository_credentials_by_url_prefix(monkeypatch, url, user):
    from shared.adapters import credentials

    store = {
        "https://charts.example.com": {"username": "host", "password": "p1"},
        "https://charts.example.com/private": {"username": "deep", "password": "p2"},
    }
    monkeypatch.setenv("GITOPS_REPO_CREDENTIALS", json.dumps(store))
    found = credentials.for_url(url)
    assert (found.username if found else None) == user


def test_chart_applications_validate_and_import_from_argo_cd():
    from shared.core import argocd
    from shared.core.model import AppSpec, SpecError

    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "example.nginx"},
        "spec": {
            "source": {
                "repoURL": "https://charts.example.com",
                "chart": "nginx",
                "targetRevision": "15.x",
                "helm": {"parameters": [{"name": "image.tag", "value": "1.27"}], "valuesObject": {"a": 1}},
            },
            "destination": {"namespace": "web"},
        },
    }
    spec, warnings = argocd.application(doc)
    assert (spec.chart, spec.chart_version, warnings) == ("nginx", "15.x", [])
    assert spec.source["helm"] == {"parameters": [{"name": "image.tag", "value": "1.27"}], "values": {"a": 1}}
    assert AppSpec.from_doc(spec.name, spec.to_doc()) == spec
    assert "chart" not in AppSpec(name="a", repoURL="git@h:r").to_doc()
    assert AppSpec(name="a", repoURL="https://c", chart="web").validate().chart_version == "*"
    inside = {"helm": {"valueFiles": ["values-prod.yaml", "env/qa.yaml"]}}  # files of the chart
    assert AppSpec(name="a", repoURL="https://c", chart="web", source=inside).validate().chart == "web"
    for bad, message in [
        ({"targetRevision": "main"}, "targetRevision: 'main' is not a chart version"),
        ({"repoURL": "ssh://r/c"}, "must be a Helm repository URL"),
        ({"source": {"helm": {"valueFiles": ["../v.yaml"]}}}, "must be a path inside the chart"),
        ({"source": {"helm": {"valueFiles": ["/v.yaml"]}}}, "must be a path inside the chart"),
        ({"source": {"helm": {"valueFiles": ["a//v.yaml"]}}}, "must be a path inside the chart"),
        ({"source": {"helm": {"valueFiles": ["$values/v.yaml"]}}}, "$values names no ref source"),
    ]:
        with pytest.raises(SpecError, match=re.escape(message)):
            AppSpec(**{"name": "a", "repoURL": "https://c", "chart": "web", **bad}).validate()


@pytest.mark.parametrize(
    "repo, base, path",
    [
        ("oci://registry.example.com/charts", "https://registry.example.com", "charts/web"),
        ("oci://registry.example.com", "https://registry.example.com", "web"),
        ("oci://127.0.0.1:5000/a/b/", "http://127.0.0.1:5000", "a/b/web"),  # loopback: plain http
        ("oci://localhost:5000/x", "http://localhost:5000", "x/web"),
    ],
)
def test_oci_references(repo, base, path):
    assert charts.oci_reference(repo, "web") == (base, path)


def test_oci_tags_manifests_and_challenges():
    assert charts.oci_versions({"tags": ["1.0.0", "1.1.0_build.1", 3]}) == ["1.0.0", "1.1.0+build.1"]
    layer = {"mediaType": charts.HELM_LAYER, "digest": "sha256:" + "c" * 64}
    config = {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "sha256:" + "d" * 64}
    assert charts.oci_chart_layer({"layers": [config, layer]}) == "c" * 64
    assert charts.oci_chart_layer({"layers": [config]}) is None
    header = 'Bearer realm="https://auth.example.com/token",service="registry",scope="repository:c/web:pull"'
    assert charts.bearer_challenge(header) == {
        "realm": "https://auth.example.com/token",
        "service": "registry",
        "scope": "repository:c/web:pull",
    }
    assert charts.bearer_challenge('Basic realm="x"') is None


MULTI = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "multi"},
    "spec": {
        "sources": [
            {
                "repoURL": "https://charts.example.com",
                "chart": "web",
                "targetRevision": "1.x",
                "helm": {"valueFiles": ["$values/envs/prod/values.yaml"]},
            },
            {"repoURL": "https://git.example.com/org/config.git", "targetRevision": "main", "ref": "values"},
        ],
        "destination": {"namespace": "web"},
    },
}


def test_multi_source_chart_with_values_from_git():
    from shared.core import argocd
    from shared.core.model import AppSpec

    spec, warnings = argocd.application(MULTI)
    assert warnings == [] and spec.chart == "web"
    assert spec.refSources == (
        {"ref": "values", "repoURL": "https://git.example.com/org/config.git", "targetRevision": "main"},
    )
    assert AppSpec.from_doc(spec.name, spec.to_doc()) == spec


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s[1].update(path="x"), "spec.sources: supported is one chart source and ref sources"),
        (lambda s: s[0].pop("chart"), "spec.sources: supported is one chart source"),
        (
            lambda s: s[0]["helm"].update(valueFiles=["$other/v.yaml"]),
            "$other names no ref source",
        ),
        (lambda s: s[0]["helm"].update(valueFiles=["$values/../v.yaml"]), "must stay inside the repository"),
        (lambda s: s[1].update(repoURL="not a url"), "refSources[0].repoURL"),
    ],
)
def test_multi_source_refusals(change, message):
    import copy

    from shared.core import argocd
    from shared.core.model import SpecError

    doc = copy.deepcopy(MULTI)
    change(doc["spec"]["sources"])
    with pytest.raises(SpecError, match=re.escape(message)):
        argocd.application(doc)
