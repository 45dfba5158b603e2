"""Each function serves under functions-framework exactly as infra/ deploys it: the source file
and entry point from the Terraform variables, the environment from functions.tf, and the
platform's HTTP signature type (Pub/Sub pushes reach render/apply/audit over HTTP)."""

from __future__ import annotations

import base64
import json
import re
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from shared.core import webhook
from stack import procs
from tests.integration.conftest import post

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TFVARS = json.loads((ROOT / "infra" / "topology.auto.tfvars.json").read_text())


def deploy_env(name: str, stack_env: dict[str, str]) -> dict[str, str]:
    """functions.tf's environment for a function, with local values for the emulators."""
    text = (ROOT / "infra" / "functions.tf").read_text()
    block = re.search(r"function_env = \{(.*?)\n  \}", text, re.S).group(1)
    keys = re.findall(r"^\s+([A-Z_]+)\s+=", block, re.M)
    assert keys == ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "GITOPS_CLUSTERS"]
    local = {
        "GOOGLE_CLOUD_PROJECT": stack_env["GOOGLE_CLOUD_PROJECT"],
        "LOG_EXECUTION_ID": "true",
        "GITOPS_CLUSTERS": "{}",
    }
    env = {k: local[k] for k in keys}
    secret_env = re.search(rf"^    {name} = (\{{[^\n]*\}}|\{{.*?\n    \}})", text, re.M | re.S).group(1)
    for key in re.findall(r"([A-Z_]+)\s*=", secret_env):
        env[key] = {
            "GITHUB_WEBHOOK_SECRET": "deploy-config-secret",
            "GITOPS_REPO_CREDENTIALS": "{}",
            "GITOPS_GITHUB_TOKEN": "none",
        }[key]
    env.update({k: stack_env[k] for k in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST")})
    return env


@pytest.mark.parametrize("name", sorted(TFVARS["functions"]))
def test_function_serves_with_its_deploy_config(stack, tmp_path, name):
    fn = TFVARS["functions"][name]
    port = procs.free_port()
    log = tmp_path / f"{name}.log"
    env = {**deploy_env(name, stack.env), "XDG_RUNTIME_DIR": str(tmp_path)}
    ff = str(Path(sys.executable).parent / "functions-framework")
    proc = procs.start(
        name,
        [
            ff,
            f"--source={ROOT / fn['source']}",
            f"--target={fn['entry_point']}",
            "--signature-type=http",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        str(log),
        env=env,
        port=port,
        cwd=str(ROOT),
    )
    try:
        procs.wait_until(lambda: procs.port_open(port), name, 30, proc, str(log))
        url = f"http://127.0.0.1:{port}"
        if name == "intake":
            body = b'{"zen": "Design for failure.", "hook_id": 7}'
            status, answer = post(
                url,
                body,
                {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "ping",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": webhook.sign(b"deploy-config-secret", body),
                },
            )
            assert (status, answer["result"]) == (200, "pong")
        elif name == "api":
            # people's requests: Google's issuer by default, and no token is no entry
            req = urllib.request.Request(f"{url}/api/v1/applications")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(req, timeout=10)
            assert refused.value.code == 401 and json.loads(refused.value.read())["code"] == 16
        else:
            # a Pub/Sub push envelope, as the push subscription delivers it
            envelope = {
                "subscription": f"projects/p/subscriptions/{name}",
                "message": {
                    "data": base64.b64encode(b'{"schema": 1, "kind": "none"}').decode(),
                    "attributes": {},
                    "messageId": "1",
                    "publishTime": "2026-01-01T00:00:00Z",
                },
            }
            topic = next(s["topic"] for s in TFVARS["subscriptions"].values() if s["function"] == name)
            status, _ = post(
                f"{url}/projects/p/topics/{topic}",
                json.dumps(envelope).encode(),
                {"Content-Type": "application/json"},
            )
            assert status in (200, 204)
            assert "poison message sent to the dead-letter topic" in log.read_text()
    finally:
        procs.stop(proc)
