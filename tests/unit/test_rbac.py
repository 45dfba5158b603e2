"""Argo CD's RBAC model (shared/core/rbac.py): parsing with errors that name line and field,
globs on action and object, deny wins, built-in roles, policy.default, nested bindings, and
project roles that cannot reach outside their project."""

from __future__ import annotations

import pytest

from shared.core import rbac

POLICY = """
# the platform team runs everything; developers sync their own project's apps
g, platform@example.com, role:admin
p, role:dev, applications, get, */*, allow
p, role:dev, applications, sync, team-a/*, allow
p, role:dev, applications, sync, team-a/payments-*, deny
p, role:dev, applications, action/apps/Deployment/*, team-a/*, allow
g, group:developers, role:dev
g, role:senior, role:dev
g, sam@example.com, role:senior
p, role:auditor, logs, get, */*, allow
p, role:auditor, *, update, *, deny
p, role:auditor, *, *, *, allow
g, ada@example.com, role:auditor
p, eve@example.com, applications, delete, team-b/api, allow
"""


def can(
    policy: rbac.Policy, who: str, resource: str, action: str, obj: str, groups: tuple[str, ...] = ()
) -> bool:
    return rbac.allowed(policy, rbac.subject(policy, who, groups), resource, action, obj)


@pytest.mark.parametrize(
    ("who", "groups", "resource", "action", "obj", "expected"),
    [
        # built-in role:admin through a binding
        ("platform@example.com", (), "applications", "delete", "prod/api", True),
        ("platform@example.com", (), "clusters", "create", "in-cluster", True),
        # a group binding; glob on the object; deny wins over the broader allow
        ("dev@example.com", ("developers",), "applications", "sync", "team-a/web", True),
        ("dev@example.com", ("developers",), "applications", "sync", "team-a/payments-eu", False),
        ("dev@example.com", ("developers",), "applications", "sync", "team-b/web", False),
        ("dev@example.com", ("developers",), "applications", "get", "team-b/web", True),
        ("dev@example.com", ("developers",), "applications", "delete", "team-a/web", False),
        # glob on the action
        (
            "dev@example.com",
            ("developers",),
            "applications",
            "action/apps/Deployment/restart",
            "team-a/w",
            True,
        ),
        ("dev@example.com", ("developers",), "applications", "action/batch/Job/x", "team-a/w", False),
        # nested roles: sam -> role:senior -> role:dev
        ("sam@example.com", (), "applications", "sync", "team-a/web", True),
        # a resource wildcard with a deny
        ("ada@example.com", (), "projects", "get", "team-a", True),
        ("ada@example.com", (), "applications", "update", "team-a/web", False),
        # a user named directly, exactly one object
        ("eve@example.com", (), "applications", "delete", "team-b/api", True),
        ("eve@example.com", (), "applications", "delete", "team-b/api2", False),
        # deny by default: nobody, and nothing not named
        ("nobody@example.com", (), "applications", "get", "team-a/web", False),
        ("dev@example.com", ("developers",), "repositories", "get", "https://x", False),
        # a group spelled like a role gets nothing by that name
        ("mallory@example.com", ("role:admin",), "applications", "delete", "a/b", False),
        # a group spelled like someone's e-mail is not that person; a bare name is no group
        ("mallory@example.com", ("platform@example.com",), "applications", "delete", "a/b", False),
        ("developers", (), "applications", "sync", "team-a/web", False),
        ("group:developers", (), "applications", "sync", "team-a/web", False),
    ],
)
def test_decisions(who, groups, resource, action, obj, expected):
    assert can(rbac.parse(POLICY), who, resource, action, obj, groups) is expected


def test_policy_default_gives_every_caller_a_role():
    policy = rbac.parse("p, role:dev, applications, sync, */*, allow", default="role:readonly")
    assert can(policy, "anyone@example.com", "applications", "get", "x/y")
    assert can(policy, "anyone@example.com", "clusters", "get", "in-cluster")
    assert not can(policy, "anyone@example.com", "applications", "sync", "x/y")
    assert not can(rbac.parse(""), "anyone@example.com", "applications", "get", "x/y")


def test_a_deny_beats_role_admin():
    policy = rbac.parse(
        "g, root@example.com, role:admin\np, root@example.com, applications, delete, prod/*, deny"
    )
    assert not can(policy, "root@example.com", "applications", "delete", "prod/db")
    assert can(policy, "root@example.com", "applications", "delete", "dev/db")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p, role:x, applications, get, */*", "policy.csv:1: a p line has 6 fields"),
        ("\n\np, role:x, apps, get, */*, allow", "policy.csv:3: field 3 (resource): 'apps' is not one of"),
        ("p, role:x, applications, push, */*, allow", "policy.csv:1: field 4 (action): 'push'"),
        ("p, role:x, applications, get, guestbook, allow", "policy.csv:1: field 5 (object): 'guestbook'"),
        ("p, role:x, applications, get, */*, maybe", "policy.csv:1: field 6 (effect): 'maybe'"),
        ("p, , applications, get, */*, allow", "policy.csv:1: field 2 (subject): empty"),
        ("g, alice@example.com", "policy.csv:1: a g line has 3 fields"),
        ("x, a, b", "policy.csv:1: field 1 (type): 'x' is not p or g"),
    ],
)
def test_malformed_lines_are_refused_naming_line_and_field(text, message):
    with pytest.raises(rbac.PolicyError) as err:
        rbac.parse(text)
    assert str(err.value).startswith(message), err.value


ROLES = [
    {
        "name": "deployer",
        "policies": [
            "p, proj:team-a:deployer, applications, sync, team-a/*, allow",
            "p, proj:team-a:deployer, applications, get, team-a/*, allow",
        ],
        "groups": ["team-a-devs"],
    }
]


def test_a_project_role_reaches_its_project_only():
    policy = rbac.project_policy("team-a", ROLES)
    assert can(policy, "x@example.com", "applications", "sync", "team-a/web", ("team-a-devs",))
    assert not can(policy, "x@example.com", "applications", "sync", "team-b/web", ("team-a-devs",))
    assert not can(policy, "x@example.com", "applications", "sync", "team-a/web")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p, proj:team-a:deployer, applications, sync, team-b/*, allow", "field 5 (object): 'team-b/*'"),
        ("p, proj:team-a:deployer, applications, sync, */*, allow", "field 5 (object): '*/*'"),
        ("p, proj:team-a:deployer, applications, sync, *, allow", "field 5 (object): '*'"),
        ("p, proj:team-b:deployer, applications, sync, team-a/*, allow", "field 2 (subject)"),
        ("p, role:admin, applications, sync, team-a/*, allow", "field 2 (subject)"),
        ("p, proj:team-a:deployer, clusters, get, team-a/x, allow", "field 3 (resource)"),
        ("g, x, proj:team-a:deployer", "field 1 (type)"),
    ],
)
def test_a_project_role_cannot_name_anything_outside_its_project(line, message):
    with pytest.raises(rbac.PolicyError) as err:
        rbac.project_policy("team-a", [{"name": "deployer", "policies": [line]}])
    assert "project team-a spec.roles[0].policies[0]" in str(err.value) and message in str(err.value)


def test_the_policy_survives_its_stored_form():
    policy = rbac.parse(POLICY, default="role:readonly")
    assert rbac.Policy.from_doc(policy.to_doc()) == policy


def test_an_appproject_keeps_its_roles_and_refuses_one_that_reaches_out():
    from shared.core import argocd
    from shared.core.errors import SpecError

    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team-a"},
        "spec": {"sourceRepos": ["*"], "roles": ROLES},
    }
    _, project, warnings = argocd.project(doc)
    assert project["roles"][0]["groups"] == ["team-a-devs"] and not warnings
    doc["spec"]["roles"] = [
        {"name": "x", "policies": ["p, proj:team-a:x, applications, get, team-b/*, allow"]}
    ]
    with pytest.raises(SpecError, match=r"spec.roles\[0\].policies\[0\]:1: field 5 \(object\)"):
        argocd.project(doc)


@pytest.mark.parametrize(
    ("project", "cluster", "expected"),
    [
        ("team-a", "in-cluster", None),
        ("team-a", rbac.CONTROL_PLANE, "targets gitops-control-plane"),  # no caller to check
        ("default", rbac.CONTROL_PLANE, "targets gitops-control-plane"),
        ("team-b", "in-cluster", "asks for project 'team-b'"),
    ],
)
def test_an_app_of_apps_child_never_targets_the_control_plane(project, cluster, expected):
    problem = rbac.child_problem("parent", "team-a", "child", project, cluster)
    assert problem is None if expected is None else expected in (problem or "")


@pytest.mark.parametrize(
    ("cluster", "checks"),
    [
        ("in-cluster", [("applications", "create", "p/a")]),
        (rbac.CONTROL_PLANE, [("applications", "create", "p/a"), ("clusters", "update", rbac.CONTROL_PLANE)]),
    ],
)
def test_writing_a_control_plane_application_needs_clusters_update(cluster, checks):
    assert rbac.write_checks("p", "a", cluster, "create") == checks
