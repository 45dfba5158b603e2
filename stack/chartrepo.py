"""A Helm chart repository on 127.0.0.1, started by the stack (stack/local.py): charts packaged
with `helm package`, indexed with `helm repo index`, served over HTTP from one folder;
everything under /private/ asks for basic auth (the stack's `chart-repo-auth` credential).

    python -m stack.chartrepo ROOT PORT          # the server ($GITOPS_CHART_REPO_AUTH: user:password)

    repo = ChartRepo.of_stack(stack.env)         # publishing into the running stack's repository
    repo.publish("web", {"Chart.yaml": ..., "templates/cm.yaml": ...}, private=False)
    repo.url("public"), repo.url("private")
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import http.server
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

AREAS = ("public", "private")
EMPTY_INDEX = "apiVersion: v1\nentries: {}\n"


def prepare(root: Path) -> None:
    """The served folder: both areas, each with an (empty) index until a chart is published."""
    for area in AREAS:
        (root / area).mkdir(parents=True, exist_ok=True)
        index = root / area / "index.yaml"
        if not index.exists():
            index.write_text(EMPTY_INDEX)


def serve(root: Path, port: int, credential: str) -> None:
    expected = "Basic " + base64.b64encode(credential.encode()).decode()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            if self.path.startswith("/private/") and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.end_headers()
                return
            super().do_GET()

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, *args: object) -> None:
            pass

    prepare(root)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


class ChartRepo:
    """Publishes charts into the folder the stack's chart repository serves."""

    def __init__(self, root: Path, base_url: str, helm: str, credential: str) -> None:
        self.root, self.base_url, self.helm = root, base_url.rstrip("/"), helm
        self.username, self.password = credential.split(":", 1)

    @classmethod
    def of_stack(cls, env: Mapping[str, str]) -> ChartRepo:
        return cls(
            Path(env["GITOPS_CHART_REPO_ROOT"]),
            env["GITOPS_CHART_REPO_URL"],
            env["GITOPS_HELM"],
            Path(env["GITOPS_CHART_REPO_AUTH_FILE"]).read_text().strip(),
        )

    def url(self, area: str = "public") -> str:
        return f"{self.base_url}/{area}"

    def publish(self, name: str, files: dict[str, str], *, private: bool = False) -> Path:
        """Package a chart into the repository and `helm repo index` it again; the archive."""
        area_name = "private" if private else "public"
        area = self.root / area_name
        with self._lock():
            archive = self.package(name, files, area)
            self._helm("repo", "index", str(area), "--url", self.url(area_name))
        return archive

    def package(self, name: str, files: dict[str, str], dest: Path) -> Path:
        """Write a chart's files and `helm package` them into dest (after `helm dependency
        build` when it has dependencies, from this repository's public area); the archive."""
        src = self.root.parent / "chart-src" / f"{name}-{secrets.token_hex(4)}"
        for path, text in files.items():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(text)
        if "dependencies:" in files.get("Chart.yaml", ""):
            self._helm("repo", "add", "public", self.url("public"), "--force-update")
            self._helm("dependency", "build", str(src))
        dest.mkdir(parents=True, exist_ok=True)
        out = src.parent / f"{src.name}.out"
        self._helm("package", str(src), "--destination", str(out))
        (built,) = out.glob("*.tgz")
        archive = dest / built.name
        os.replace(built, archive)  # whole, never a half-written archive in the served folder
        return archive

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One publisher at a time (`helm repo index` rewrites the whole index)."""
        with open(self.root.parent / "chart-repo.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _helm(self, *args: str) -> None:
        run_helm(self.helm, self.root.parent / "helm-home", *args)


def run_helm(helm: str, home: Path, *args: str) -> None:
    """helm ARGS with its cache, config and data under home (never the user's own)."""
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [helm, *args],
        check=True,
        capture_output=True,
        timeout=60,
        env={
            "HOME": str(home),
            "PATH": "/usr/bin:/bin",
            "HELM_CACHE_HOME": str(home / ".cache"),
            "HELM_CONFIG_HOME": str(home / ".config"),
            "HELM_DATA_HOME": str(home / ".data"),
        },
    )


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), os.environ["GITOPS_CHART_REPO_AUTH"])
