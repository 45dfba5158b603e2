"""Orphaned resources as Argo CD reports them: what is never an orphan, the project's ignore
globs, and the settings' validation."""

import pytest

from shared.core import orphans
from shared.core.errors import SpecError

LABEL = "gitops.dev/app"
SA = {"kubernetes.io/service-account.name": "default"}
TOKEN = "kubernetes.io/service-account-token"


def obj(kind, name, api="v1", ns="team", **meta):
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns, **meta}}


@pytest.mark.parametrize(
    ("live", "ignore", "orphan"),
    [
        (obj("ConfigMap", "by-hand"), (), True),
        (obj("Deployment", "web", api="apps/v1"), (), True),
        (obj("ConfigMap", "ours", labels={LABEL: "app1"}), (), False),  # an application tracks it
        (obj("Pod", "web-1", ownerReferences=[{"kind": "ReplicaSet", "name": "web"}]), (), False),
        # the RBAC `gitops project rbac` installed for the project's account: ours
        (
            obj(
                "RoleBinding",
                "gitops-project:team",
                api="rbac.authorization.k8s.io/v1",
                labels={"gitops.dev/project": "team"},
            ),
            (),
            False,
        ),
        (obj("ServiceAccount", "default"), (), False),  # every namespace has it
        (obj("ServiceAccount", "builder"), (), True),
        (obj("ConfigMap", "kube-root-ca.crt"), (), False),
        (obj("Service", "kubernetes", ns="default"), (), False),
        (obj("Service", "kubernetes", ns="team"), (), True),
        (obj("Endpoints", "web"), (), False),  # Argo CD's default resource exclusions
        (obj("EndpointSlice", "web-x", api="discovery.k8s.io/v1"), (), False),
        (obj("Event", "web.1", api="events.k8s.io/v1"), (), False),
        (obj("Event", "web.1"), (), False),
        (obj("Lease", "x", api="coordination.k8s.io/v1"), (), False),
        # the token controller's Secret for a ServiceAccount (Kubernetes < 1.24), not one made by hand
        ({**obj("Secret", "default-token-x7htk", annotations=SA), "type": TOKEN}, (), False),
        ({**obj("Secret", "ci-token", annotations=SA), "type": TOKEN}, (), True),
        ({**obj("Secret", "default-token-x7htk", annotations=SA), "type": "Opaque"}, (), True),
        # the project's ignore list: group exact or glob, kind and name optional globs
        (obj("ConfigMap", "team-a"), ({"group": "", "kind": "ConfigMap", "name": "team-*"},), False),
        (obj("ConfigMap", "other"), ({"group": "", "kind": "ConfigMap", "name": "team-*"},), True),
        (obj("Secret", "x"), ({"group": "", "kind": "ConfigMap"},), True),
        (obj("Secret", "x"), ({"group": ""},), False),  # every kind of the core group
        (obj("Deployment", "web", api="apps/v1"), ({"group": ""},), True),
        (obj("Deployment", "web", api="apps/v1"), ({"group": "app*", "kind": "Deploy*"},), False),
    ],
)
def test_is_orphan(live, ignore, orphan):
    assert orphans.is_orphan(live, orphans.Settings(ignore=ignore), LABEL) is orphan


def test_find_and_message():
    live = [
        obj("ConfigMap", "b"),
        obj("ConfigMap", "a"),
        obj("ConfigMap", "a"),
        obj("ServiceAccount", "default"),
    ]
    found = orphans.find(live, orphans.Settings(warn=True), LABEL)
    assert [str(o) for o in found] == ["ConfigMap/team/a", "ConfigMap/team/b"]
    assert orphans.message(found) == "2 orphaned resources: ConfigMap/team/a, ConfigMap/team/b"
    many = orphans.find([obj("ConfigMap", f"c{i}") for i in range(7)], orphans.Settings(), LABEL)
    assert orphans.message(many).endswith("and 2 more")


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ({}, None),  # not watched
        ({"orphanedResources": {}}, orphans.Settings()),  # set at all: listed, no warning
        ({"orphanedResources": {"warn": True}}, orphans.Settings(warn=True)),
        (
            {"orphanedResources": {"ignore": [{"kind": "ConfigMap"}]}},
            orphans.Settings(ignore=({"kind": "ConfigMap"},)),
        ),
    ],
)
def test_settings(project, expected):
    assert orphans.Settings.of(project) == expected


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "orphanedResources: must be a map"),
        ({"warn": "yes"}, "orphanedResources.warn"),
        ({"warnings": True}, "orphanedResources.warnings: unknown field"),
        ({"ignore": {"kind": "x"}}, "orphanedResources.ignore: must be a list"),
        ({"ignore": [{"kinds": "x"}]}, r"orphanedResources.ignore\[0\]"),
        ({"ignore": [{"kind": 3}]}, r"orphanedResources.ignore\[0\]"),
    ],
)
def test_validate(doc, field):
    with pytest.raises(SpecError, match=field):
        orphans.validate(doc)
