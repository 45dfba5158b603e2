"""The sync engine against the real API server: order, zero-write no-ops, prune, immutable
fields, waves, health, projects, concurrency. (Like Flux's envtest suite: real kube-apiserver,
each test in its own namespace.)"""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from shared.adapters import kube, store
from shared.core import health
from shared.core.messages import ApplyRequest
from shared.steps import apply
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    kubectl,
    kubectl_json,
    spec_for,
    sync,
    wait_for,
    wait_history,
    webhook,
)

pytestmark = pytest.mark.integration


def test_crd_and_its_custom_resource_in_one_sync(stack, uid, namespace):
    group = f"t{uid}.example.com"
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w1}}\nspec: {{size: 3}}\n"
    result, by_name = sync(f"crd-{uid}", namespace, [widget, manifests.crd(group)])
    assert not result.failed, [r.message for r in result.objects]
    assert [r.id.kind for r in result.objects] == ["CustomResourceDefinition", "Widget"]
    assert by_name["w1"].action == "created"
    assert kubectl_json("get", f"widgets.{group}", "w1", "-n", namespace)["spec"]["size"] == 3
    kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_noop_sync_makes_no_write_and_only_point_reads(stack, uid, namespace):
    texts = [manifests.deployment(), manifests.service(), manifests.configmap(), manifests.ingress()]
    first, _ = sync(f"noop-{uid}", namespace, texts)
    assert first.counts() == {"created": 4}
    time.sleep(1.5)  # let the deployment controller write status and its revision annotation
    before = {
        i["metadata"]["name"] + i["kind"]: i["metadata"]["resourceVersion"]
        for i in kubectl_json("get", "configmap,service,ingress", "-n", namespace)["items"]
    }
    second, _ = sync(f"noop-{uid}", namespace, texts, first.inventory)
    assert second.counts() == {"unchanged": 4}
    assert second.writes == 0
    assert second.requests == {"get": 4}  # one point read per object, no dry-run, no write
    after = {
        i["metadata"]["name"] + i["kind"]: i["metadata"]["resourceVersion"]
        for i in kubectl_json("get", "configmap,service,ingress", "-n", namespace)["items"]
    }
    assert after == before
    # one object changed in Git: exactly one dry-run and one write
    texts[2] = manifests.configmap(greeting="changed")
    third, by_name = sync(f"noop-{uid}", namespace, texts, second.inventory)
    assert by_name["settings"].action == "configured"
    assert third.requests == {"get": 4, "dry-run": 1, "apply": 1}


def test_a_create_the_api_server_refuses_fails_the_sync_before_anything_is_written(stack, uid, namespace):
    # every create is dry-run: one refused (a data key the API server rejects) means nothing
    # of the revision is written, not the objects before it
    bad = manifests.configmap("d1").replace("greeting:", "'bad key!':")
    texts = [manifests.configmap("d0"), bad, manifests.configmap("d2"), manifests.service("later")]
    result, by_name = sync(f"refused-{uid}", namespace, texts)
    assert result.failed
    assert by_name["d1"].action == "failed" and "bad key!" in by_name["d1"].message
    assert result.requests.get("apply", 0) == 0 and result.requests["dry-run"] == 4
    assert result.inventory == []
    listed = kubectl("get", "configmap,service", "-n", namespace)
    assert "d0" not in listed and "later" not in listed


def test_a_kind_whose_crd_was_deleted_answers_404_not_a_garbled_error(stack, uid, namespace):
    """The API server answers a path it no longer serves with plain text ("404 page not
    found"): a permanent 404 (live_objects skips the kind), not an unparseable answer that a
    sweep would retry forever."""
    group = f"g{uid}.example.com"
    kubectl("apply", "-f", "-", input_text=manifests.crd(group))
    cluster = kube.cluster()

    def listed() -> bool:
        try:
            return cluster.list(f"{group}/v1", "Widget", namespace) == []
        except kube.KubeError:
            return False

    wait_for(listed, "the CRD served")
    kubectl("delete", "crd", f"widgets.{group}")

    def gone() -> bool:
        try:
            cluster.list(f"{group}/v1", "Widget", namespace)  # discovery still has the kind
        except kube.KubeError as exc:
            return exc.status == 404 and not exc.transient
        return False

    wait_for(gone, "a 404 for the deleted kind", timeout=60)


def test_live_objects_reads_few_by_name_lists_many_and_keeps_only_the_apps(stack, uid, namespace):
    from shared.sync.engine import GET_AT_MOST, live_objects

    app = f"live-{uid}"
    many = [manifests.configmap(name=f"cm{i}") for i in range(GET_AT_MOST + 1)]
    result, _ = sync(app, namespace, [manifests.service(), *many])
    assert not result.failed
    # a Service of the same kind and namespace that is not the app's (no label): never its own
    kubectl("create", "service", "clusterip", "stranger", "--tcp=80:80", "-n", namespace)
    cluster = kube.cluster()
    wanted = [yaml.safe_load(t) for t in [manifests.service(), *many]]
    stranger = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "stranger", "namespace": namespace},
    }
    for obj in wanted:
        obj["metadata"]["namespace"] = namespace
    before = cluster.request_counts()
    live = live_objects(cluster, app, [*wanted, stranger])
    after = cluster.request_counts()
    assert {oid.name for oid in live} == {"web", *(f"cm{i}" for i in range(GET_AT_MOST + 1))}
    # two Services read by name (the stranger's answer is dropped), the ConfigMaps listed
    assert {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)} == {
        "get": 2,
        "list": 1,
    }
    listed = live_objects(cluster, app, [wanted[0]], complete=True)  # what `gitops diff` does
    assert {oid.name for oid in listed} == {"web"}


def test_hand_edit_is_caught_by_the_dry_run_not_the_fast_path(stack, uid, namespace):
    first, _ = sync(f"edit-{uid}", namespace, [manifests.configmap()])
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"greeting":"x"}}')
    _, by_name = sync(f"edit-{uid}", namespace, [manifests.configmap()], first.inventory)
    assert by_name["settings"].action == "configured"
    assert kubectl_json("get", "configmap", "settings", "-n", namespace)["data"]["greeting"] == "hello"


def test_empty_render_never_prunes_everything_unless_allowed(stack, uid, namespace):
    first, _ = sync(f"empty-{uid}", namespace, [manifests.configmap()], prune=True)
    refused, _ = sync(f"empty-{uid}", namespace, [], first.inventory, prune=True)
    assert refused.failed and "refusing to prune everything" in refused.objects[0].message
    assert refused.writes == 0 and refused.inventory == first.inventory
    kubectl("get", "configmap", "settings", "-n", namespace)
    _, by_name = sync(f"empty-{uid}", namespace, [], first.inventory, prune=True, allow_empty=True)
    assert by_name["settings"].action == "pruned"


def test_prune_false_annotation_keeps_the_object(stack, uid, namespace):
    keep = manifests.configmap("kept").replace(
        "metadata:\n", "metadata:\n  annotations: {gitops.dev/sync-options: Prune=false}\n"
    )
    first, _ = sync(f"keep-{uid}", namespace, [keep, manifests.configmap("other")], prune=True)
    _, by_name = sync(f"keep-{uid}", namespace, [manifests.configmap("other")], first.inventory, prune=True)
    assert by_name["kept"].action == "skipped" and "Prune=false" in by_name["kept"].message
    kubectl("get", "configmap", "kept", "-n", namespace)


def test_prune_lists_what_it_deletes_and_still_names_what_it_keeps(stack, uid, namespace):
    from shared.sync.engine import GET_AT_MOST, delete_all

    app = f"prune-{uid}"
    many = [manifests.configmap(name=f"cm{i}") for i in range(GET_AT_MOST + 3)]
    first, _ = sync(app, namespace, [manifests.service(), *many], prune=True)
    kubectl("delete", "configmap", "cm0", "-n", namespace)  # gone before the prune
    kubectl("label", "configmap", "cm1", "-n", namespace, "gitops.dev/app-")  # not the app's any more
    second, by_name = sync(app, namespace, [manifests.service()], first.inventory, prune=True)
    assert by_name["cm0"].action == "pruned" and by_name["cm0"].message == "already gone"
    assert by_name["cm1"].action == "skipped"
    assert "no longer carries this app's label" in by_name["cm1"].message
    assert all(by_name[f"cm{i}"].action == "pruned" for i in range(2, GET_AT_MOST + 3))
    # the ConfigMaps listed once (not one GET each), the two missing from the list read by name
    assert second.requests == {"get": 3, "list": 1, "delete": GET_AT_MOST + 1}, second.requests
    assert {r.id.name for r in second.objects} == {"web", *(f"cm{i}" for i in range(GET_AT_MOST + 3))}
    kubectl("get", "configmap", "cm1", "-n", namespace)
    assert "cm2" not in kubectl("get", "configmap", "-n", namespace)
    results = delete_all(kube.cluster(), spec_for(app, namespace), second.inventory)
    assert [(r.id.kind, r.id.name, r.action) for r in results] == [("Service", "web", "pruned")]


def test_immutable_field_fails_with_a_hint_and_recreates_on_opt_in(stack, uid, namespace):
    first, _ = sync(f"imm-{uid}", namespace, [manifests.deployment()])
    changed = (
        manifests.deployment()
        .replace("matchLabels: {app: web}", "matchLabels: {app: web, v: two}")
        .replace("labels: {app: web}\n    spec:", "labels: {app: web, v: two}\n    spec:")
    )
    failed, by_name = sync(f"imm-{uid}", namespace, [changed], first.inventory)
    assert failed.failed and failed.writes == 0
    assert "immutable" in by_name["web"].message and "Recreate=true" in by_name["web"].message
    uid_before = kubectl_json("get", "deployment", "web", "-n", namespace)["metadata"]["uid"]
    recreated, by_name = sync(f"imm-{uid}", namespace, [changed], first.inventory, recreate=True)
    assert not recreated.failed, by_name["web"].message
    assert by_name["web"].message.startswith("recreated")
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert live["metadata"]["uid"] != uid_before
    assert live["spec"]["selector"]["matchLabels"] == {"app": "web", "v": "two"}


def test_create_namespace(stack, uid):
    ns = f"created-{uid}"
    result, by_name = sync(f"ns-{uid}", ns, [manifests.configmap()], create_namespace=ns)
    assert by_name[ns].action == "created" and by_name["settings"].action == "created"
    assert all(e["kind"] != "Namespace" for e in result.inventory)  # created, not owned
    kubectl("delete", "namespace", ns, "--wait=false")


def test_health_zero_replicas_is_healthy_and_a_missed_deadline_degraded(stack, uid, namespace):
    # "stuck": its pod runs but never becomes Ready (the simulated nodes' `unready` image)
    sync(
        f"health-{uid}",
        namespace,
        [
            manifests.deployment("idle", replicas=0),
            manifests.deployment("stuck", "nginx:unready", replicas=1).replace(
                "progressDeadlineSeconds: 600", "progressDeadlineSeconds: 1"
            ),
        ],
    )

    def health_of(name):
        return health.of(kubectl_json("get", "deployment", name, "-n", namespace))

    wait_for(lambda: health_of("idle").status == "Healthy", "idle to be Healthy")
    assert health_of("stuck").status in ("Progressing", "Degraded")
    degraded = wait_for(lambda: (h := health_of("stuck")).status == "Degraded" and h, "Degraded", timeout=60)
    assert "progress" in degraded.message.lower()


def test_a_wave_must_be_healthy_before_the_next(stack, uid, namespace):
    stuck = (
        manifests.deployment("stuck", "nginx:unready", replicas=1)
        .replace("progressDeadlineSeconds: 600", "progressDeadlineSeconds: 1")
        .replace(
            "metadata:\n  name: stuck", "metadata:\n  name: stuck\n  annotations: {gitops.dev/sync-wave: '0'}"
        )
    )
    later = manifests.configmap("later").replace(
        "metadata:\n", "metadata:\n  annotations: {gitops.dev/sync-wave: '1'}\n"
    )
    early = manifests.configmap("early").replace(
        "metadata:\n", "metadata:\n  annotations: {gitops.dev/sync-wave: '-1'}\n"
    )
    _, by_name = sync(f"waves-{uid}", namespace, [later, stuck, early], wave_timeout_s=60)
    assert by_name["early"].action == "created" and by_name["stuck"].action == "created"
    assert by_name["later"].action == "skipped"
    assert "wave 0 did not become healthy" in by_name["later"].message
    assert "later" not in kubectl("get", "configmap", "-n", namespace)


def test_two_concurrent_deliveries_of_one_sync_apply_once(stack, secret, uid, repo, namespace):
    app = f"twice-{uid}"
    create_app(app, repo, namespace, automated=False)
    repo.commit_and_push("deploy", {"app/cm.yaml": manifests.configmap()})
    from shared.cli import main

    assert main.main(["app", "sync", app, "--wait", "--timeout", "30"]) == 0
    revision = store.get_history(app, 1)["revision"]
    req = ApplyRequest(app=app, revision=revision, initiator="manual", operation=f"both-{uid}")
    outcomes, errors = [], []

    def deliver():
        try:
            outcomes.append(apply.apply(req).action)
        except store.LeaseBusy as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("synced") == 1
    assert len(outcomes) + len(errors) == 2  # the other one is busy (retried) or a duplicate
    assert store.get_app(app).status["historyCount"] == 2


def test_project_violation_is_refused_before_any_write(stack, secret, uid, repo, namespace):
    from shared.core import webhook as github

    store.put_project(
        f"team-{uid}",
        {
            "sourceRepos": [repo.url],
            "destinations": [{"cluster": "*", "namespace": namespace}],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}],
        },
    )
    app = f"tenant-{uid}"
    from shared.cli import main

    assert (
        main.main(
            [
                "app",
                "create",
                app,
                "--repo",
                repo.url,
                "--path",
                "app",
                "--revision",
                "main",
                "--dest-namespace",
                namespace,
                "--sync-policy",
                "automated",
                "--project",
                f"team-{uid}",
            ]
        )
        == 0
    )
    role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x-" + uid + "}\n"
    other_ns = manifests.configmap("elsewhere").replace(
        "metadata:\n", "metadata:\n  namespace: kube-system\n"
    )
    sha = repo.commit_and_push(
        "escape", {"app/ok.yaml": manifests.configmap(), "app/role.yaml": role, "app/other.yaml": other_ns}
    )
    webhook(stack, secret, github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha))
    entry = wait_history(app, 1)
    assert entry["phase"] == "Failed" and entry["writes"] == 0
    results = {r["name"]: r for r in entry["resources"]}
    assert "clusterResourceWhitelist" in results[f"x-{uid}"]["message"]
    assert "namespace 'kube-system'" in results["elsewhere"]["message"]
    assert results["settings"]["action"] == "skipped"
    assert "settings" not in kubectl("get", "configmap", "-n", namespace)
