"""The monorepo rule: which changed paths concern an application (its path, its watchPaths,
what its last render read), what the sweep does when its head moved, and Argo CD's
manifest-generate-paths annotation read as watchPaths."""

import pytest

from shared.core import monorepo
from shared.core.errors import SpecError


@pytest.mark.parametrize(
    ("path", "watch", "reads", "expected"),
    [
        ("apps/a", (), (), ("apps/a",)),
        ("apps/a/", ("/base", "base/"), (), ("apps/a", "base")),  # slashes and duplicates
        ("apps/a", ("apps/a/sub",), ("apps",), ("apps",)),  # a folder holds what is under it
        ("apps/a", ("apps/ab",), (), ("apps/a", "apps/ab")),  # a sibling sharing a prefix is not under it
        (".", ("base",), (), ("",)),  # the root holds everything
        ("apps/a", (), (".",), ("",)),  # a render that read the root's files
        ("apps/a", ("shared/values.yaml",), (), ("apps/a", "shared/values.yaml")),  # a file
    ],
)
def test_watched(path, watch, reads, expected):
    assert monorepo.watched(path, watch, reads) == expected


@pytest.mark.parametrize(
    ("changed", "paths", "expected"),
    [
        ({"apps/a/cm.yaml"}, ("apps/a",), ["apps/a/cm.yaml"]),
        ({"apps/b/cm.yaml"}, ("apps/a",), []),  # another application's folder
        ({"apps/ab/cm.yaml"}, ("apps/a",), []),  # a name sharing the prefix
        ({"apps/a"}, ("apps/a",), ["apps/a"]),  # the folder itself (replaced by a file)
        ({"README.md"}, ("apps/a",), []),  # a file at the root
        ({"README.md"}, ("",), ["README.md"]),  # an application on the root
        ({"base/deploy.yaml", "docs/x.md"}, ("apps/a", "base"), ["base/deploy.yaml"]),  # a watched base
        ({"shared/values.yaml"}, ("shared/values.yaml",), ["shared/values.yaml"]),  # a watched file
        ({"shared/values-prod.yaml"}, ("shared/values.yaml",), []),
        ({"/apps/a/x.yaml"}, ("apps/a/",), ["/apps/a/x.yaml"]),  # written with slashes
        (set(), ("apps/a",), []),  # nothing changed (an empty commit)
    ],
)
def test_touching(changed, paths, expected):
    assert monorepo.touching(changed, paths) == expected


@pytest.mark.parametrize(
    ("changed", "paths", "decision"),
    [
        (["apps/a/cm.yaml"], ("apps/a",), monorepo.RENDER),
        (["apps/b/cm.yaml"], ("apps/a",), monorepo.SEEN),  # a push for another application
        ([], ("apps/a",), monorepo.SEEN),
        (["charts/values/prod.yaml"], ("apps/a", "charts/values"), monorepo.RENDER),  # a read file
        (None, ("apps/a",), monorepo.RENDER),  # changes unknown (synced commit gone): render
    ],
)
def test_on_head_moved(changed, paths, decision):
    assert monorepo.on_head_moved(changed, paths) == decision


@pytest.mark.parametrize(
    ("annotation", "app_path", "expected"),
    [
        (".", "apps/a", ()),  # the path itself, already watched
        ("", "apps/a", ()),
        (".;../../shared", "apps/a", ("shared",)),  # relative to the application's path
        ("/shared/base; /charts/values.yaml", "apps/a", ("shared/base", "charts/values.yaml")),
        ("../b;../b/", "apps/a", ("apps/b",)),
        ("/", "apps/a", (".",)),  # the whole repository
        ("base", ".", ("base",)),
    ],
)
def test_generate_paths(annotation, app_path, expected):
    assert monorepo.generate_paths(annotation, app_path) == expected


@pytest.mark.parametrize(("annotation", "app_path"), [("../../../x", "apps/a"), ("..", ".")])
def test_generate_paths_leaving_the_repository(annotation, app_path):
    with pytest.raises(SpecError, match=r"manifest-generate-paths.*leaves the repository"):
        monorepo.generate_paths(annotation, app_path)


@pytest.mark.parametrize(
    ("path", "problem"),
    [("base", False), ("a/b/c.yaml", False), ("/base", True), ("../x", True), ("a/../../x", True)],
)
def test_path_problem(path, problem):
    assert (monorepo.path_problem(path) is not None) == problem


def _commit_all(root, message):
    import subprocess

    run = lambda *a: subprocess.run(["git", "-C", str(root), *a], check=True, capture_output=True, text=True)  # noqa: E731
    run("add", "-A")
    run("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", message)
    return run("rev-parse", "HEAD").stdout.strip()


def test_tree_diff_restricted_to_the_watched_paths(tmp_path):
    """The sweep's question to Git (shared/adapters/git.py changed_under), on a real repository:
    only a path whose tree entry changed is diffed."""
    import subprocess

    from dulwich.repo import Repo

    from shared.adapters import git

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    files = {"apps/a/cm.yaml": "a", "apps/b/cm.yaml": "b", "shared/x/v.yaml": "1", "README.md": "r"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    first = _commit_all(tmp_path, "one")
    (tmp_path / "apps/b/cm.yaml").write_text("b2")
    (tmp_path / "shared/x/v.yaml").write_text("2")
    (tmp_path / "apps/b/new.yaml").write_text("n")
    second = _commit_all(tmp_path, "two")
    repo = Repo(str(tmp_path))
    cases = {
        ("apps/a",): [],
        ("apps/b",): ["apps/b/cm.yaml", "apps/b/new.yaml"],
        ("apps/a", "shared"): ["shared/x/v.yaml"],
        ("shared/x/v.yaml",): ["shared/x/v.yaml"],  # a watched file
        ("apps/c",): [],  # not in either commit
        ("",): ["apps/b/cm.yaml", "apps/b/new.yaml", "shared/x/v.yaml"],
    }
    for paths, changed in cases.items():
        assert sorted(git.changed_under(repo, first, second, paths)) == changed, paths
    assert git.changed_under(repo, first, second, ("",), limit=1) == ["apps/b/cm.yaml"]
    assert git.changed_under(repo, second, first, ("apps/b",)) == ["apps/b/cm.yaml", "apps/b/new.yaml"]
