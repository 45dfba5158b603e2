"""The Dockerfile subset stack/image.py builds: what it reads, and what it refuses by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import image

ROOT = Path(__file__).resolve().parents[2]


def test_the_render_dockerfile_is_read_as_written():
    steps = image.parse(ROOT / "functions" / "render" / "Dockerfile")
    assert [s.instruction for s in steps] == [
        "FROM",
        "RUN",
        "COPY",
        "RUN",
        "COPY",
        "COPY",
        "ENV",
        "WORKDIR",
        "CMD",
    ]
    assert steps[0].args == "debian:bookworm-slim"
    assert "bubblewrap" in steps[1].args and "\\" not in steps[1].args  # continuation lines joined


@pytest.mark.parametrize(
    ("dockerfile", "error"),
    [
        ("FROM alpine:3\n", "Dockerfile:1: FROM alpine:3: only debian:<suite> images are built here"),
        ("RUN true\n", "the first instruction must be FROM"),
        ("FROM debian:bookworm\nADD x /x\n", "Dockerfile:2: ADD is not supported by stack/image.py"),
        ("FROM debian:bookworm\nCOPY ../etc /x\n", "Dockerfile:2: COPY: '../etc' leaves the build context"),
        (
            "FROM debian:bookworm\nCOPY nothing /x\n",
            "Dockerfile:2: COPY: 'nothing' is not in the build context",
        ),
        ("FROM debian:bookworm\nRUN true \\\n", "Dockerfile:2: the file ends inside a continued line"),
        ("FROM debian:bookworm\nENV novalue\n", "Dockerfile:2: ENV: 'novalue' is not KEY=value"),
    ],
)
def test_what_cannot_be_built_exactly_is_refused_with_its_line(tmp_path, monkeypatch, dockerfile, error):
    monkeypatch.setattr(image, "_base", lambda suite, key: tmp_path / "base")  # never debootstrap here
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    with pytest.raises(
        image.DockerfileError, match=error.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        image.build(path, tmp_path, tmp_path / "rootfs")


def test_env_forms():
    assert image._env_pairs("A=1 B='two words'") == {"A": "1", "B": "two words"}
    assert image._env_pairs("LEGACY some value") == {"LEGACY": "some value"}
