"""An OCI registry on 127.0.0.1, started by the stack (stack/local.py): Debian's
`docker-registry` (the Distribution registry, installed by stack/setup.sh), storing in a
folder; charts pushed with `helm push`.

    config(folder, port)                     # the registry's config file, for `docker-registry serve`
    registry = OciRegistry.of_stack(stack.env)
    registry.push(archive)                   # helm push ARCHIVE oci://127.0.0.1:PORT/charts --plain-http
    registry.url()                           # oci://127.0.0.1:PORT/charts
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stack.chartrepo import run_helm


def config(root: Path, port: int) -> Path:
    path = root / "config.yml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        "log: {level: error}\n"
    )
    return path


class OciRegistry:
    """Pushes charts into the stack's registry."""

    def __init__(self, url: str, helm: str, home: Path) -> None:
        self.base_url, self.helm, self.home = url.rstrip("/"), helm, home

    @classmethod
    def of_stack(cls, env: Mapping[str, str]) -> OciRegistry:
        return cls(
            env["GITOPS_OCI_REGISTRY_URL"], env["GITOPS_HELM"], Path(env["GITOPS_STACK_DIR"]) / "helm-home"
        )

    def url(self) -> str:
        return f"{self.base_url}/charts"

    def push(self, archive: Path) -> None:
        run_helm(self.helm, self.home, "push", str(archive), self.url(), "--plain-http")
