"""Helm chart dependencies and where they come from (shared/core/charts.py)."""

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
