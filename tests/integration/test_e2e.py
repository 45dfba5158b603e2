"""The user's story end to end, only through the served functions and Pub/Sub push subscriptions.

Argo CD's tutorial: sample-app-deployment (2 x nginx:stable-alpine-perl) in Git; an app with
automated sync, prune and self-heal; push -> synced; new image tag pushed -> rolled out;
rollback to the first entry; a hand scale and image edit -> the sweep finds, names and heals it.
After each step: the Deployment in the API server and the history documents in Firestore.
"""

from __future__ import annotations

import pytest

from shared.adapters import bus, store
from shared.core import topology
from shared.core import webhook as github
from shared.core.messages import ApplyRequest, SweepRequest
from tests.integration.conftest import (
    create_app,
    history_count,
    kubectl,
    kubectl_json,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-app-deployment
spec:
  replicas: 2
  selector:
    matchLabels: {{app: sample-app}}
  template:
    metadata:
      labels: {{app: sample-app}}
    spec:
      containers:
        - name: nginx
          image: {image}
          ports:
            - containerPort: 80
"""


def test_argo_cd_tutorial_story(stack, secret, uid, repo, namespace):
    app = f"sample-app-{uid}"

    def deployment():
        return kubectl_json("get", "deployment", "sample-app-deployment", "-n", namespace)

    def image():
        return deployment()["spec"]["template"]["spec"]["containers"][0]["image"]

    def push(message, image_tag, before):
        sha = repo.commit_and_push(message, {"guestbook/deploy.yaml": DEPLOYMENT.format(image=image_tag)})
        status, body = webhook(
            stack, secret, github.push_payload(repo.url, "refs/heads/main", before, sha, message)
        )
        assert (status, body["apps"]) == (200, [app])
        return sha

    def history():
        return [(e["sequence"], e["commit"], e["initiator"], e["phase"]) for e in store.history(app)]

    create_app(app, repo, namespace, path="guestbook")

    first = push("sample app", "nginx:stable-alpine-perl", github.ZERO_SHA)
    wait_history(app, 1)
    assert image() == "nginx:stable-alpine-perl"
    assert deployment()["spec"]["replicas"] == 2
    assert history() == [(1, first, "webhook", "Succeeded")]

    second = push("new tag", "nginx:stable-alpine3.21-perl", first)
    wait_history(app, 2)
    assert image() == "nginx:stable-alpine3.21-perl"
    assert history() == [(1, first, "webhook", "Succeeded"), (2, second, "webhook", "Succeeded")]

    entry_1 = store.get_history(app, 1)
    bus.publish(
        topology.APPLY,
        [
            ApplyRequest(
                app=app,
                revision=entry_1["revision"],
                initiator="rollback",
                operation=f"rb-{uid}",
                triggered_by="test",
            )
        ],
    )
    wait_history(app, 3)
    assert image() == "nginx:stable-alpine-perl"
    assert history()[-1] == (3, first, "rollback", "Succeeded")

    kubectl("scale", "deployment", "sample-app-deployment", "-n", namespace, "--replicas=4")
    kubectl("set", "image", "deployment/sample-app-deployment", "-n", namespace, "nginx=nginx:edited")
    bus.publish(topology.SWEEP, [SweepRequest(apps=(app,), operation=f"sweep-{uid}")])
    wait_history(app, 4)
    assert image() == "nginx:stable-alpine-perl"
    assert deployment()["spec"]["replicas"] == 2
    assert history()[-1] == (4, first, "self-heal", "Succeeded")
    record = next(store.drift_records(app))
    fields = {f["path"]: f for f in record["objects"][0]["fields"]}
    assert fields["spec.replicas"]["live"] == 4
    assert fields["spec.template.spec.containers[name=nginx].image"]["manager"] == "kubectl-set"

    # after the heal the app audits clean, and nothing more is written to history; it is
    # OutOfSync all the same, as Argo CD shows a rolled-back app: the target (the branch's
    # newest render) is the second commit, the first is live
    bus.publish(topology.SWEEP, [SweepRequest(apps=(app,), operation=f"sweep2-{uid}")])
    wait_for(
        lambda: (
            (store.get_app(app).status.get("lastAuditAt") or record["detectedAt"]) > record["detectedAt"]
            and store.get_app(app).status.get("drift") is None
        ),
        "a clean audit",
    )
    sync = store.get_app(app).status["sync"]
    assert (sync["status"], sync["live"], sync["target"]["commit"]) == ("OutOfSync", first, second)
    assert history_count(app) == 4
