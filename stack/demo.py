"""The demo: Argo CD's tutorial story replayed on the local stack, step by step.

    python -m stack.demo [--keep]

A Git repo with the Deployment `sample-app-deployment` (2 x nginx:stable-alpine-perl);
an application registered with automated sync, prune and self-heal; a signed push
webhook syncs it and its pods become Ready (the real scheduler binds them to the stack's
simulated nodes, whose agent runs them): Healthy, 2/2; a new image tag is pushed and rolled
out; a rollback to the first entry; a hand edit with kubectl is found by the drift sweep,
attributed and healed. Everything goes through the served functions and Pub/Sub, as in
production.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

from stack import local
from stack.gitrepo import WorkRepo

APP = "sample-app"
IMAGE_1 = "nginx:stable-alpine-perl"
IMAGE_2 = "nginx:stable-alpine3.21-perl"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-app-deployment
  labels:
    app: sample-app
spec:
  replicas: 2
  selector:
    matchLabels:
      app: sample-app
  template:
    metadata:
      labels:
        app: sample-app
    spec:
      containers:
        - name: nginx
          image: {image}
          ports:
            - containerPort: 80
"""


def step(n: int, text: str) -> None:
    print(f"\n== {n}. {text}", flush=True)


def show(text: str) -> None:
    print(f"   {text}", flush=True)


def send_webhook(intake_url: str, secret: bytes, body: bytes) -> dict[str, Any]:
    from shared.core import webhook

    req = urllib.request.Request(
        intake_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": webhook.sign(secret, body),
        },
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def kubectl(*args: str) -> str:
    return subprocess.run(["kubectl", *args], check=True, capture_output=True, text=True).stdout


def deployment() -> dict[str, Any]:
    return json.loads(kubectl("get", "deployment", "sample-app-deployment", "-n", "default", "-o", "json"))


def rollout(image: str, timeout: float = 60) -> str:
    """Wait until the Deployment runs `image` on all its replicas, Ready; say so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = deployment()
        spec, status = live["spec"], live.get("status") or {}
        want = spec["replicas"]
        if (
            spec["template"]["spec"]["containers"][0]["image"] == image
            and status.get("observedGeneration", 0) >= live["metadata"]["generation"]
            and status.get("updatedReplicas") == status.get("replicas") == want
            and status.get("readyReplicas") == want
        ):
            return f"image {image}, {status['readyReplicas']}/{want} ready"
        time.sleep(0.2)
    raise SystemExit(f"demo: the rollout of {image} did not finish within {timeout:.0f}s")


def wait_healthy(timeout: float = 60) -> str:
    """Sweep (what Cloud Scheduler publishes) until the application's health is Healthy; say so
    with the Deployment's ready replicas."""
    from shared.adapters import store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gitops("sweep", APP, "--wait")
        health = store.get_app(APP).status.get("health") or {}
        if health.get("status") == "Healthy":
            status = deployment().get("status") or {}
            return f"Healthy ({status.get('readyReplicas', 0)}/{status.get('replicas', 0)} ready)"
        time.sleep(0.5)
    raise SystemExit(f"demo: {APP} did not become Healthy within {timeout:.0f}s")


def wait_history(count: int, timeout: float = 60) -> dict[str, Any]:
    from shared.adapters import store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = store.get_app(APP).status
        if int(status.get("historyCount", 0)) >= count:
            return store.get_history(APP, count)
        time.sleep(0.1)
    raise SystemExit(f"demo: history entry {count} did not appear within {timeout:.0f}s")


def gitops(*args: str) -> None:
    from shared.cli import main as cli

    code = cli.main(list(args))
    if code != 0:
        raise SystemExit(f"demo: gitops {' '.join(args)} exited {code}")


def run() -> None:
    from shared.core import webhook

    # the story runs each sweep itself, so its steps show in order; the scheduled sweep
    # (stack/scheduler.py) would otherwise heal the hand edit on its own cron, mid-story
    os.environ.setdefault("GITOPS_SWEEP_INTERVAL", "off")
    st = local.up()
    os.environ.update(st.env)
    # the CLI goes through the API: log in as the stack's admin (tokens from its own issuer),
    # in a context file of the stack's, not the user's ~/.config/gitops
    from stack import oidc

    os.environ["GITOPS_CONFIG"] = str(st.dir / "cli-config.json")
    gitops("login", "--local-user", oidc.ADMIN)
    with open(st.env["GITOPS_WEBHOOK_SECRET_FILE"]) as f:
        secret = f.read().strip().encode()
    intake = st.env["GITOPS_INTAKE_URL"]
    repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"sample-app-{uuid.uuid4().hex[:6]}")

    def push(message: str, image: str, before: str) -> str:
        sha = repo.commit_and_push(message, {"app/deployment.yaml": DEPLOYMENT.format(image=image)})
        answer = send_webhook(
            intake, secret, webhook.push_payload(repo.url, "refs/heads/main", before, sha, message)
        )
        show(f"pushed {sha[:7]} ({message}); webhook answered {answer}")
        return sha

    step(1, f"a Git repository with Deployment sample-app-deployment (2 x {IMAGE_1})")
    show(f"repository {repo.url}")

    step(2, "register the application: automated sync, prune, self-heal")
    from shared.adapters import store

    with contextlib.suppress(store.NotFound):
        store.delete_app(APP)
    gitops(
        "app",
        "create",
        APP,
        "--repo",
        repo.url,
        "--path",
        "app",
        "--revision",
        "main",
        "--dest-namespace",
        "default",
        "--sync-policy",
        "automated",
        "--auto-prune",
        "--self-heal",
        "--upsert",
    )

    step(3, "push -> signed webhook -> render -> apply")
    first = push("deploy sample app", IMAGE_1, webhook.ZERO_SHA)
    entry = wait_history(1)
    show(f"history 1: {entry['summary']}")
    show(f"cluster: {rollout(IMAGE_1)} (pods scheduled on the simulated nodes)")
    show(f"application health: {wait_healthy()}")

    step(4, f"change the image tag to {IMAGE_2} and push")
    push("bump nginx to alpine3.21", IMAGE_2, first)
    entry = wait_history(2)
    show(f"history 2: {entry['summary']}")
    show(f"cluster: {rollout(IMAGE_2)} (rolled over)")

    step(5, "roll back to history entry 1")
    gitops("app", "rollback", APP, "1", "--wait")
    show(f"cluster: {rollout(IMAGE_1)}")

    step(6, "someone edits the Deployment by hand: kubectl scale --replicas=5, kubectl set image")
    kubectl("scale", "deployment", "sample-app-deployment", "-n", "default", "--replicas=5")
    kubectl("set", "image", "deployment/sample-app-deployment", "-n", "default", "nginx=nginx:1.27")
    live = deployment()
    show(
        f"cluster: replicas {live['spec']['replicas']}, "
        f"image {live['spec']['template']['spec']['containers'][0]['image']}"
    )

    step(7, "the drift sweep (what Cloud Scheduler publishes) finds it and self-heals")
    gitops("sweep", APP, "--wait")
    for record in store.drift_records(APP):
        for obj in record["objects"]:
            if obj.get("writtenBy"):
                show(f"who: {obj['object']} was written by {obj['writtenBy']} (the API server's audit log)")
            for f in obj["fields"]:
                who = (
                    f"{f['manager']} ({f['operation']}) at {f['time']}"
                    if f["manager"]
                    else f.get("note", "unknown")
                )
                show(f"drift: {obj['object']} {f['path']}: {f['desired']!r} -> {f['live']!r}, by {who}")
        show(f"action: {record['action']}")
    entry = wait_history(4)
    show(f"history 4: {entry['summary']}")
    show(f"cluster: {rollout(IMAGE_1)}")
    show(f"application health: {wait_healthy()}")

    step(8, "history")
    gitops("app", "history", APP)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="leave the local stack running")
    args = p.parse_args(argv)
    try:
        run()
    finally:
        if not args.keep:
            local.down()
    print("\ndemo finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
