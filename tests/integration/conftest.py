"""One local stack for the whole integration session: emulators, kube-apiserver, git, functions.

Set GITOPS_TEST_STACK_DIR to reuse a stack that is already up (faster local runs);
otherwise a fresh one is started in a temporary folder and stopped at the end.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from shared.core.webhook import ZERO_SHA
from stack import local
from stack.gitrepo import WorkRepo

pytestmark = pytest.mark.integration


def session_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Stack]:
    """The test session's one stack, whichever suite asks first (the integration and the
    reliability suites each have a `stack` fixture made of this): a stack already running
    in the session ($GITOPS_STACK_DIR) or named by GITOPS_TEST_STACK_DIR is reused and left
    running. A second stack would leave the first one's cached clients (Firestore, Pub/Sub)
    pointing at emulators the second one's functions do not read."""
    for variable in ("GITOPS_TEST_STACK_DIR", "GITOPS_STACK_DIR"):
        directory = os.environ.get(variable)
        existing = local.Stack.load(Path(directory)) if directory else None
        if existing is not None and existing.alive():
            os.environ.update(existing.env)
            login_admin(existing)
            yield existing
            return
    directory = tmp_path_factory.mktemp("stack")
    # no sweep on the 5-minute cron in the middle of tests that sweep when they mean to (and of
    # the benchmarks' big applications); test_scheduled_sweep.py starts the scheduler itself
    os.environ.setdefault("GITOPS_SWEEP_INTERVAL", "off")
    st = local.up(directory)
    os.environ.update(st.env)
    login_admin(st)
    yield st
    local.down(directory)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Stack]:
    yield from session_stack(tmp_path_factory)


def login_admin(st: local.Stack) -> None:
    """The test session's CLI acts as the stack's admin (stack/oidc.py ADMIN, role:admin in the
    bootstrap policy), with tokens from the stack's issuer, as `gitops login --local-user` does."""
    from shared.cli import main
    from stack import oidc

    os.environ["GITOPS_CONFIG"] = str(st.dir / "cli-config.json")
    with redirect_stdout(io.StringIO()):
        assert main.main(["login", "--local-user", oidc.ADMIN]) == 0


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture
def repo(stack: local.Stack, uid: str) -> WorkRepo:
    # owner/name, like a GitHub repository (commit statuses address it so)
    return WorkRepo(stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"dana/repo-{uid}")


@pytest.fixture
def namespace(stack: local.Stack, uid: str) -> Iterator[str]:
    name = f"t-{uid}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def secret(stack: local.Stack) -> bytes:
    return Path(stack.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()


def kubectl(*args: str, input_text: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", *args], check=True, capture_output=True, text=True, input=input_text
    ).stdout


def kubectl_json(*args: str) -> dict[str, Any]:
    return json.loads(kubectl(*args, "-o", "json"))


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST and return (status, JSON body, or {"text": body} when it is not JSON)."""
    return send("POST", url, body, headers)


def send(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float = 10
) -> tuple[int, Any]:
    """METHOD and return (status, JSON body, or {"text": body} when it is not JSON)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"text": raw.decode(errors="replace")}


def webhook(
    stack: local.Stack,
    secret: bytes | None,
    body: bytes,
    event: str = "push",
    delivery: str | None = None,
    signature: str | None = None,
) -> tuple[int, dict[str, Any]]:
    from shared.core import webhook as github

    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = github.sign(secret, body)
    return post(stack.env["GITOPS_INTAKE_URL"], body, headers)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def history_count(app: str) -> int:
    from shared.adapters import store

    return int(store.get_app(app).status.get("historyCount", 0))


def wait_history(app: str, count: int, timeout: float = 30) -> dict[str, Any]:
    from shared.adapters import store

    wait_for(lambda: history_count(app) >= count, f"history entry {count} of {app}", timeout)
    return store.get_history(app, count)


def create_app(
    name: str,
    repo: WorkRepo,
    namespace: str,
    *,
    automated: bool = True,
    prune: bool = True,
    self_heal: bool | None = None,
    path: str = "app",
    revision: str = "main",
) -> None:
    from shared.cli import main

    args = [
        "app",
        "create",
        name,
        "--repo",
        repo.url,
        "--path",
        path,
        "--revision",
        revision,
        "--dest-namespace",
        namespace,
        "--sync-policy",
        "automated" if automated else "manual",
    ]
    args += ["--auto-prune"] if prune else []
    args += ["--self-heal"] if (automated if self_heal is None else self_heal) else []
    assert main.main(args) == 0


def push(
    stack: local.Stack,
    secret: bytes,
    repo: WorkRepo,
    message: str,
    files: dict[str, str | None],
    before: str = ZERO_SHA,
) -> str:
    """Commit `files` (None: delete) and push them to main, then deliver GitHub's push webhook
    (answered 200); the new commit's sha."""
    from shared.core import webhook as github

    sha = repo.commit_and_push(message, files)
    status, _ = webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", before, sha))
    assert status == 200
    return sha


def image_of(namespace: str, name: str = "web") -> str:
    """The first container's image of a Deployment in the cluster."""
    deployment = kubectl_json("get", "deployment", name, "-n", namespace)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def run_cli(*args: str) -> tuple[int, str]:
    """`gitops ARGS` in this process: its exit code and what it printed on stdout."""
    code, out, _ = run_cli_capturing(*args)
    return code, out


def run_cli_capturing(*args: str) -> tuple[int, str, str]:
    """`gitops ARGS` in this process: its exit code, stdout and stderr."""
    from shared.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main.main(list(args))
    return code, out.getvalue(), err.getvalue()


def register_credential(url: str, username: str, password: str) -> None:
    """`gitops repo add URL --password-stdin`, as an operator registers one (password on stdin)."""
    from shared.cli import main

    stdin, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        assert main.main(["repo", "add", url, "--username", username, "--password-stdin"]) == 0
    finally:
        sys.stdin = stdin


@pytest.fixture(scope="session")
def chart_repo(stack: local.Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Helm chart repository on 127.0.0.1 (stack/chartrepo.py): public/ and private/ (basic
    auth); charts are published with helm package and helm repo index."""
    from stack.chartrepo import ChartRepo

    helm = local.CACHE / "bin" / "helm"
    if not helm.is_file():
        pytest.skip("helm is not installed (bash stack/setup.sh)")
    repo = ChartRepo(tmp_path_factory.mktemp("charts"), str(helm)).start()
    yield repo
    repo.stop()


@pytest.fixture(scope="session")
def oci_registry(stack: local.Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An OCI registry on 127.0.0.1 (stack/ociregistry.py: Debian's docker-registry)."""
    from stack.ociregistry import OciRegistry

    helm = local.CACHE / "bin" / "helm"
    if not helm.is_file() or not OciRegistry.available():
        pytest.skip("helm or docker-registry is not installed (bash stack/setup.sh)")
    registry = OciRegistry(tmp_path_factory.mktemp("oci"), str(helm)).start()
    yield registry
    registry.stop()


def private_repo(stack: local.Stack, name: str) -> tuple[WorkRepo, str, str]:
    """A repository under private/ (the git server wants basic auth), its credential registered
    for the private/ prefix: (repo, username, password)."""
    user, password = Path(stack.env["GITOPS_GIT_AUTH_FILE"]).read_text().split(":", 1)
    register_credential(f"{stack.env['GITOPS_GIT_URL']}/private/", user, password)
    repo = WorkRepo(
        stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"private/{name}", auth=(user, password)
    )
    return repo, user, password


def function_log(stack: local.Stack, name: str) -> str:
    return (stack.dir / "logs" / f"{name}.log").read_text(errors="replace")


class Observer:
    """A pull subscription on a topic, to see exactly what was published to it."""

    def __init__(self, topic: str) -> None:
        from google.cloud import pubsub_v1

        self.client = pubsub_v1.SubscriberClient()
        project = os.environ["GOOGLE_CLOUD_PROJECT"]
        self.path = f"projects/{project}/subscriptions/observe-{topic}-{uuid.uuid4().hex[:6]}"
        self.client.create_subscription(name=self.path, topic=f"projects/{project}/topics/{topic}")

    def drain(self, settle: float = 1.0) -> list[dict[str, Any]]:
        """Everything published since creation (waits `settle` seconds for stragglers)."""
        return [json.loads(data) for data, _ in self.drain_raw(settle)]

    def drain_raw(self, settle: float = 1.0) -> list[tuple[bytes, dict[str, str]]]:
        """(data, attributes) of everything published since the last drain."""
        out: list[tuple[bytes, dict[str, str]]] = []
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            resp = self.client.pull(
                request={"subscription": self.path, "max_messages": 100, "return_immediately": True},
                timeout=5,
            )
            if resp.received_messages:
                self.client.acknowledge(
                    request={"subscription": self.path, "ack_ids": [m.ack_id for m in resp.received_messages]}
                )
                out += [(m.message.data, dict(m.message.attributes)) for m in resp.received_messages]
            else:
                time.sleep(0.1)
        return out

    def close(self) -> None:
        self.client.delete_subscription(subscription=self.path)


@pytest.fixture
def observe(stack: local.Stack) -> Iterator[Callable[[str], Observer]]:
    made: list[Observer] = []

    def make(topic: str) -> Observer:
        made.append(Observer(topic))
        return made[-1]

    yield make
    for o in made:
        o.close()


@pytest.fixture
def serve_function(stack: local.Stack, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start one more instance of a function with extra environment; yields its URL."""
    from stack import procs

    started = []

    def start(name: str, **env: str) -> str:
        from shared.core import topology

        source, target, signature = topology.FUNCTIONS[name]
        port = procs.free_port()
        log = tmp_path / f"{name}-{port}.log"
        ff = str(Path(sys.executable).parent / "functions-framework")
        root = Path(__file__).resolve().parents[2]
        proc = procs.start(
            name,
            [
                ff,
                f"--source={root / source}",
                f"--target={target}",
                f"--signature-type={signature}",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            str(log),
            env={**stack.env, "XDG_RUNTIME_DIR": str(tmp_path), **env},
            port=port,
            cwd=str(root),
        )
        started.append(proc)
        procs.wait_until(lambda: procs.port_open(port), name, 30, proc, str(log))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        procs.stop(proc)


def sweep(*apps: str) -> None:
    """`gitops sweep APPS --wait`: the audits a scheduled sweep would run, now."""
    from shared.cli import main

    assert main.main(["sweep", *apps, "--wait", "--timeout", "30"]) == 0


def app_health_after_sweeps(app: str, status: str, timeout: float = 60) -> dict[str, Any]:
    """Sweep the application until the audit finds it `status`; its status.health."""
    from shared.adapters import store

    def swept() -> dict[str, Any] | None:
        sweep(app)
        h = dict(store.get_app(app).status.get("health") or {})
        return h if h.get("status") == status else None

    return wait_for(swept, f"{app} {status}", timeout)


def with_policy(app: str, **policy: Any) -> None:
    """Replace fields of an application's syncPolicy in the store."""
    import dataclasses

    from shared.adapters import store

    spec = store.get_app(app).spec
    store.put_app(dataclasses.replace(spec, syncPolicy=dataclasses.replace(spec.syncPolicy, **policy)))


def spec_for(app: str, namespace: str, **policy: Any) -> Any:
    """An application spec for syncing objects through the engine directly (no repository)."""
    from shared.core.model import AppSpec, Destination, SyncPolicy

    return AppSpec(
        name=app,
        repoURL="http://127.0.0.1/none.git",
        destination=Destination(namespace=namespace),
        syncPolicy=SyncPolicy(**policy),
    )


def sync(
    app: str, namespace: str, texts: list[str], inventory: Any = (), **opts: Any
) -> tuple[Any, dict[str, Any]]:
    """Objects (YAML texts) synced by the apply engine itself: (result, results by name)."""
    import yaml

    from shared.adapters import kube
    from shared.sync.engine import Options, apply_all
    from shared.sync.prepare import prepare

    cluster = kube.cluster()
    spec = spec_for(app, namespace)
    objs = [yaml.safe_load(t) for t in texts]
    result = apply_all(cluster, spec, prepare(spec, objs, cluster), list(inventory), Options(**opts))
    return result, {r.id.name: r for r in result.objects}


def example_files(layout: str, path: str = "app") -> dict[str, str]:
    """The files of one of our Argo CD example layouts (tests/integration/examples/LAYOUT), as
    `push` takes them, under `path` in the repository."""
    root = Path(__file__).parent / "examples" / layout
    return {f"{path}/{f.relative_to(root)}": f.read_text() for f in sorted(root.rglob("*")) if f.is_file()}
