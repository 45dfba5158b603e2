"""Helm chart dependencies and where they come from (shared/core/charts.py)."""

import pytest

from shared.core import charts
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
