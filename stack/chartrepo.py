"""A Helm chart repository on 127.0.0.1 for the tests: charts packaged with `helm package`,
indexed with `helm repo index`, served over HTTP; everything under /private/ asks for
basic auth (the credentials the repository was started with).

    repo = ChartRepo(folder, helm).start()
    repo.publish("web", {"Chart.yaml": ..., "templates/cm.yaml": ...}, private=False)
    repo.url("public"), repo.url("private")
"""

from __future__ import annotations

import base64
import http.server
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Any


class ChartRepo:
    def __init__(self, root: Path, helm: str) -> None:
        self.root, self.helm = root, helm
        self.username, self.password = "charts", secrets.token_hex(8)
        for area in ("public", "private"):
            (root / area).mkdir(parents=True, exist_ok=True)
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> ChartRepo:
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(repo.root), **kwargs)

            def do_GET(self) -> None:
                if self.path.startswith("/private/") and not repo.authorised(
                    self.headers.get("Authorization")
                ):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="chart-repo").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def url(self, area: str = "public") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/{area}"

    def publish(self, name: str, files: dict[str, str], *, private: bool = False) -> Path:
        """Package a chart into the repository and `helm repo index` it again; the archive."""
        area = self.root / ("private" if private else "public")
        archive = self.package(name, files, area)
        self._helm("repo", "index", str(area), "--url", self.url("private" if private else "public"))
        return archive

    def package(self, name: str, files: dict[str, str], dest: Path) -> Path:
        """Write a chart's files and `helm package` them into dest (after `helm dependency
        build` when it has dependencies, from this repository's public area); the archive."""
        src = self.root / "src" / f"{name}-{secrets.token_hex(4)}"
        for path, text in files.items():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(text)
        if "dependencies:" in files.get("Chart.yaml", ""):
            self._helm("repo", "add", "public", self.url("public"), "--force-update")
            self._helm("dependency", "build", str(src))
        dest.mkdir(parents=True, exist_ok=True)
        before = set(dest.glob("*.tgz"))
        self._helm("package", str(src), "--destination", str(dest))
        (archive,) = set(dest.glob("*.tgz")) - before
        return archive

    def _helm(self, *args: str) -> None:
        run_helm(self.helm, self.root, *args)


def run_helm(helm: str, home: Path, *args: str) -> None:
    """helm ARGS with its cache, config and data under home (never the user's own)."""
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
