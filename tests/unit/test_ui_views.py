"""The web UI's views (shared/ui/views.py), built from stored shapes without any server:
the list's rows and filters, which buttons each viewer gets, the resource tree's health and
sync state per object, history rows, diffs and drift records; then the pages rendered from
them (escaping, Secret values, landmarks and labels)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.adapters.store import App
from shared.core.model import AppSpec, Destination, SyncPolicy
from shared.ui import routes, views

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def app(name="web", project="default", sync="Synced", health="Healthy", **status):
    spec = AppSpec(
        name=name,
        repoURL="http://127.0.0.1/git/dana/repo.git",
        path="app",
        destination=Destination(namespace="shop"),
        syncPolicy=SyncPolicy(automated=True, prune=True),
        project=project,
    )
    st = {
        "sync": {
            "status": sync,
            "commit": "a" * 40,
            "revision": "rev-a",
            "target": {"commit": "b" * 40},
            "syncedAt": NOW - dt.timedelta(minutes=5),
        },
        "health": {"status": health, "message": ""},
        "historyCount": 2,
        **status,
    }
    return App(spec, st)  # type: ignore[arg-type]


def allow(*allowed):
    """A viewer's `can`: the (resource, action, object) triples it allows ('*' for any object)."""

    def can(resource, action, obj):
        return (resource, action, obj) in allowed or (resource, action, "*") in allowed

    return can


EVERYTHING = allow(*(("applications", a, "*") for a in ("get", "sync", "rollback")))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["a", "b", "c"]),
        ({"project": "shop"}, ["a", "b"]),
        ({"sync": "OutOfSync"}, ["b"]),
        ({"health": "Degraded"}, ["c"]),
        ({"project": "shop", "sync": "Synced"}, ["a"]),
        ({"name": "B"}, ["b"]),
        ({"sync": "Nonsense"}, ["a", "b", "c"]),  # not a status: ignored
        ({"project": "nobody"}, []),
    ],
)
def test_the_list_filters_by_project_sync_health_and_name(query, expected):
    apps = [
        app("c", "infra", health="Degraded"),
        app("a", "shop"),
        app("b", "shop", sync="OutOfSync", health="Progressing"),
    ]
    view = views.app_list(apps, views.Filters.of(query), EVERYTHING, NOW)
    assert [r.name for r in view.rows] == expected
    assert view.visible == 3
    assert view.projects == ("infra", "shop")


def test_the_list_shows_only_what_the_viewer_may_get_and_tallies_what_it_shows():
    apps = [app("a", "shop"), app("b", "shop", sync="OutOfSync"), app("c", "infra")]
    can = allow(("applications", "get", "shop/a"), ("applications", "get", "shop/b"))
    view = views.app_list(apps, views.Filters(), can, NOW)
    assert [r.name for r in view.rows] == ["a", "b"]
    assert view.projects == ("shop",)  # another project's name is not even offered
    assert view.by_sync == (("Synced", 1), ("OutOfSync", 1))


def test_a_row_carries_last_sync_drift_badge_pin_and_commits():
    row = views.app_row(
        app(
            drift={"objects": 2, "summary": "..."},
            pin={"commit": "c" * 40, "by": "dana@example.com", "reason": "", "at": NOW},
        ),
        NOW,
    )
    assert (row.live, row.target, row.drifted, row.pinned) == ("aaaaaaa", "bbbbbbb", 2, "ccccccc")
    assert row.synced_ago == "5 min ago" and row.synced_at.startswith("2026-11-30T11:55")
    assert row.destination == "in-cluster/shop"
    never = views.app_row(App(app().spec, {}), NOW)  # type: ignore[typeddict-item]
    assert (never.sync, never.health, never.synced_at, never.drifted) == ("Unknown", "", "", 0)
    failed_audit = views.app_row(app(drift={"error": "cluster unreachable"}), NOW)
    assert failed_audit.drifted == 0


@pytest.mark.parametrize(
    ("allowed", "pinned", "expected"),
    [
        ((), False, views.Buttons()),
        ((("applications", "get", "default/web"),), False, views.Buttons()),
        ((("applications", "sync", "default/web"),), False, views.Buttons(sync=True, pin=True)),
        ((("applications", "sync", "default/web"),), True, views.Buttons(sync=True, unpin=True)),
        ((("applications", "rollback", "default/web"),), False, views.Buttons(rollback=True)),
        ((("applications", "update", "default/web"),), False, views.Buttons()),
        ((("applications", "sync", "other/web"),), False, views.Buttons()),  # another project
        ((("applications", "sync", "default/shop"),), False, views.Buttons()),  # another app
    ],
)
def test_each_button_is_shown_only_when_the_viewer_may(allowed, pinned, expected):
    pin = {"commit": "a" * 40, "by": "x", "reason": "", "at": NOW} if pinned else None
    assert views.buttons(app(pin=pin), allow(*allowed)) == expected


def test_pin_is_offered_only_once_something_is_synced():
    never = App(app().spec, {})  # type: ignore[typeddict-item]
    assert views.buttons(never, EVERYTHING) == views.Buttons(sync=True, rollback=True)


ENTRIES = [
    {"apiVersion": "v1", "kind": "Service", "namespace": "shop", "name": "web", "digest": "d"},
    {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web", "digest": "d"},
    {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "conf", "digest": "d"},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "namespace": "", "name": "r"},
]
RESULTS = [
    {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "action": "configured",
        "health": "Progressing",
    },
    {
        "group": "",
        "kind": "Service",
        "namespace": "shop",
        "name": "web",
        "action": "unchanged",
        "health": "Healthy",
    },
]


def live_object(api_version, kind, name, uid="", owner="", **status):
    meta = {"name": name, "namespace": "shop", "uid": uid, "generation": 1}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "kind": "?", "name": "?"}]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": {}, "status": status}


def test_the_tree_groups_by_namespace_with_live_health_drift_and_what_the_cluster_made():
    web = live_object("apps/v1", "Deployment", "web", uid="d1", observedGeneration=0)  # rollout not seen
    live = {
        "Deployment.apps/shop/web": web,
        "ConfigMap/shop/conf": live_object("v1", "ConfigMap", "conf"),
        "ClusterRole.rbac.authorization.k8s.io/r": live_object(
            "rbac.authorization.k8s.io/v1", "ClusterRole", "r"
        ),
        # the Service is gone from the cluster
    }
    ready = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    related = [
        live_object(
            "apps/v1", "ReplicaSet", "web-1", uid="r1", owner="d1", observedGeneration=1, availableReplicas=1
        ),
        live_object("v1", "Pod", "web-1-b", uid="p2", owner="r1", phase="Pending"),
        live_object("v1", "Pod", "web-1-a", uid="p1", owner="r1", **ready),
        live_object("v1", "Pod", "other", uid="p3", owner="elsewhere"),
    ]
    status = {"drift": {"ids": ["ConfigMap/shop/conf"]}}
    tree = views.tree(ENTRIES, status, RESULTS, live, related)  # type: ignore[arg-type]
    assert [b.namespace for b in tree.branches] == ["", "shop"]
    shop = {n.kind: n for n in tree.branches[1].nodes}
    assert [n.kind for n in tree.branches[1].nodes] == ["ConfigMap", "Service", "Deployment"]
    assert (shop["Deployment"].health, shop["Deployment"].sync) == ("Progressing", "Synced")
    assert shop["Deployment"].health_message == "waiting for the rollout to be observed"
    assert shop["Deployment"].last_action == "configured"
    assert [(c.kind, c.name, c.depth, c.health) for c in shop["Deployment"].children] == [
        ("ReplicaSet", "web-1", 1, "Healthy"),
        ("Pod", "web-1-a", 2, "Healthy"),
        ("Pod", "web-1-b", 2, "Progressing"),
    ]
    assert (shop["Service"].health, shop["Service"].sync) == ("Missing", "OutOfSync")
    assert (shop["ConfigMap"].health, shop["ConfigMap"].sync, shop["ConfigMap"].children) == (
        "-",
        "OutOfSync",
        (),
    )
    assert tree.count == 4 and tree.live


def test_the_tree_shows_at_most_so_many_children_per_object():
    web = live_object("apps/v1", "Deployment", "web", uid="d1")
    pods = [live_object("v1", "Pod", f"web-{i:03d}", uid=f"p{i}", owner="d1") for i in range(45)]
    tree = views.tree(ENTRIES[1:2], {}, [], {"Deployment.apps/shop/web": web}, pods)
    node = tree.branches[0].nodes[0]
    assert len(node.children) == views.CHILDREN_SHOWN and node.more_children == 45 - views.CHILDREN_SHOWN


def test_the_tree_falls_back_to_the_recorded_health_when_the_cluster_cannot_be_read():
    tree = views.tree(ENTRIES, {}, RESULTS, None, note="the cluster could not be read")
    shop = {n.kind: n for n in tree.branches[1].nodes}
    assert shop["Deployment"].health == "Progressing"
    assert shop["Service"].sync == "Synced"
    assert shop["ConfigMap"].health == "-"
    assert not tree.live and tree.note


ENTRY = {
    "sequence": 3,
    "revision": "rev-3",
    "commit": "c" * 40,
    "author": "Dana <dana@example.com>",
    "commitMessage": "bump image\n\nlong body",
    "initiator": "manual",
    "triggeredBy": "ops@example.com",
    "operation": "sync-123",
    "phase": "Failed",
    "health": {"status": "Degraded"},
    "counts": {"configured": 1, "unchanged": 3},
    "hooks": [
        {"kind": "Job", "namespace": "shop", "name": "migrate", "phase": "PreSync", "status": "Succeeded"},
        {
            "kind": "Job",
            "namespace": "shop",
            "name": "check",
            "phase": "PostSync",
            "status": "Failed",
            "message": "BackoffLimitExceeded",
            "deleted": True,
        },
    ],
    "resources": RESULTS,
    "finishedAt": NOW - dt.timedelta(hours=2),
    "durationSeconds": 4.25,
    "summary": "sync 3 of ccccccc by manual: ...",
}


def test_a_history_row_says_who_what_and_how_it_ended():
    row = views.history_row(ENTRY, NOW)
    assert (row.sequence, row.by, row.commit, row.phase, row.health) == (
        3,
        "ops@example.com",
        "ccccccc",
        "Failed",
        "Degraded",
    )
    assert row.counts == "1 configured, 3 unchanged"
    assert row.hooks == "2 hooks: 1 Failed, 1 Succeeded"
    assert row.commit_message == "bump image"
    assert (row.finished_ago, row.duration) == ("2 h ago", "4.2 s")


def test_history_is_newest_first_and_marks_the_entry_the_cluster_runs():
    entries = [dict(ENTRY, sequence=i, revision=f"rev-{i}") for i in (1, 2, 3)]
    h = views.history(entries, app(sync="Synced"), EVERYTHING, NOW)
    assert [r.sequence for r in h.rows] == [3, 2, 1]
    assert h.can_rollback
    a = app()
    a.status["sync"]["revision"] = "rev-2"
    assert views.history(entries, a, allow(), NOW).live_sequence == 2
    again = [*entries, dict(ENTRY, sequence=4, revision="rev-2")]  # rolled back to entry 2
    assert (
        views.history(again, a, allow(), NOW).live_sequence,
        views.history(again, a, allow(), NOW).current,
    ) == (
        4,
        frozenset({2, 4}),
    )
    assert not views.history(entries, a, allow(), NOW).can_rollback


def test_a_history_entry_lists_per_object_and_hook_results():
    detail = views.history_detail(ENTRY, app(), allow(), NOW)
    assert [(o.key, o.action, o.health) for o in detail.results] == [
        ("Deployment.apps/shop/web", "configured", "Progressing"),
        ("Service/shop/web", "unchanged", "Healthy"),
    ]
    assert [(h.name, h.phase, h.status, h.deleted) for h in detail.hooks] == [
        ("migrate", "PreSync", "Succeeded", False),
        ("check", "PostSync", "Failed", True),
    ]
    assert not detail.can_rollback


def test_diff_lines_are_marked_by_kind():
    text = "--- live/x\n+++ desired/x\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"
    f = views.file_diff("ConfigMap/shop/x", text)
    assert [line.kind for line in f.lines] == ["file", "file", "hunk", "ctx", "del", "add"]
    assert (f.added, f.removed) == (1, 1)


def test_a_drift_record_names_field_manager_and_person():
    record = {
        "detectedAt": NOW - dt.timedelta(minutes=1),
        "commit": "a" * 40,
        "action": "self-healed",
        "objectCount": 3,
        "objects": [
            {
                "object": "Deployment.apps/shop/web",
                "drift": "modified",
                "writtenBy": "mallory@example.com",
                "fields": [
                    {
                        "path": "spec.replicas",
                        "desired": 2,
                        "live": 5,
                        "manager": "kubectl-scale",
                        "operation": "Update",
                        "time": "2026-11-30T11:58:00Z",
                    },
                ],
            },
            {"object": "ConfigMap/shop/conf", "drift": "missing", "fields": []},
        ],
    }
    d = views.drift_record(record, NOW)
    web = d.objects[0]
    assert (web.written_by, web.fields[0].manager, web.fields[0].desired, web.fields[0].live) == (
        "mallory@example.com",
        "kubectl-scale",
        "2",
        "5",
    )
    assert d.more == 1 and d.commit == "aaaaaaa" and d.detected_ago == "1 min ago"


class Viewer:
    principal = "dana@example.com"
    groups = ("dev",)

    def __init__(self, can):
        self.can = can


def page(template, **context):
    return routes.render(template, **{"app": "", "tab": "", "viewer": Viewer(EVERYTHING), **context}).decode()


def test_the_list_page_escapes_what_git_and_people_wrote_and_labels_its_controls():
    hostile = app("web", project="<script>alert(1)</script>")
    view = views.app_list([hostile], views.Filters(), EVERYTHING, NOW)
    html = page("list.html", title="Applications", view=view)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    for control in ("f-name", "f-project", "f-sync", "f-health"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html
    assert '<main id="main"' in html and 'role="banner"' in html and '<th scope="col">Sync</th>' in html
    assert "<script>" not in html.replace('<script src="/ui/static/app.js', "")  # no inline script


def test_buttons_carry_the_rest_path_and_a_json_body_in_an_attribute():
    a = app(pin=None)
    header = views.header(a, EVERYTHING, NOW)
    tree = views.tree([], a.status, [], {})
    html = page("tree.html", title="web", app="web", tab="tree", header=header, tree=tree)
    assert 'data-url="/api/v1/applications/web/sync"' in html
    assert 'data-body="{&#34;revision&#34;: &#34;' + "a" * 40 + '&#34;}"' in html  # pin the live commit
    assert 'aria-current="page"' in html
    nothing = views.header(a, allow(("applications", "get", "default/web")), NOW)
    html = page("tree.html", title="web", app="web", tab="tree", header=nothing, tree=tree)
    assert "data-action" not in html


def test_the_diff_page_shows_secret_values_only_as_the_diff_step_masked_them():
    text = (
        "--- live/Secret/shop/s\n+++ desired/Secret/shop/s\n@@ -1 +1 @@\n"
        "-  password: sha256:1111\n+  password: sha256:2222\n"
    )
    a = app()
    view = views.DiffView("live", (views.file_diff("Secret/shop/s", text),), (), 0, 0, "")
    html = page(
        "diff.html",
        title="web: diff",
        app="web",
        tab="diff",
        header=views.header(a, EVERYTHING, NOW),
        diff=view,
    )
    assert "sha256:2222" in html and "removed: </span>" in html


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ui/static/app.css", 200),
        ("HEAD", "/ui/static/app.js", 200),
        ("POST", "/ui/static/app.js", 405),
        ("POST", "/applications", 405),
        ("DELETE", "/applications/web", 405),
        ("GET", "/ui/static/../routes.py", None),
        ("GET", "/ui/static/nothing.css", None),
        ("GET", "/elsewhere", None),
        ("GET", "/applications/web/secrets", None),
    ],
)
def test_routes_serve_static_files_refuse_writes_and_leave_other_paths(method, path, status):
    answer = routes.handle(method, path, {}, Viewer(EVERYTHING))
    assert (answer.status if answer else None) == status
    if answer and status == 200:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "immutable" in answer.headers["Cache-Control"]
        assert (answer.body == b"") == (method == "HEAD")


def test_static_urls_change_with_the_content():
    url = routes._static_url("app.css")
    assert url.startswith("/ui/static/app.css?v=") and len(url.split("=")[1]) == 12
