"""Build a container image's root filesystem from a Dockerfile without a Docker engine, and
start its command the way a container runtime would: so the deployment-parity test runs the
render function from the very Dockerfile Cloud Build builds.

    python -m stack.image build functions/render/Dockerfile   # prints the root filesystem

Supported: `FROM debian:<suite>[-slim]` (made with debootstrap's minbase variant, the
variant Debian's slim images are made from), `RUN` (shell or exec form, as root), `COPY`
(files and folders from the build context, several sources to a folder), `ENV`, `WORKDIR`,
`CMD`, `ENTRYPOINT`; `LABEL`, `EXPOSE` and comments are read and ignored. Anything else is
refused with its line, so the image and the test can never silently differ. Every step is
keyed by what it depends on (the steps before it and, for COPY, the content copied); the
root filesystem after each RUN is cached in ~/.cache/gitops/images, so a rebuild starts from
the longest cached prefix.

Steps and the command run in bubblewrap with the root filesystem as `/`: a fresh /proc,
/dev and the host's resolv.conf, as root with its capabilities (Cloud Run
runs a container's process as root), with the host's network (the local stack listens on
127.0.0.1) and the image's environment only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("GITOPS_CACHE", Path.home() / ".cache" / "gitops")) / "images"
MIRROR = "http://deb.debian.org/debian"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEEP = 6  # cached root filesystems kept (the oldest go first)
IGNORED = ("LABEL", "EXPOSE", "ARG")


class DockerfileError(Exception):
    """A Dockerfile this builder cannot build exactly; names the file and line."""


@dataclass(frozen=True)
class Step:
    line: int
    instruction: str
    args: str


@dataclass
class Image:
    rootfs: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return self.entrypoint + self.cmd


def say(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def parse(dockerfile: Path) -> list[Step]:
    """The steps, with continuation lines joined and comments dropped."""
    steps: list[Step] = []
    pending, start = "", 0
    for number, raw in enumerate(dockerfile.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        instruction, _, args = text.partition(" ")
        steps.append(Step(start, instruction.upper(), args.strip()))
    if pending:
        raise DockerfileError(f"{dockerfile}:{start}: the file ends inside a continued line")
    return steps


def _words(args: str) -> list[str]:
    """An exec form (JSON array) or a shell form's words."""
    if args.startswith("["):
        value = json.loads(args)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("not a JSON array of strings")
        return value
    return shlex.split(args)


def _env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # the legacy `ENV KEY value` form
    pairs = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise ValueError(f"{word!r} is not KEY=value")
        pairs[key] = value
    return pairs


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def _content_digest(paths: list[Path]) -> str:
    """What COPY copies: every file's relative name, mode and bytes."""
    h = hashlib.sha256()
    for top in paths:
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for f in files:
            h.update(
                f"{top.name}/{f.relative_to(top) if top.is_dir() else ''}:{f.stat().st_mode:o}\0".encode()
            )
            with f.open("rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _bwrap(
    rootfs: Path, argv: list[str], env: dict[str, str], workdir: str, binds: tuple[Path, ...] = ()
) -> list[str]:
    cmd = ["bwrap", "--bind", str(rootfs), "/", "--dev", "/dev", "--proc", "/proc"]
    cmd += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
    for path in binds:
        cmd += ["--bind", str(path), str(path)]
    cmd += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--cap-add", "ALL"]
    cmd += ["--clearenv", "--chdir", workdir]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


def _snapshot(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(tmp)], check=True)
    tmp.rename(dst)


def _base(suite: str, key: str) -> Path:
    base = CACHE / key
    if not base.is_dir():
        say(f"debootstrap --variant=minbase {suite} (about a minute, cached)")
        tmp = CACHE / (key + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(tmp), MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )
        tmp.rename(base)
    return base


def _prune() -> None:
    kept = sorted((p for p in CACHE.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def build(dockerfile: Path, context: Path, out: Path) -> Image:
    """Build the Dockerfile into out (a root filesystem, replaced), from the longest cached prefix."""
    steps = parse(dockerfile)
    if not steps or steps[0].instruction != "FROM":
        raise DockerfileError(f"{dockerfile}: the first instruction must be FROM")
    image_ref = steps[0].args
    name, _, tag = image_ref.partition(":")
    if name != "debian" or not tag:
        raise DockerfileError(
            f"{dockerfile}:{steps[0].line}: FROM {image_ref}: only debian:<suite> images are built here"
        )
    suite = tag.removesuffix("-slim")
    key = _digest("FROM", suite)
    rootfs: Path | None = None  # the working copy, once made
    cached = _base(suite, key)
    image = Image(out, env={"PATH": DEFAULT_PATH})
    # find the longest cached prefix: keys are computed as we go, copies are made only when needed
    plan: list[tuple[Step, str]] = []
    checked = Image(out)  # every instruction is checked before anything is built
    for step in steps[1:]:
        _apply_metadata(step, checked, dockerfile)
        try:
            if step.instruction == "COPY":
                key = _digest(key, step.instruction, step.args, _content_digest(_copy_sources(step, context)))
            else:
                key = _digest(key, step.instruction, step.args)
        except (OSError, ValueError) as exc:
            raise DockerfileError(f"{dockerfile}:{step.line}: {step.instruction}: {exc}") from None
        plan.append((step, key))
    start = 0
    for i, (step, k) in enumerate(plan):
        if step.instruction == "RUN" and (CACHE / k).is_dir():
            cached, start = CACHE / k, i + 1
    for step, _ in plan[:start]:  # the cached prefix still sets env, workdir and command
        _apply_metadata(step, image, dockerfile)
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    _snapshot(cached, out)
    os.utime(cached)
    rootfs = out
    for step, k in plan[start:]:
        t0 = time.monotonic()
        if _apply_metadata(step, image, dockerfile):
            continue
        if step.instruction == "RUN":
            say(f"line {step.line}: RUN {step.args[:70]}")
            argv = _words(step.args) if step.args.startswith("[") else ["/bin/sh", "-c", step.args]
            done = subprocess.run(_bwrap(rootfs, argv, image.env, image.workdir), stdout=sys.stderr)
            if done.returncode:
                raise DockerfileError(
                    f"{dockerfile}:{step.line}: RUN failed with exit code {done.returncode}"
                )
            _snapshot(rootfs, CACHE / k)
            say(f"line {step.line}: done in {time.monotonic() - t0:.1f}s")
        elif step.instruction == "COPY":
            _copy(step, context, rootfs, image.workdir)
        else:
            raise DockerfileError(
                f"{dockerfile}:{step.line}: {step.instruction} is not supported by stack/image.py"
            )
    _prune()
    return image


def _apply_metadata(step: Step, image: Image, dockerfile: Path) -> bool:
    """Apply an instruction that only changes the image's configuration; False for RUN/COPY."""
    try:
        if step.instruction == "ENV":
            image.env.update(_env_pairs(step.args))
        elif step.instruction == "WORKDIR":
            image.workdir = os.path.join(image.workdir, step.args)
        elif step.instruction == "CMD":
            image.cmd = _words(step.args) if step.args.startswith("[") else ["/bin/sh", "-c", step.args]
        elif step.instruction == "ENTRYPOINT":
            image.entrypoint = (
                _words(step.args) if step.args.startswith("[") else ["/bin/sh", "-c", step.args]
            )
        elif step.instruction in IGNORED:
            pass
        elif step.instruction in ("RUN", "COPY"):
            return False
        else:
            raise DockerfileError(
                f"{dockerfile}:{step.line}: {step.instruction} is not supported by stack/image.py"
            )
    except ValueError as exc:
        raise DockerfileError(f"{dockerfile}:{step.line}: {step.instruction}: {exc}") from None
    return True


def _copy_sources(step: Step, context: Path) -> list[Path]:
    words = [w for w in _words(step.args) if not w.startswith("--")]
    if len(words) < 2:
        raise ValueError("needs a source and a destination")
    sources = []
    for word in words[:-1]:
        path = (context / word).resolve()
        if not path.is_relative_to(context.resolve()):
            raise ValueError(f"{word!r} leaves the build context")
        if not path.exists():
            raise ValueError(
                f"{word!r} is not in the build context (run `python -m infra.runtime prepare build/render`)"
            )
        sources.append(path)
    return sources


def _copy(step: Step, context: Path, rootfs: Path, workdir: str) -> None:
    words = [w for w in _words(step.args) if not w.startswith("--")]
    sources, dest = _copy_sources(step, context), words[-1]
    dest_abs = os.path.join(workdir, dest)
    into_folder = dest.endswith("/") or len(sources) > 1
    target = rootfs / dest_abs.lstrip("/")
    for src in sources:
        if src.is_dir():  # like Docker: the folder's contents, not the folder
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        else:
            final = target / src.name if into_folder else target
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, final)


def command(
    image: Image, env: dict[str, str], binds: tuple[Path, ...] = (), argv: list[str] | None = None
) -> list[str]:
    """The argv that starts the image's command (or argv) as a container: the image's
    environment, then env on top (what the platform injects), and binds (host folders at the
    same path)."""
    return _bwrap(image.rootfs, argv or image.argv, {**image.env, **env}, image.workdir, binds)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "build":
        dockerfile = Path(argv[1]).resolve()
        out = Path(argv[2]) if len(argv) > 2 else CACHE.parent / "rootfs" / dockerfile.parent.name
        image = build(dockerfile, Path.cwd(), out.resolve())
        print(
            json.dumps(
                {"rootfs": str(image.rootfs), "env": image.env, "workdir": image.workdir, "argv": image.argv}
            )
        )
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
