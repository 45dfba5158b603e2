"""The RBAC that holds a project's ServiceAccount to the project (shared/core/kuberbac): table
tests of kinds to resources, and of what each project shape generates or refuses."""

from __future__ import annotations

import pytest

from shared.core import kuberbac, projects

TEAM = {
    "sourceRepos": ["*"],
    "destinations": [
        {"cluster": "in-cluster", "namespace": "team-a"},
        {"cluster": "in-cluster", "namespace": "team-a-jobs"},
        {"cluster": "prod", "namespace": "team-a-prod"},
    ],
    "clusterResourceWhitelist": [],
}


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("Deployment", "deployments"),
        ("Ingress", "ingresses"),
        ("NetworkPolicy", "networkpolicies"),
        ("Gateway", "gateways"),
        ("StorageClass", "storageclasses"),
        ("Endpoints", "endpoints"),
        ("Mesh", "meshes"),
        ("Box", "boxes"),
        ("*", "*"),
    ],
)
def test_resource_of(kind, resource):
    assert kuberbac.resource_of(kind) == resource


def kinds(objs):
    return [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs]


def by_name(objs, kind, name):
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_a_team_gets_its_namespaces_and_nothing_cluster_wide_but_them():
    out = kuberbac.generate("team-a", TEAM, "in-cluster")
    assert kinds(out.objects) == [
        ("Namespace", "", "gitops-projects"),
        ("Namespace", "", "team-a"),
        ("Namespace", "", "team-a-jobs"),
        ("ServiceAccount", "gitops-projects", "project-team-a"),
        ("ClusterRole", "", "gitops-project:team-a"),
        ("RoleBinding", "team-a", "gitops-project:team-a"),
        ("RoleBinding", "team-a-jobs", "gitops-project:team-a"),
        ("ClusterRole", "", "gitops-project:team-a:cluster"),
        ("ClusterRoleBinding", "", "gitops-project:team-a:cluster"),
    ]
    assert by_name(out.objects, "ClusterRole", "gitops-project:team-a")["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": kuberbac.VERBS}
    ]
    assert by_name(out.objects, "ClusterRole", "gitops-project:team-a:cluster")["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "verbs": ["get", "patch"],
            "resourceNames": ["team-a", "team-a-jobs"],
        }
    ]
    binding = next(o for o in out.objects if o["kind"] == "RoleBinding")
    assert binding["roleRef"]["name"] == "gitops-project:team-a"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "project-team-a", "namespace": "gitops-projects"}
    ]
    assert kuberbac.impersonated_user("team-a") == "system:serviceaccount:gitops-projects:project-team-a"
    assert out.notes == []


def test_another_cluster_gets_its_own_destinations():
    out = kuberbac.generate("team-a", TEAM, "prod")
    assert [n for k, _, n in kinds(out.objects) if k == "RoleBinding"] == ["gitops-project:team-a"]
    assert [ns for k, ns, _ in kinds(out.objects) if k == "RoleBinding"] == ["team-a-prod"]


def test_the_default_project_allows_everything():
    out = kuberbac.generate("default", projects.ALLOW_ALL, "in-cluster")
    assert kinds(out.objects)[-4:] == [
        ("ClusterRole", "", "gitops-project:default"),
        ("ClusterRoleBinding", "", "gitops-project:default"),
        ("ClusterRole", "", "gitops-project:default:cluster"),
        ("ClusterRoleBinding", "", "gitops-project:default:cluster"),
    ]
    assert by_name(out.objects, "ClusterRole", "gitops-project:default:cluster")["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": kuberbac.VERBS},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]},
    ]


@pytest.mark.parametrize(
    ("change", "rules"),
    [
        (  # whitelisted namespaced kinds, grouped by API group
            {
                "namespaceResourceWhitelist": [
                    {"group": "apps", "kind": "Deployment"},
                    {"group": "", "kind": "ConfigMap"},
                    {"group": "apps", "kind": "StatefulSet"},
                    {"group": "", "kind": "Service"},
                ]
            },
            [
                {
                    "apiGroups": ["apps"],
                    "resources": ["deployments", "statefulsets"],
                    "verbs": kuberbac.VERBS,
                },
                {"apiGroups": [""], "resources": ["configmaps", "services"], "verbs": kuberbac.VERBS},
            ],
        ),
        (
            {"namespaceResourceWhitelist": [{"group": "batch", "kind": "*"}]},
            [{"apiGroups": ["batch"], "resources": ["*"], "verbs": kuberbac.VERBS}],
        ),
        ({"namespaceResourceWhitelist": []}, []),  # no namespaced kind at all
    ],
)
def test_namespaced_kinds(change, rules):
    out = kuberbac.generate("team-a", {**TEAM, **change}, "in-cluster")
    assert by_name(out.objects, "ClusterRole", "gitops-project:team-a")["rules"] == rules


def test_cluster_kinds_are_named_and_blacklists_are_reported():
    project = {
        **TEAM,
        "clusterResourceWhitelist": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}],
        "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}],
    }
    out = kuberbac.generate("team-a", project, "in-cluster")
    assert by_name(out.objects, "ClusterRole", "gitops-project:team-a:cluster")["rules"][0] == {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["clusterroles"],
        "verbs": kuberbac.VERBS,
    }
    assert out.notes == [
        "namespaceResourceBlacklist [{'group': '', 'kind': 'Secret'}]: "
        "enforced by our project check only (RBAC only adds)"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"destinations": [{"cluster": "*", "namespace": "team-*"}]}, "RBAC binds named namespaces only"),
        (
            {"clusterResourceWhitelist": [{"group": "", "kind": "*"}]},
            "a cluster-wide grant of '*' would reach every namespace",
        ),
        ({"namespaceResourceWhitelist": [{"group": "apps", "kind": "Deploy*"}]}, "kind pattern 'Deploy*'"),
    ],
)
def test_what_rbac_cannot_say_is_refused(change, message):
    with pytest.raises(kuberbac.RbacError, match=message.replace("*", r"\*").replace("(", r"\(")):
        kuberbac.generate("team-a", {**TEAM, **change}, "in-cluster")


def test_a_project_name_that_makes_no_service_account_name():
    with pytest.raises(kuberbac.RbacError, match="not a valid ServiceAccount name"):
        kuberbac.service_account("Team_A")
