"""An OCI registry on 127.0.0.1 for the tests: Debian's `docker-registry` (the Distribution
registry, installed by stack/setup.sh), storing in a folder; charts pushed with `helm push`.

    registry = OciRegistry(folder, helm).start()
    registry.push(archive)            # helm push ARCHIVE oci://127.0.0.1:PORT/charts --plain-http
    registry.url()                    # oci://127.0.0.1:PORT/charts
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

from stack import procs
from stack.chartrepo import run_helm


class OciRegistry:
    def __init__(self, root: Path, helm: str) -> None:
        self.root, self.helm = root, helm
        self.port = procs.free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("docker-registry") is not None

    def start(self) -> OciRegistry:
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'}}\n"
            "log: {level: error}\n"
        )
        log = (self.root / "registry.log").open("wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
        procs.wait_until(self._up, "the OCI registry", 20)
        return self

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)

    def url(self) -> str:
        return f"oci://127.0.0.1:{self.port}/charts"

    def push(self, archive: Path) -> None:
        run_helm(self.helm, self.root, "push", str(archive), self.url(), "--plain-http")
