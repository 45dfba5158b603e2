"""Application specs: validation, ref matching, repo URL normalisation."""

import pytest

from shared import repourl
from shared.model import AppSpec, Destination, SpecError, SyncPolicy


@pytest.mark.parametrize("url", [
    "https://github.com/Org/Repo.git", "https://github.com/org/repo", "git@github.com:org/repo.git",
    "ssh://git@github.com/org/repo.git", "https://user:token@github.com/org/repo/",
])
def test_repo_url_forms_of_one_repo_are_equal(url):
    assert repourl.normalize(url) == "github.com/org/repo"


def test_repo_url_keeps_port_and_path():
    assert repourl.normalize("http://127.0.0.1:8080/x/app.git") == "127.0.0.1:8080/x/app"


@pytest.mark.parametrize("target,ref,default,matches", [
    ("main", "refs/heads/main", "main", True),
    ("main", "refs/heads/dev", "main", False),
    ("HEAD", "refs/heads/main", "main", True),
    ("HEAD", "refs/heads/dev", "main", False),
    ("v1.0", "refs/tags/v1.0", "main", True),
    ("refs/heads/x", "refs/heads/x", "main", True),
])
def test_matches_ref(target, ref, default, matches):
    spec = AppSpec(name="a", repoURL="r", targetRevision=target)
    assert spec.matches_ref(ref, default) is matches


@pytest.mark.parametrize("spec,field", [
    (AppSpec(name="Bad_Name", repoURL="r"), "name"),
    (AppSpec(name="a", repoURL=""), "repoURL"),
    (AppSpec(name="a", repoURL="r", path="../etc"), "path"),
    (AppSpec(name="a", repoURL="r", path="/abs"), "path"),
    (AppSpec(name="a", repoURL="r", destination=Destination(namespace="NS")), "destination.namespace"),
    (AppSpec(name="a", repoURL="r", syncPolicy=SyncPolicy(selfHeal=True)), "syncPolicy.selfHeal"),
])
def test_validation_names_the_field(spec, field):
    with pytest.raises(SpecError, match=f"^{field}:"):
        spec.validate()


def test_doc_round_trip():
    spec = AppSpec(name="a", repoURL="r", path="p", targetRevision="main",
                   destination=Destination("c", "ns"), syncPolicy=SyncPolicy(True, True, True))
    assert AppSpec.from_doc("a", spec.to_doc()) == spec


def test_head_resolves_the_target_in_a_remotes_refs():
    refs = {"HEAD": "a" * 40, "refs/heads/main": "a" * 40, "refs/tags/v1": "b" * 40}
    assert AppSpec(name="a", repoURL="r").head(refs) == ("", "a" * 40)
    assert AppSpec(name="a", repoURL="r", targetRevision="main").head(refs) == ("refs/heads/main", "a" * 40)
    assert AppSpec(name="a", repoURL="r", targetRevision="v1").head(refs) == ("refs/tags/v1", "b" * 40)
    assert AppSpec(name="a", repoURL="r", targetRevision="nope").head(refs) is None
