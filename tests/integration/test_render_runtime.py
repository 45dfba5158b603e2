"""Deployment parity: the render function started from its deploy artifact, not from this venv.

The image is built from functions/render/Dockerfile, the file Cloud Build builds, with the
build context `python -m infra.runtime prepare` makes (stack/image.py builds it without a
Docker engine). Its command runs as a container would, with the image's PATH and
environment, the host's files out of sight, in place of the stack's render function on the
same port (its Pub/Sub push subscription is unchanged). Directory, Kustomize, Helm and
Jsonnet applications are then rendered through it and applied.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import runtime
from shared.cli import main
from shared.core import webhook as github
from stack import image, local, procs
from tests.integration import manifests
from tests.integration.conftest import create_app, kubectl_json, wait_history, webhook

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "functions" / "render" / "Dockerfile"
# what the platform injects besides the Terraform's environment: only the local stack's
# equivalents of it pass (emulator hosts, the stack's GITOPS_* settings); nothing of the host
PASSED = ("GITOPS_", "FIRESTORE_", "PUBSUB_", "GOOGLE_", "CLOUDSDK_")
DROPPED = ("GITOPS_HELM",)  # the image carries its own helm


@pytest.fixture(scope="module")
def render_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[image.Image]:
    runtime.prepare(ROOT / "build" / "render")
    built = image.build(DOCKERFILE, ROOT, tmp_path_factory.mktemp("render-image") / "rootfs")
    yield built
    shutil.rmtree(built.rootfs, ignore_errors=True)


@pytest.fixture
def render_from_image(stack: local.Stack, render_image: image.Image, tmp_path: Path) -> Iterator[Path]:
    """The stack's render function replaced by the image's, on the same port; put back after."""
    launch = local.stop_component(stack, "render")
    env = {k: v for k, v in launch.env.items() if k.startswith(PASSED) and k not in DROPPED}
    env.update(PORT=str(launch.port), HOST="127.0.0.1", THREADS=launch.env.get("THREADS", "8"))
    log = tmp_path / "render-image.log"
    proc = procs.start(
        "render", image.command(render_image, env, binds=(stack.dir,)), str(log), port=launch.port
    )
    try:
        procs.wait_until(lambda: procs.port_open(launch.port), "render (image)", 60, proc, str(log))
        yield log
    finally:
        procs.stop(proc)
        local.start_component(stack, launch)


def test_the_image_carries_its_tools_and_nothing_of_the_host(render_image):
    probe = "for t in helm kubectl bwrap python3 functions-framework; do command -v $t; done"
    probe += "; test ! -e /root/.cache/gitops && test ! -e /work"
    argv = image.command(render_image, {}, argv=["/bin/sh", "-c", probe])
    found = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    assert found == [
        "/usr/local/bin/helm",
        "/usr/local/bin/kubectl",
        "/usr/bin/bwrap",
        "/opt/venv/bin/python3",
        "/opt/venv/bin/functions-framework",
    ]


def test_every_source_kind_renders_through_the_deployed_runtime(
    stack, render_from_image, secret, uid, repo, namespace
):
    apps = {
        "directory": f"dir-{uid}",
        "kustomize": f"kust-{uid}",
        "helm": f"helm-{uid}",
        "jsonnet": f"js-{uid}",
    }
    for kind, app in apps.items():
        create_app(app, repo, namespace, path=kind)
    assert main.main(["app", "set", apps["jsonnet"], "--source", "{jsonnet: {extVars: {env: prod}}}"]) == 0
    files = {
        "directory/cm.yaml": manifests.configmap(name="from-directory"),
        "kustomize/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: kust-\n",
        "kustomize/cm.yaml": manifests.configmap(name="settings"),
        "helm/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "helm/values.yaml": "greeting: hello\n",
        "helm/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting }}\n",
        "jsonnet/main.jsonnet": "[{apiVersion: 'v1', kind: 'ConfigMap', "
        "metadata: {name: 'cfg-' + std.extVar('env')}, data: {from: 'jsonnet'}}]\n",
    }
    sha = repo.commit_and_push("every source kind", files)
    status, _ = webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    assert status == 200
    for kind, app in apps.items():
        entry = wait_history(app, 1, timeout=120)
        assert (entry["commit"], entry["phase"]) == (sha, "Succeeded"), (kind, entry)
    names = {"from-directory": "directory", "kust-settings": "kustomize", f"{apps['helm']}-cfg": "helm"}
    names["cfg-prod"] = "jsonnet"
    for name in names:
        kubectl_json("get", "configmap", name, "-n", namespace)
    served = render_from_image.read_text(errors="replace")
    assert sha[:12] in served or sha in served  # the image's function did the rendering
