"""Argo CD's sync options against the real API server, each with its documented meaning:
RespectIgnoreDifferences (with jsonPointers and jqPathExpressions), SkipDryRunOnMissingResource
(a CRD another application installs), Replace, PruneLast, FailOnSharedResource and the
SharedResourceWarning without it, PrunePropagationPolicy, and Validate=false through the
served functions (the gate lets a partial object through to a server-side apply)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from shared.adapters import kube, store
from shared.core.model import AppSpec, Destination, SyncPolicy
from shared.steps.audit import find_drift
from shared.sync.engine import Options, apply_all, live_objects, refusals
from shared.sync.prepare import prepare
from stack.gitrepo import WorkRepo
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    kubectl,
    kubectl_json,
    push,
    run_cli_capturing,
    sweep,
    wait_for,
    wait_history,
    with_policy,
)

pytestmark = pytest.mark.integration


def app_spec(name: str, namespace: str, *options: str, **fields: Any) -> AppSpec:
    return AppSpec(
        name=name,
        repoURL="http://127.0.0.1/none.git",
        destination=Destination(namespace=namespace),
        syncPolicy=SyncPolicy(prune=True, syncOptions=options),
        **fields,
    ).validate()


def sync_spec(spec: AppSpec, texts: list[str], inventory: Any = ()) -> tuple[Any, dict[str, Any]]:
    """Objects (YAML texts) synced by the engine with the application's own options."""
    cluster = kube.cluster()
    objs = [yaml.safe_load(t) for t in texts]
    result = apply_all(cluster, spec, prepare(spec, objs, cluster), list(inventory), Options.of(spec))
    return result, {r.id.name: r for r in result.objects}


def annotated(text: str, options: str) -> str:
    return text.replace(
        "metadata:\n", f"metadata:\n  annotations: {{argocd.argoproj.io/sync-options: '{options}'}}\n", 1
    )


def replicas(namespace: str) -> int:
    return int(kubectl_json("get", "deployment", "web", "-n", namespace)["spec"]["replicas"])


# ---- RespectIgnoreDifferences ----------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [{"jsonPointers": ["/spec/replicas"]}, {"jqPathExpressions": [".spec.replicas"]}],
    ids=["jsonPointers", "jqPathExpressions"],
)
def test_respect_ignore_differences_keeps_the_live_value(stack, uid, namespace, rule):
    ignore = ({"group": "apps", "kind": "Deployment", **rule},)
    spec = app_spec(f"rid-{uid}", namespace, "RespectIgnoreDifferences=true", ignoreDifferences=ignore)
    first, _ = sync_spec(spec, [manifests.deployment(replicas=1)])
    assert not first.failed, [r.message for r in first.objects]
    kubectl("scale", "deployment", "web", "--replicas=3", "-n", namespace)  # an autoscaler's job
    # a new image in Git: applied; the ignored replicas keep the live value
    second, by_name = sync_spec(spec, [manifests.deployment(image="nginx:1.26", replicas=1)], first.inventory)
    assert by_name["web"].action == "configured", by_name["web"].message
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert live["spec"]["replicas"] == 3
    # the audit ignores the field the same way: no drift
    cluster = kube.cluster()
    desired = prepare(spec, [yaml.safe_load(manifests.deployment(image="nginx:1.26", replicas=1))], cluster)
    owned = {}
    assert find_drift(cluster, spec, desired, live_objects(cluster, spec.name, desired), owned) == []
    # without the option, Git's value is applied as it is (Argo CD's default)
    plain = dataclasses.replace(spec, syncPolicy=SyncPolicy(prune=True))
    sync_spec(plain, [manifests.deployment(image="nginx:1.27", replicas=1)], second.inventory)
    assert replicas(namespace) == 1


def test_respect_ignore_differences_per_object_with_a_jq_select(stack, uid, namespace):
    """The annotation alone turns it on for one object; a jq select names one container's image."""
    rule = {
        "group": "apps",
        "kind": "Deployment",
        "jqPathExpressions": ['.spec.template.spec.containers[] | select(.name == "nginx") | .image'],
    }
    spec = app_spec(f"ridobj-{uid}", namespace, ignoreDifferences=(rule,))
    text = annotated(manifests.deployment(replicas=1), "RespectIgnoreDifferences=true")
    first, _ = sync_spec(spec, [text])
    kubectl("set", "image", "deployment/web", "nginx=nginx:injected", "-n", namespace)
    _, by_name = sync_spec(spec, [text.replace("replicas: 1", "replicas: 2")], first.inventory)
    assert by_name["web"].action == "configured"
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert (live["spec"]["replicas"], live["spec"]["template"]["spec"]["containers"][0]["image"]) == (
        2,
        "nginx:injected",
    )


# ---- SkipDryRunOnMissingResource -------------------------------------------------------------


def test_skip_dry_run_on_missing_resource_when_another_app_installs_the_crd(stack, uid, namespace):
    group = f"t{uid}.example.com"
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec: {{size: 3}}\n"
    plain = app_spec(f"skip-{uid}", namespace)
    # without the option the unknown kind fails the whole dry-run: nothing is written
    refused, by_name = sync_spec(plain, [manifests.configmap(), widget])
    assert refused.failed and refused.writes == 0
    assert "has no resource Widget" in by_name["w1"].message
    assert by_name["settings"].message == "not applied: another object failed the server-side dry-run"
    # with it (the object's annotation), the rest is applied; the widget waits for its CRD
    skipping = annotated(widget, "SkipDryRunOnMissingResource=true")
    partial, by_name = sync_spec(plain, [manifests.configmap(), skipping])
    assert by_name["settings"].action == "created"
    assert by_name["w1"].action == "failed"
    assert "SkipDryRunOnMissingResource=true: its CRD is still not installed" in by_name["w1"].message
    # another application installs the CRD; the next sync creates the widget
    crds, _ = sync_spec(app_spec(f"crds-{uid}", namespace), [manifests.crd(group)])
    assert not crds.failed
    _, by_name = sync_spec(plain, [manifests.configmap(), skipping], partial.inventory)
    assert by_name["w1"].action == "created", by_name["w1"].message
    # the application-level option does the same for every object
    assert Options.of(app_spec("x", namespace, "SkipDryRunOnMissingResource=true")).on(
        "SkipDryRunOnMissingResource", yaml.safe_load(widget)
    )
    kubectl("delete", "crd", f"widgets.{group}", "--wait=false")


def test_the_dry_run_before_presync_hooks_honours_skip_dry_run_on_missing_resource(stack, uid, namespace):
    """With PreSync hooks every object is dry-run before they run (gitops-engine's order); that
    dry-run is made as the sync writes: an unknown kind with SkipDryRunOnMissingResource is no
    refusal there either (it was: the whole sync failed). (Validate=false is passed too; on
    this 1.20 API server fieldValidation does not exist, so it is not told apart here.)"""
    group = f"t{uid}.example.com"
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec: {{size: 3}}\n"
    spec = app_spec(f"presync-{uid}", namespace)
    cluster = kube.cluster()

    def refused(*texts: str) -> list[str]:
        objs = prepare(spec, [yaml.safe_load(t) for t in texts], cluster)
        return sorted(str(oid) for oid in refusals(cluster, objs, objs, set(), Options.of(spec))[0])

    assert refused(widget, manifests.configmap()) == [f"Widget.{group}/{namespace}/w1"]
    assert refused(annotated(widget, "SkipDryRunOnMissingResource=true"), manifests.configmap()) == []


# ---- Replace ---------------------------------------------------------------------------------


def test_replace_writes_the_whole_object_instead_of_applying(stack, uid, namespace):
    spec = app_spec(f"replace-{uid}", namespace, "Replace=true")
    first, by_name = sync_spec(spec, [manifests.configmap()])
    assert by_name["settings"].action == "created"
    assert first.requests.get("create") == 1 and "apply" not in first.requests
    # a key someone else added: an apply would leave it (not ours); a replace removes it
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"extra":"x"}}')
    second, by_name = sync_spec(spec, [manifests.configmap()], first.inventory)
    assert by_name["settings"].action == "configured"
    assert second.requests.get("replace") == 1
    assert kubectl_json("get", "configmap", "settings", "-n", namespace)["data"] == {"greeting": "hello"}
    # server-side apply, for comparison, keeps the other writer's key
    kubectl("patch", "configmap", "settings", "-n", namespace, "-p", '{"data":{"extra":"x"}}')
    applied = app_spec(f"replace-{uid}", namespace)
    sync_spec(applied, [manifests.configmap(greeting="changed")], second.inventory)
    assert kubectl_json("get", "configmap", "settings", "-n", namespace)["data"] == {
        "greeting": "changed",
        "extra": "x",
    }


# ---- PruneLast -------------------------------------------------------------------------------

NEVER_HEALTHY = ({"group": "", "kind": "ConfigMap", "current": "false", "failed": "true"},)


def test_prune_last_waits_for_a_healthy_last_wave(stack, uid, namespace):
    both = [manifests.configmap("a"), manifests.configmap("b")]
    # the last wave never becomes healthy (a custom health rule): PruneLast keeps b for later
    spec = app_spec(f"plast-{uid}", namespace, "PruneLast=true", "WaveTimeout=5", healthChecks=NEVER_HEALTHY)
    first, _ = sync_spec(spec, both)
    kept, by_name = sync_spec(spec, [manifests.configmap("a")], first.inventory)
    assert kept.failed
    assert by_name["b"].action == "skipped" and "not pruned yet (PruneLast=true)" in by_name["b"].message
    assert any("PruneLast=true: the last wave did not become healthy" in r.message for r in kept.objects)
    assert any(e["name"] == "b" for e in kept.inventory)  # a later sync prunes it
    kubectl("get", "configmap", "b", "-n", namespace)
    # without PruneLast the prune does not wait
    plain = dataclasses.replace(spec, syncPolicy=SyncPolicy(prune=True))
    _, by_name = sync_spec(plain, [manifests.configmap("a")], kept.inventory)
    assert by_name["b"].action == "pruned"


def test_prune_last_per_object_once_healthy(stack, uid, namespace):
    spec = app_spec(f"plobj-{uid}", namespace)
    last = annotated(manifests.configmap("b"), "PruneLast=true")
    first, _ = sync_spec(spec, [manifests.configmap("a"), last, manifests.configmap("c")])
    done, _ = sync_spec(spec, [manifests.configmap("a")], first.inventory)
    pruned = [(r.id.name, r.message) for r in done.objects if r.action == "pruned"]
    assert pruned == [("c", ""), ("b", "PruneLast=true")]  # the annotated one after the others


# ---- FailOnSharedResource, SharedResourceWarning ---------------------------------------------


def test_two_applications_claiming_one_object(stack, uid, namespace):
    first_app, second_app = f"own-{uid}", f"other-{uid}"
    owner = app_spec(first_app, namespace)
    taken, _ = sync_spec(owner, [manifests.configmap()])
    # FailOnSharedResource=true: refused, both named, nothing written
    strict = app_spec(second_app, namespace, "FailOnSharedResource=true")
    refused, by_name = sync_spec(strict, [manifests.configmap(), manifests.configmap("mine")])
    assert refused.failed and refused.writes == 0
    assert by_name["settings"].message == (
        f"Shared resource found: ConfigMap/{namespace}/settings is part of applications {first_app} and "
        f"{second_app} (FailOnSharedResource=true: not taken)"
    )
    live = kubectl_json("get", "configmap", "settings", "-n", namespace)
    assert live["metadata"]["labels"]["gitops.dev/app"] == first_app
    # without it the object is taken, as Argo CD does, never silently
    _, by_name = sync_spec(app_spec(second_app, namespace), [manifests.configmap(greeting="theirs")])
    assert by_name["settings"].action == "configured"
    assert by_name["settings"].warning == (
        f"SharedResourceWarning: ConfigMap/{namespace}/settings is part of applications {first_app} and "
        f"{second_app}"
    )
    # and taken back the same way, with both names
    _, by_name = sync_spec(owner, [manifests.configmap()], taken.inventory)
    assert (
        "SharedResourceWarning" in by_name["settings"].warning and second_app in by_name["settings"].warning
    )
    # an object nobody owns is adopted without a warning
    kubectl("create", "configmap", "loose", "-n", namespace)
    _, by_name = sync_spec(owner, [manifests.configmap("loose")])
    assert (by_name["loose"].action, by_name["loose"].warning) == ("configured", "")


# ---- PrunePropagationPolicy ------------------------------------------------------------------


def test_prune_propagation_orphan_keeps_the_dependents(stack, uid, namespace):
    spec = app_spec(f"orphan-{uid}", namespace, "PrunePropagationPolicy=orphan")
    first, _ = sync_spec(spec, [manifests.deployment(replicas=1), manifests.configmap()])
    rs = wait_for(
        lambda: kubectl_json("get", "replicaset", "-n", namespace, "-l", "app=web")["items"],
        "the deployment's replica set",
    )
    _, by_name = sync_spec(spec, [manifests.configmap()], first.inventory)
    assert (by_name["web"].action, by_name["web"].message) == ("pruned", "PrunePropagationPolicy=orphan")
    wait_for(
        lambda: not kubectl_json("get", "deployment", "-n", namespace)["items"], "the deployment gone", 60
    )
    name = rs[0]["metadata"]["name"]
    left = wait_for(
        lambda: (
            r
            if not (r := kubectl_json("get", "replicaset", name, "-n", namespace))["metadata"].get(
                "ownerReferences"
            )
            else None
        ),
        "the orphaned replica set",
    )
    assert left["metadata"]["name"] == name


def test_prune_propagation_default_and_foreground(stack, uid, namespace):
    spec = app_spec(f"fg-{uid}", namespace, "PrunePropagationPolicy=foreground")
    first, _ = sync_spec(spec, [manifests.deployment(replicas=1), manifests.configmap()])
    wait_for(
        lambda: kubectl_json("get", "replicaset", "-n", namespace, "-l", "app=web")["items"], "a replica set"
    )
    _, by_name = sync_spec(spec, [manifests.configmap()], first.inventory)
    assert by_name["web"].message == "PrunePropagationPolicy=foreground"
    wait_for(
        lambda: not kubectl_json("get", "replicaset,deployment", "-n", namespace)["items"],
        "the deployment and its replica set gone",
        60,
    )


# ---- Validate=false through the served functions ---------------------------------------------

PARTIAL = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {argocd.argoproj.io/sync-options: Validate=false}
spec:
  replicas: 2
"""


def test_validate_false_lets_a_partial_object_patch_a_live_one(stack, secret, uid, repo, namespace):
    """Argo CD's documented use: server-side apply of a partial Deployment (only replicas), which
    the schema calls invalid (no selector, no template): with Validate=false the gate lets it
    through and the apply patches the Deployment someone else created."""
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "-n", namespace)
    app = f"val-{uid}"
    create_app(app, repo, namespace, prune=False)
    first = push(stack, secret, repo, "partial", {"app/deploy.yaml": PARTIAL})
    entry = wait_history(app, 1)
    assert entry["phase"] == "Succeeded", entry["summary"]
    wait_for(lambda: replicas(namespace) == 2, "the replicas patched")
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"  # not ours, kept
    # without the option, the gate blocks the same file, naming the missing field
    validated = PARTIAL.replace("  annotations: {argocd.argoproj.io/sync-options: Validate=false}\n", "")
    head = push(stack, secret, repo, "validated", {"app/deploy.yaml": validated}, before=first)
    render = wait_for(
        lambda: (r := store.get_app(app).status.get("render", {})).get("commit") == head and r,
        "the gate's verdict",
    )
    assert "SCH001" in render["message"] and "required field is missing" in render["message"]


# ---- two registered applications, through the served functions -------------------------------


def test_shared_resource_warning_through_the_functions(stack, secret, uid, repo, namespace):
    """Two applications whose repositories hold the same ConfigMap: the second sync takes it and
    its history says so naming both; the first one's audit finds it missing and names who has it."""
    other_repo = WorkRepo(stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"dana/other-{uid}")
    first_app, second_app = f"first-{uid}", f"second-{uid}"
    create_app(first_app, repo, namespace, self_heal=False)
    create_app(second_app, other_repo, namespace, self_heal=False)
    push(stack, secret, repo, "settings", {"app/cm.yaml": manifests.configmap()})
    assert wait_history(first_app, 1)["phase"] == "Succeeded"
    push(stack, secret, other_repo, "settings too", {"app/cm.yaml": manifests.configmap(greeting="theirs")})
    entry = wait_history(second_app, 1)
    warning = (
        f"SharedResourceWarning: ConfigMap/{namespace}/settings is part of applications {first_app} and "
        f"{second_app}"
    )
    assert entry["phase"] == "Succeeded" and warning in entry["summary"]
    assert entry["resources"][0]["warning"] == warning
    sweep(first_app)
    (record,) = store.drift_records(first_app)
    (obj,) = record["objects"]
    assert (obj["drift"], obj["warning"]) == (
        "missing",
        f"SharedResourceWarning: ConfigMap/{namespace}/settings is part of applications {second_app} and "
        f"{first_app}",
    )
    # FailOnSharedResource=true on the first: its next sync refuses to take it back
    with_policy(first_app, syncOptions=("FailOnSharedResource=true",))
    push(stack, secret, repo, "again", {"app/cm.yaml": manifests.configmap(greeting="again")})
    entry = wait_history(first_app, 2)
    assert entry["phase"] == "Failed"
    assert any("Shared resource found" in r.get("message", "") for r in entry["resources"])
    assert kubectl_json("get", "configmap", "settings", "-n", namespace)["data"]["greeting"] == "theirs"


# ---- an Argo CD Application imported, then synced through the served functions ---------------


def test_argocd_manifest_with_sync_options_end_to_end(stack, secret, uid, repo, namespace, tmp_path):
    """`gitops app create -f` an Argo CD Application: its sync options and a jqPathExpressions
    rule are kept, what is not supported is named; a push applies a new image and leaves the
    replicas an autoscaler set (RespectIgnoreDifferences=true)."""
    app = f"argo-{uid}"
    manifest = tmp_path / "app.yaml"
    manifest.write_text(f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {app}, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: '{repo.url}', targetRevision: main, path: app}}
  destination: {{server: 'https://kubernetes.default.svc', namespace: {namespace}}}
  syncPolicy:
    automated: {{prune: true}}
    syncOptions: [RespectIgnoreDifferences=true, PruneLast=true, ServerSideApply=false, Prune=confirm]
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jqPathExpressions: [.spec.replicas]
""")
    code, _, err = run_cli_capturing("app", "create", "-f", str(manifest))
    assert code == 0, err
    assert "ServerSideApply=false: objects are always applied server-side" in err
    assert "Prune=confirm is not supported" in err
    spec = store.get_app(app).spec
    assert spec.syncPolicy.syncOptions == ("RespectIgnoreDifferences=true", "PruneLast=true")
    assert spec.ignoreDifferences == (
        {"group": "apps", "kind": "Deployment", "jqPathExpressions": [".spec.replicas"]},
    )
    first = push(stack, secret, repo, "web", {"app/deploy.yaml": manifests.deployment(replicas=1)})
    assert wait_history(app, 1)["phase"] == "Succeeded"
    kubectl("scale", "deployment", "web", "--replicas=3", "-n", namespace)
    push(
        stack,
        secret,
        repo,
        "new image",
        {"app/deploy.yaml": manifests.deployment("web", "nginx:1.26", 1)},
        first,
    )
    assert wait_history(app, 2)["phase"] == "Succeeded"
    live = kubectl_json("get", "deployment", "web", "-n", namespace)
    assert (live["spec"]["replicas"], live["spec"]["template"]["spec"]["containers"][0]["image"]) == (
        3,
        "nginx:1.26",
    )
    sweep(app)
    assert store.get_app(app).status["sync"]["status"] == "Synced"  # the ignored field is no drift
    code, out, _ = run_cli_capturing("app", "diff", app)  # nor a difference, as `argocd app diff`
    assert (code, out.strip()) == (0, ""), out
