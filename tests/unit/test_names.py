"""Application names (Argo CD's rule: a DNS-1123 subdomain) and the app label they give."""

import re

import pytest

from shared.core import names
from shared.core.model import AppSpec, SpecError

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")  # Kubernetes' rule


@pytest.mark.parametrize(
    "name, valid",
    [
        ("guestbook", True),
        ("example.guestbook", True),  # Argo CD's app of apps example
        ("a", True),
        ("a-b.c-d.e", True),
        ("9app", True),
        ("a" * 63, True),
        ("a" * 64, True),  # longer than a label: allowed, as in Argo CD
        ("a." * 126 + "a", True),  # 253 characters
        ("a" * 254, False),
        ("Guestbook", False),
        ("-guestbook", False),
        ("guestbook-", False),
        ("guestbook.", False),
        (".guestbook", False),
        ("a..b", False),
        ("a.-b", False),
        ("a_b", False),
        ("a/b", False),
        ("", False),
        ("b1\n", False),  # `$` would have let a trailing newline through
        ("b1\n\n", False),
    ],
)
def test_application_names_follow_dns_subdomain_rules(name, valid):
    assert (names.app_name_problem(name) is None) is valid
    spec = AppSpec(name=name, repoURL="git@h:r")
    if valid:
        spec.validate()
    else:
        with pytest.raises(SpecError, match="name: "):
            spec.validate()


def test_namespaces_stay_dns_labels():
    with pytest.raises(SpecError, match=r"destination\.namespace"):
        AppSpec.from_doc("a.b", {"repoURL": "git@h:r", "destination": {"namespace": "a.b"}}).validate()


@pytest.mark.parametrize(
    "name",
    ["guestbook", "example.guestbook", "a" * 63, "a" * 64, "b." * 126 + "b", "x" * 51 + "-" + "y" * 30],
)
def test_the_label_value_is_valid_and_the_name_itself_when_it_fits(name):
    value = names.label_value(name)
    assert len(value) <= 63 and LABEL_VALUE.match(value)
    assert (value == name) is (len(name) <= 63)


def test_long_names_sharing_a_prefix_get_distinct_labels():
    a, b = "p" * 70 + "-one", "p" * 70 + "-two"
    assert names.label_value(a) != names.label_value(b)
    assert names.label_value(a) == names.label_value(a)


@pytest.mark.parametrize(
    "name, valid",
    [
        ("default", True),
        ("team-a", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("team-*", False),  # a glob would match other projects' objects in a project role
        ("*", False),
        ("team-[ab]", False),
        ("team?", False),
        ("team.a", False),
        ("Team", False),
        ("team-a\n", False),
        ("", False),
    ],
)
def test_project_names_are_dns_labels_everywhere_a_project_is_named(name, valid):
    from shared.core import argocd, rbac
    from shared.steps.operations import Refused, settings

    assert (names.project_name_problem(name) is None) is valid
    spec = AppSpec(name="a", repoURL="git@h:r", project=name)
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": name}}
    if valid:
        spec.validate()
        argocd.project(doc)
        rbac.project_policy(name, [])
        return
    with pytest.raises(SpecError, match="project: "):
        spec.validate()
    if name:
        with pytest.raises(SpecError, match=r"metadata\.name: "):
            argocd.project(doc)
    with pytest.raises(rbac.PolicyError, match="not a valid project name"):
        rbac.project_policy(name, [])
    with pytest.raises(Refused, match="not a valid project name"):
        settings.set_project(name, {})
