"""Which folder shards hold a route, and which a push reads (shared/adapters/store/routing.py)."""

from __future__ import annotations

import json

import pytest

from shared.adapters import store
from shared.adapters.store import routing
from shared.core.model import RepoApps


@pytest.mark.parametrize(
    ("route", "folders"),
    [
        ({"path": "apps/web"}, ["apps/web"]),
        ({"path": "./"}, [""]),
        ({"path": "."}, [""]),
        ({"path": "/apps/web/", "watchPaths": ["base", "apps/web"]}, ["apps/web", "base"]),
        ({"path": "apps/web", "reads": ["charts/common"]}, ["apps/web", "charts/common"]),
    ],
)
def test_route_folders(route, folders):
    assert store.route_folders(route) == folders


@pytest.mark.parametrize(
    ("changed", "folders"),
    [
        (frozenset(), {""}),
        (frozenset({"README.md"}), {"", "README.md"}),
        (frozenset({"apps/web/deploy.yaml"}), {"", "apps", "apps/web", "apps/web/deploy.yaml"}),
        (
            frozenset({"apps/a/x.yaml", "apps/b/y.yaml"}),
            {"", "apps", "apps/a", "apps/b", "apps/a/x.yaml", "apps/b/y.yaml"},
        ),
    ],
)
def test_push_folders(changed, folders):
    assert store.push_folders(changed) == folders


def test_a_push_reads_every_shard_that_holds_an_application_it_concerns():
    """Whatever RepoApps.concerned picks for a push is in the shards push_folders names."""
    from shared.core.model import AppSpec

    specs = (
        AppSpec(name="root", repoURL="r", path="."),
        AppSpec(name="web", repoURL="r", path="apps/web"),
        AppSpec(name="base-user", repoURL="r", path="apps/api", watchPaths=("base",)),
        AppSpec(name="file", repoURL="r", path="apps/x", watchPaths=("values.yaml",)),
    )
    routes = {s.name: {"path": s.path, "watchPaths": list(s.watchPaths)} for s in specs}
    for changed in ({"apps/web/a.yaml"}, {"base/k.yaml"}, {"values.yaml"}, {"apps/api/z/y.yaml"}):
        concerned = RepoApps(specs).concerned(frozenset(changed))
        read = store.push_folders(frozenset(changed))
        assert concerned and all(set(store.route_folders(routes[n])) & read for n in concerned)


@pytest.mark.parametrize(
    "steps",
    [
        [("put", "a", {"path": "apps/a"})],
        [("put", "a", {"path": "apps/a"}), ("put", "b", {"path": "apps/b", "reads": ["base"]})],
        [("put", "a", {"path": "apps/a"}), ("put", "a", {"path": "apps/a", "reads": ["base"]})],
        [("put", "a", {"path": "x"}), ("put", "b", {"path": "y"}), ("pop", "a", None), ("pop", "b", None)],
        [("put", "ü", {"path": "é/ß"}), ("pop", "missing", None)],
    ],
)
def test_a_shelf_keeps_at_least_the_size_of_its_json(steps):
    """The running size a placement checks the bound with is never below the JSON written,
    and at most 2 bytes above it (no json.dumps of every route per placement)."""
    shelf = routing.Shelf('{"z": {"path": "z"}}')
    for op, name, route in steps:
        if op == "put":
            shelf.put(name, route)
        else:
            shelf.pop(name)
        assert 0 <= shelf.bytes - len(shelf.text()) <= 2


def test_a_shelf_fits_what_its_limit_holds():
    shelf = routing.Shelf()
    route = {"path": "apps/a"}
    limit = len(json.dumps({"a": route}, sort_keys=True)) + 2
    assert shelf.fits("a", route, limit) and not shelf.fits("a", route, limit - 3)
    shelf.put("a", route)
    assert shelf.fits("a", {"path": "apps/b"}, limit)  # replacing itself does not grow it
    assert not shelf.fits("b", route, limit)
