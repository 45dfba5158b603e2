"""Application specs: validation, ref matching, repo URL normalisation, push routing."""

import random

import pytest

from shared.core import repourl
from shared.core.model import AppSpec, Destination, RepoApps, SpecError, SyncPolicy

R = "git@h:r"  # a valid repository URL for specs whose repository does not matter


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Org/Repo.git",
        "https://github.com/org/repo",
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "https://user:token@github.com/org/repo/",
    ],
)
def test_repo_url_forms_of_one_repo_are_equal(url):
    assert repourl.normalize(url) == "github.com/org/repo"


def test_repo_url_keeps_port_and_path():
    assert repourl.normalize("http://127.0.0.1:8080/x/app.git") == "127.0.0.1:8080/x/app"


@pytest.mark.parametrize(
    "url, host",
    [
        ("http://127.0.0.1:18931?@github.com/victim/private", "127.0.0.1:18931"),
        ("http://127.0.0.1:18931#@github.com/victim/private", "127.0.0.1:18931"),
        ("http://github.com@127.0.0.1/victim/private", "127.0.0.1"),
        ("http://127.0.0.1\\@github.com/victim/private", "github.com"),  # odd, but its key is its own
    ],
)
def test_a_url_whose_host_is_not_the_victims_never_gets_the_victims_key(url, host):
    """The key picks credentials and project rules: it names the host a client connects to, and a
    URL with a query, fragment or backslash never shares a key with a plain one."""
    assert repourl.normalize(url) != "github.com/victim/private"
    assert repourl.normalize(url).startswith(host)


@pytest.mark.parametrize(
    "target,ref,default,matches",
    [
        ("main", "refs/heads/main", "main", True),
        ("main", "refs/heads/dev", "main", False),
        ("HEAD", "refs/heads/main", "main", True),
        ("HEAD", "refs/heads/dev", "main", False),
        ("v1.0", "refs/tags/v1.0", "main", True),
        ("refs/heads/x", "refs/heads/x", "main", True),
    ],
)
def test_matches_ref(target, ref, default, matches):
    spec = AppSpec(name="a", repoURL=R, targetRevision=target)
    assert spec.matches_ref(ref, default) is matches


@pytest.mark.parametrize(
    "spec,field",
    [
        (AppSpec(name="Bad_Name", repoURL=R), "name"),
        (AppSpec(name="a", repoURL=""), "repoURL"),
        (AppSpec(name="a", repoURL=R, path="../etc"), "path"),
        (AppSpec(name="a", repoURL=R, path="/abs"), "path"),
        (AppSpec(name="a", repoURL=R, destination=Destination(namespace="NS")), "destination.namespace"),
        (AppSpec(name="a", repoURL=R, syncPolicy=SyncPolicy(selfHeal=True)), "syncPolicy.selfHeal"),
    ],
)
def test_validation_names_the_field(spec, field):
    with pytest.raises(SpecError, match=f"^{field}:"):
        spec.validate()


def test_doc_round_trip():
    spec = AppSpec(
        name="a",
        repoURL=R,
        path="p",
        targetRevision="main",
        destination=Destination("c", "ns"),
        syncPolicy=SyncPolicy(True, True, True),
    )
    assert AppSpec.from_doc("a", spec.to_doc()) == spec


def test_head_resolves_the_target_in_a_remotes_refs():
    refs = {"HEAD": "a" * 40, "refs/heads/main": "a" * 40, "refs/tags/v1": "b" * 40}
    assert AppSpec(name="a", repoURL=R).head(refs) == ("", "a" * 40)
    assert AppSpec(name="a", repoURL=R, targetRevision="main").head(refs) == ("refs/heads/main", "a" * 40)
    assert AppSpec(name="a", repoURL=R, targetRevision="v1").head(refs) == ("refs/tags/v1", "b" * 40)
    assert AppSpec(name="a", repoURL=R, targetRevision="nope").head(refs) is None


def _repo(**paths: tuple[str, ...]) -> RepoApps:
    """Apps named by keyword: (path, *watched paths)."""
    return RepoApps(
        tuple(AppSpec(name=name, repoURL=R, path=p[0], watchPaths=p[1:]) for name, p in paths.items())
    )


@pytest.mark.parametrize(
    "changed,concerned",
    [
        ({"apps/a1/deploy.yaml"}, {"a1"}),
        ({"apps/a10/deploy.yaml"}, {"a10"}),  # a1 is not a prefix of a10
        ({"apps/a1"}, {"a1"}),  # the folder itself (a submodule, a rename)
        ({"apps/a1x/deploy.yaml"}, set()),
        ({"base/common.yaml"}, {"a1", "a10"}),  # a watched shared base
        ({"base/x/y.yaml", "apps/b/z.yaml"}, {"a1", "a10", "b"}),
        ({"README.md"}, set()),
        (set(), set()),
    ],
)
def test_a_push_concerns_the_apps_whose_folders_it_changed(changed, concerned):
    repo = _repo(a1=("apps/a1", "base/"), a10=("/apps/a10/", "base"), b=("apps/b",))
    assert repo.concerned(frozenset(changed)) == concerned


def test_an_app_on_the_root_is_concerned_by_every_change_and_unknown_paths_concern_all():
    repo = _repo(root=(".",), a=("apps/a",))
    assert repo.concerned(frozenset({"docs/x.md"})) == {"root"}
    assert repo.concerned(None) is None


def test_the_index_agrees_with_the_plain_rule_on_random_trees():
    def plain(spec, changed):  # the rule, one comparison per application and path
        folders = [p.strip("/") for p in (spec.path, *spec.watchPaths)]
        return any(f in ("", ".") for f in folders) or any(
            c == f or c.startswith(f + "/") for c in changed for f in folders
        )

    rng = random.Random(7)
    parts = ["a", "b", "ab", "a.b", "c-d"]
    folder = lambda: "/".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))  # noqa: E731
    for _ in range(500):
        specs = tuple(
            AppSpec(
                name=f"app{i}",
                repoURL=R,
                path=folder(),
                watchPaths=tuple(folder() for _ in range(rng.randint(0, 2))),
            )
            for i in range(rng.randint(1, 6))
        )
        changed = frozenset(folder() + rng.choice(["", "/x.yaml"]) for _ in range(rng.randint(0, 4)))
        assert RepoApps(specs).concerned(changed) == {s.name for s in specs if plain(s, changed)}


def test_a_credential_never_goes_to_a_host_that_only_looks_like_its_repository(monkeypatch):
    import json

    from shared.adapters import credentials

    monkeypatch.setenv(
        "GITOPS_REPO_CREDENTIALS",
        json.dumps({"github.com/victim": {"username": "x-access-token", "password": "canary-secret"}}),
    )
    assert credentials.for_url("https://github.com/victim/private.git").password == "canary-secret"
    for url in (
        "http://127.0.0.1:18931?@github.com/victim/private",
        "http://127.0.0.1:18931#@github.com/victim/private",
        "http://github.com@127.0.0.1/victim/private",
    ):
        assert credentials.for_url(url) is None, url
