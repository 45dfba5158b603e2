"""The renderers' OS sandbox, run for real (bubblewrap, no servers): what a renderer sees of
the host, and every limit ending the whole sandbox with a finding."""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.render import sandbox
from shared.render.tree import Limits, Refused


@pytest.fixture
def tree() -> Iterator[Path]:
    with sandbox.workspace() as folder:
        root = folder / "repo"
        root.mkdir(mode=0o755)
        (root / "cm.yaml").write_text("kind: ConfigMap\n")
        (root / "cm.yaml").chmod(0o644)
        yield root


def sh(tree: Path, script: str, limits: Limits | None = None) -> str:
    out = sandbox.run(
        sandbox.binary("/usr/bin/sh"),
        ["-c", script],
        tree=tree,
        inputs=None,
        where="app",
        what="sh",
        limits=limits or Limits(seconds=10),
    )
    return out.decode()


def test_a_renderer_sees_no_environment_no_host_and_no_network(tree, monkeypatch):
    monkeypatch.setenv("GITOPS_GITHUB_TOKEN", "canary-token")
    assert "canary" not in sh(tree, "cat /proc/1/environ /proc/self/environ; env")
    assert sh(tree, "id -u; id -g").split() == ["65534", "65534"]
    assert sorted(sh(tree, "ls /").split()) == [
        "bin",
        "dev",
        "lib",
        "lib64",
        "proc",
        "sbin",
        "src",
        "tmp",
        "usr",
    ]
    assert sh(tree, "cat /src/cm.yaml") == "kind: ConfigMap\n"
    interfaces = [line.split(":")[0].strip() for line in sh(tree, "cat /proc/net/dev").splitlines()[2:]]
    assert interfaces == ["lo"]
    assert sh(tree, "ls /proc | grep -c '^[0-9]'").strip() in ("2", "3", "4")  # its own processes only
    for target in ("/src/x", "/usr/x", "/x"):
        assert sh(tree, f"touch {target} 2>/dev/null && echo wrote || echo refused") == "refused\n"
    assert not (tree / "x").exists()
    with pytest.raises(Refused, match="No such file"):
        sh(tree, f"cat {os.path.realpath(__file__)}")


def _sleepers(tag: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if tag in line]


def test_the_deadline_kills_the_whole_sandbox(tree):
    tag = "sleep 31.4159"
    t0 = time.monotonic()
    with pytest.raises(Refused) as caught:
        sh(tree, f"{tag} & {tag} & {tag}", Limits(seconds=0.5))
    assert caught.value.finding.message == "sh took longer than 0.5s (limit)"
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 5
    while _sleepers(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sleepers(tag) == []  # no orphan survives its render


def test_output_is_capped_as_it_arrives(tree):
    with pytest.raises(Refused, match=r"sh printed more than 100,000 bytes \(limit\)"):
        sh(tree, "yes", Limits(seconds=10, output=100_000))


def test_memory_is_limited(tree):
    script = "exec python3 -c 'x = bytearray(600 << 20)'"
    with pytest.raises(Refused, match=r"needed more than 268,435,456 bytes of memory \(limit\)"):
        sh(tree, script)


def test_processes_are_limited(tree):
    with pytest.raises(Refused, match="sh: "):
        sh(tree, "for i in $(seq 40); do sleep 2 & done; wait", Limits(seconds=10, processes=8))


def test_files_written_are_limited_and_stay_in_the_sandbox(tree):
    with pytest.raises(Refused, match=r"wrote a file larger than 1,000,000 bytes \(limit\)"):
        sh(tree, "head -c 2000000 /dev/zero > /tmp/big", Limits(seconds=10, file_size=1_000_000))


def test_without_bubblewrap_rendering_fails_closed(tree, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(Refused, match="the renderer sandbox cannot start: bwrap is not installed"):
        sh(tree, "true")


def test_cpu_time_is_limited(tree):
    with pytest.raises(Refused, match=r"sh used more than 1s of CPU \(limit\)"):
        sh(tree, "while :; do :; done", Limits(seconds=20, cpu_seconds=1))
