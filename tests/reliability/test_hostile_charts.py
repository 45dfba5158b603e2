"""Hostile chart archives: only helm (and tar, for a value file of the chart) inside the sandbox
ever reads one.

- members with absolute paths and `..`: helm refuses the chart; nothing is written anywhere;
- symlink members (to /etc/passwd, out of the chart): helm's loader skips them; nothing of the
  host is rendered;
- a huge member (a gzip bomb: 300 MiB of zeros in 300 KB): helm refuses past its 100 MiB, and
  tar reading it as a value file of the chart hits the sandbox's output cap.

The proof that our own process never reads an archive: Python's audit hooks see every file
this process opens and every process it starts, during the render: the archive is opened
only to be written into the sandbox's inputs, and every program started is bubblewrap. One
case goes through the stack (served by its chart repository, rendered by the render function).
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.adapters import store
from shared.cli import main
from shared.render import sandbox, sources

pytestmark = pytest.mark.adversarial

CHART_YAML = b"apiVersion: v2\nname: evil\nversion: 0.1.0\n"
CM = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n"
HUGE = 300 * 2**20


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.n = n

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        k = min(len(b), self.n)
        b[:k] = bytes(k)
        self.n -= k
        return k


def _add(t: tarfile.TarFile, name: str, data: bytes = b"", link: str = "", size: int = 0) -> None:
    info = tarfile.TarInfo(name)
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
        t.addfile(info)
    elif size:
        info.size = size
        t.addfile(info, io.BufferedReader(_Zeros(size)))
    else:
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))


def archive(kind: str, marker: str) -> bytes:
    """A chart archive with hostile members of one kind; `marker` names the files it aims at."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        _add(t, "evil/Chart.yaml", CHART_YAML)
        _add(t, "evil/templates/cm.yaml", CM)
        if kind == "paths":
            _add(t, f"/tmp/{marker}-absolute", b"x")
            _add(t, f"evil/../../../../../tmp/{marker}-dotdot", b"x")
            _add(t, "evil/templates/../../../outside.yaml", CM.replace(b"evil", b"outside"))
        elif kind == "symlinks":
            _add(t, "evil/templates/passwd.yaml", link="/etc/passwd")
            _add(t, "evil/values.yaml", link="../../../../etc/hostname")
        elif kind == "huge":
            _add(t, "evil/templates/huge.yaml", size=HUGE)
    return out.getvalue()


@pytest.fixture
def watched() -> Iterator[dict[str, list[Any]]]:
    """The files this process opens and the programs it starts while the test runs (Python's
    audit hooks; a hook cannot be removed, so it records only while the test is active)."""
    seen: dict[str, list[Any]] = {"open": [], "exec": []}
    active = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not active[0]:
            return
        if event == "open" and isinstance(args[0], str | bytes | Path):
            seen["open"].append((str(args[0]), args[1]))
        elif event == "subprocess.Popen":
            seen["exec"].append(list(args[1]) if args[1] else [str(args[0])])

    sys.addaudithook(hook)
    yield seen
    active[0] = False


def _only_the_sandbox_read_it(seen: dict[str, list[Any]]) -> None:
    opened = [(path, mode) for path, mode in seen["open"] if path.endswith("chart.tgz")]
    assert opened and all(mode and "w" in str(mode) for _, mode in opened), opened  # written only
    assert seen["exec"] and all(Path(argv[0]).name == "bwrap" for argv in seen["exec"]), seen["exec"]


CASES = [
    # (kind, value files of the chart, the finding's field, a part of its message)
    ("paths", [], "", "chart illegally references parent directory"),
    ("symlinks", [], None, None),  # rendered: helm skips links, nothing of the host comes in
    ("huge", [], "", "decompressed chart is larger than the maximum file size"),
    ("huge", ["templates/huge.yaml"], "source.helm.valueFiles[0]", "templates/huge.yaml"),
]


@pytest.mark.parametrize(
    ("kind", "value_files", "field", "message"), CASES, ids=[f"{c[0]}{len(c[1])}" for c in CASES]
)
def test_a_hostile_archive_is_read_only_inside_the_sandbox(
    watched: dict[str, list[Any]],
    uid: str,
    kind: str,
    value_files: list[str],
    field: str | None,
    message: str | None,
) -> None:
    if sandbox.disabled() or sandbox.problem():
        pytest.skip("the render sandbox is off here")
    marker = f"gitops-hostile-{uid}"
    data = archive(kind, marker)
    req = sources.Request(path=".", source={"helm": {"valueFiles": value_files}}, release="r")
    _, out = sources.render_chart(data, "evil-0.1.0", req, chart="evil")
    _only_the_sandbox_read_it(watched)
    if message is None:
        assert not out.errors and [o["metadata"]["name"] for o in out.objects] == ["evil"]
        assert "root:" not in yaml.safe_dump(out.objects)
    else:
        assert out.errors and out.errors[0].field == field and message in out.errors[0].message, out.errors
        assert not out.objects
    assert not any(Path("/tmp").glob(f"{marker}*"))  # nothing written where the members aim


def test_a_hostile_archive_from_the_stacks_chart_repository_fails_its_render(
    stack, chart_repo, uid, namespace
):
    marker = f"gitops-hostile-{uid}"
    data = archive("paths", marker)
    area = chart_repo.root / f"hostile-{uid}"
    area.mkdir()
    (area / "evil-0.1.0.tgz").write_bytes(data)
    index = {
        "apiVersion": "v1",
        "entries": {
            "evil": [
                {
                    "apiVersion": "v2",
                    "name": "evil",
                    "version": "0.1.0",
                    "digest": hashlib.sha256(data).hexdigest(),
                    "urls": ["evil-0.1.0.tgz"],
                }
            ]
        },
    }
    (area / "index.yaml").write_text(yaml.safe_dump(index))
    app = f"hostile.{uid}"
    url = f"{chart_repo.base_url}/hostile-{uid}"
    args = ["app", "create", app, "--repo", url, "--helm-chart", "evil", "--revision", "0.1.0"]
    assert main.main([*args, "--dest-namespace", namespace]) == 0
    assert main.main(["app", "sync", app, "--wait", "--timeout", "60"]) != 0
    render = store.get_app(app).status["render"]
    assert render["revision"] is None and "chart illegally references parent directory" in render["message"]
    assert int(store.get_app(app).status.get("historyCount", 0)) == 0
    assert not any(Path("/tmp").glob(f"{marker}*"))
