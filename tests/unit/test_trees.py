"""The validated tree: git's path rules, links resolved inside the tree, safe materialising,
and the pack screen that reads object sizes before anything is inflated."""

import io
import os
import zlib
from pathlib import Path

import pytest

from shared.adapters import gitpack
from shared.render import tree as trees
from shared.render.tree import Budget, FolderTree, Limits, Refused


@pytest.mark.parametrize(
    "path, problem",
    [
        (b"app/cm.yaml", None),
        (b"app/.gitignore", None),
        (b"app/.github/x.yaml", None),
        (b"app/\xc3\xa9t\xc3\xa9.yaml", None),
        (b"..", "the name '..' is not allowed in a path"),
        (b"app/../x", "the name '..' is not allowed in a path"),
        (b"app/./x", "the name '.' is not allowed in a path"),
        (b"app//x", "the name '' is not allowed in a path"),
        (b"/etc/passwd", "an absolute path"),
        (b".git/config", "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"),
        (b"app/.GiT/hooks", "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"),
        (b"app/.git./x", "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"),
        (b"app/.git /x", "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"),
        (b"app/git~1/x", "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed"),
        (
            ".g\u200cit/x".encode(),
            "a name that git reads as .git (any case, NTFS or HFS+ alias) is not allowed",
        ),
        (b"app/a\x00b", "a name holds a NUL byte or a slash"),
        (b"app/a\nb.yaml", "a name holds a control character"),
        (b"app/a\x1b[31m.yaml", "a name holds a control character"),
        (b"app/\xff\xfe.yaml", "a name is not UTF-8"),
        (b"app/" + b"a" * 256, "a name is longer than 255 bytes"),
        (b"/".join([b"d" * 200] * 21), "a path is longer than 4096 bytes"),
    ],
)
def test_path_rules(path, problem):
    assert trees.path_problem(path) == problem


TREE = {  # path -> (kind, link target)
    "app": ("dir", None),
    "app/cm.yaml": ("file", None),
    "up": ("link", "."),
    "app/up": ("link", ".."),
    "app/self": ("link", "../app/cm.yaml"),
    "app/chain": ("link", "up/up/up/../../etc/passwd"),
    "app/loop": ("link", "loop"),
    "app/abs": ("link", "/etc/passwd"),
    "app/dotdot": ("link", "../../x"),
    "app/via": ("link", "../up/app/cm.yaml"),
    "app/dirlink": ("link", "../app"),
    "app/through": ("link", "dirlink/cm.yaml"),
    "app/missing": ("link", "nope/../../../etc"),
    "app/file-then": ("link", "cm.yaml/../cm.yaml"),
    "app/gone": ("link", "nothing.yaml"),
    "app/toroot": ("link", ".."),
}


@pytest.mark.parametrize(
    "path, resolved",
    [
        ("app/self", "app/cm.yaml"),
        ("app/via", "app/cm.yaml"),
        ("app/through", "app/cm.yaml"),
        ("app/up", ""),
        ("app/toroot", ""),
        ("app/gone", None),  # leads nowhere: not followed, not materialised
        ("app/missing", None),  # a missing folder is never walked through (the kernel would stop too)
        ("app/file-then", None),  # a file is not a folder
        ("app/cm.yaml", "app/cm.yaml"),
    ],
)
def test_links_resolve_inside_the_tree(path, resolved):
    assert trees.resolve(path, TREE.get) == resolved


@pytest.mark.parametrize(
    "path, message",
    [
        ("app/chain", "symlink to 'up/up/up/../../etc/passwd' leaves the repository (refused)"),
        ("app/abs", "symlink to '/etc/passwd' leaves the repository (refused)"),
        ("app/dotdot", "symlink to '../../x' leaves the repository (refused)"),
        ("app/loop", "symlink to 'loop': more than 40 links followed (refused)"),
    ],
)
def test_links_leaving_the_tree_at_any_step_are_refused(path, message):
    with pytest.raises(Refused) as caught:
        trees.resolve(path, TREE.get)
    assert caught.value.finding.file == path and caught.value.finding.message == message


def test_a_chain_that_normalises_inside_but_resolves_outside_is_refused(tmp_path):
    """`up -> .` then `x -> up/up/../../etc`: as a string it stays inside; on disk it leaves."""
    (tmp_path / "app").mkdir()
    os.symlink(".", tmp_path / "app" / "up")
    os.symlink("up/up/../../etc/passwd", tmp_path / "app" / "x.yaml")
    tree = FolderTree(tmp_path)
    entry = next(e for e in tree.entries("app") if e.path == "app/x.yaml")
    with pytest.raises(Refused, match="leaves the repository"):
        tree.read_link(entry)
    with pytest.raises(Refused, match="leaves the repository"):
        tree.materialise(tmp_path.parent / "out-chain", Budget("app", Limits()))


def test_materialise_writes_links_last_and_only_inside(tmp_path):
    src = tmp_path / "src"
    (src / "app").mkdir(parents=True)
    (src / "app" / "cm.yaml").write_text("kind: ConfigMap\n")
    os.symlink("cm.yaml", src / "app" / "link.yaml")
    os.symlink("nowhere.yaml", src / "app" / "dangling.yaml")
    out = trees.FolderTree(src).materialise(tmp_path / "out", Budget("app", Limits()))
    assert (out / "app" / "link.yaml").read_text() == "kind: ConfigMap\n"
    assert not os.path.lexists(out / "app" / "dangling.yaml")
    assert oct((out / "app" / "cm.yaml").stat().st_mode & 0o777) == "0o644"


def test_verify_inside_catches_a_path_leaving_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    os.symlink("/etc", tmp_path / "root" / "etc")
    with pytest.raises(Refused, match="resolves outside the repository"):
        trees.verify_inside(tmp_path / "root")


def test_budget_refuses_before_reading():
    budget = Budget("app", Limits(bytes=10, files=2))
    budget.take(5)
    with pytest.raises(Refused, match="more than 10 bytes to read"):
        budget.take(6)


def _entry(kind: int, size: int, payload: bytes) -> bytes:
    first = (kind << 4) | (size & 0x0F)
    size >>= 4
    head = bytearray()
    while True:
        head.append(first | (0x80 if size else 0))
        if not size:
            break
        first, size = size & 0x7F, size >> 7
    return bytes(head) + zlib.compress(payload)


def _pack(*entries: bytes) -> io.BytesIO:
    return io.BytesIO(
        b"PACK" + (2).to_bytes(4, "big") + len(entries).to_bytes(4, "big") + b"".join(entries) + b"\0" * 20
    )


def test_pack_screen_reads_sizes_from_headers(monkeypatch):
    monkeypatch.setattr(gitpack, "MAX_OBJECT_BYTES", 1000)
    gitpack.screen(_pack(_entry(3, 10, b"x" * 10), _entry(3, 1000, b"y" * 1000)))
    with pytest.raises(gitpack.TooLarge, match="an object of 1,001 bytes is larger than 1,000"):
        gitpack.screen(_pack(_entry(3, 1001, b"z" * 1001)))
    with pytest.raises(gitpack.TooLarge, match="inflates to more than its header says"):
        gitpack.screen(_pack(_entry(3, 10, b"z" * 500)))
    # a ref-delta whose target is too large: its size is in the delta's own header
    delta = bytes([5, 0x80 | (5000 & 0x7F), 5000 >> 7]) + b"\x00"
    with pytest.raises(gitpack.TooLarge, match="an object of 5,000 bytes"):
        entry = _entry(7, len(delta), delta)
        gitpack.screen(_pack(entry[:1] + b"\0" * 20 + entry[1:]))


def test_a_delta_whose_own_data_is_huge_is_refused_from_its_header(monkeypatch):
    """A delta claiming a small target but inflating to 0.5 GiB (dulwich would inflate it
    whole while indexing): its own size is bounded too."""
    monkeypatch.setattr(gitpack, "MAX_OBJECT_BYTES", 1 << 20)
    delta = bytes([12, 1]) + b"\0" * 100
    entry = _entry(7, 512 << 20, delta)
    with pytest.raises(gitpack.TooLarge, match="is larger than 1,048,576"):
        gitpack.screen(_pack(entry[:5] + b"\0" * 20 + entry[5:]))


def test_a_pack_inflating_past_the_total_is_refused(monkeypatch):
    monkeypatch.setattr(gitpack, "MAX_INFLATED_BYTES", 2500)
    with pytest.raises(gitpack.TooLarge, match="makes more than 2,500 bytes of objects"):
        gitpack.screen(_pack(*[_entry(3, 1000, b"x" * 1000)] * 3))


def test_a_1_gib_object_is_refused_from_its_header_without_inflating_it():
    # the payload is not even valid zlib: the header alone decides
    with pytest.raises(gitpack.TooLarge, match="an object of 1,073,741,824 bytes is larger"):
        gitpack.screen(_pack(_entry(3, 1 << 30, b"")[:5] + b"not zlib"))


def test_object_sizes_are_read_from_headers_of_loose_and_packed_objects(tmp_path):
    from dulwich.objects import Blob
    from dulwich.repo import Repo

    repo = Repo.init_bare(str(tmp_path / "r"), mkdir=True)
    blobs = [Blob.from_string(os.urandom(n)) for n in (0, 10, 5000)]
    blobs.append(Blob.from_string(b"apiVersion: v1\n" * 20_000))  # compresses well: a long stream
    for blob in blobs:
        repo.object_store.add_object(blob)
    assert [gitpack.object_size(repo, b.id) for b in blobs] == [len(b.data) for b in blobs]
    repo.object_store.pack_loose_objects()
    assert [gitpack.object_size(repo, b.id) for b in blobs] == [len(b.data) for b in blobs]


def test_capped_writer_refuses_past_the_cap():
    sink = io.BytesIO()
    writer = gitpack.CappedWriter(sink, 10)
    writer.write(b"12345")
    with pytest.raises(gitpack.TooLarge, match="more than 10 bytes"):
        writer.write(b"123456")


def test_cli_render_never_prints_content_from_outside_its_root(tmp_path, capsys):
    from shared.cli import main

    secret = tmp_path / "outside.yaml"
    secret.write_text("kind: [CANARY-outside-the-root\n")
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    os.symlink("../../outside.yaml", root / "app" / "bad.yaml")
    assert main.main(["render", str(root / "app"), "--root", str(root)]) == 1
    printed = capsys.readouterr()
    assert "CANARY" not in printed.out + printed.err
    assert "app/bad.yaml: symlink to '../../outside.yaml' leaves the repository (refused)" in printed.out
    Path(secret).unlink()


def test_a_commit_time_no_calendar_holds_does_not_stop_the_render():
    from shared.steps import render

    assert render._when(300_000_000_000) is None  # year 11476 (git fsck --strict accepts it)
    assert render._when(-(10**18)) is None
    assert render._when(0).year == 1970
