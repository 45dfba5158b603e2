"""Pure rules of the apply engine: normalisation, options, retries, projects, inventory."""

import base64

import pytest

from shared.adapters.kube import KubeError
from shared.core import inventory, projects
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec, Destination, SpecError, SyncPolicy
from shared.sync.engine import _by_wave, is_immutable, object_options, still_predicts, wave_of, with_retries
from shared.sync.prepare import normalise

R = "git@h:r"  # a valid repository URL for specs whose repository does not matter


def test_normalise_service_ports_and_secret_string_data():
    svc = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}
    normalise(svc)
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA=="}, "stringData": {"b": "hi"}}
    normalise(secret)
    assert secret == {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "eA==", "b": base64.b64encode(b"hi").decode()},
    }


def test_annotations_for_waves_and_options():
    obj = {
        "metadata": {
            "annotations": {
                "gitops.dev/sync-wave": "-2",
                "gitops.dev/sync-options": "Prune=false, Recreate=true",
            }
        }
    }
    assert wave_of(obj) == -2 and wave_of({"metadata": {}}) == 0
    assert object_options(obj) == {"Prune=false", "Recreate=true"}


def test_sync_options_are_validated():
    policy = SyncPolicy(syncOptions=("CreateNamespace=true", "WaveTimeout=30"))
    assert policy.enabled("CreateNamespace") and policy.option("WaveTimeout") == "30"
    with pytest.raises(SpecError, match=r"syncPolicy\.syncOptions"):
        AppSpec(name="a", repoURL=R, syncPolicy=SyncPolicy(syncOptions=("Bogus=1",))).validate()


def test_transient_errors_are_retried_permanent_ones_are_not():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise KubeError(503, "unavailable", transient=True)
        return "ok"

    assert with_retries(flaky) == "ok" and len(calls) == 3
    with pytest.raises(KubeError):
        with_retries(lambda: (_ for _ in ()).throw(KubeError(422, "bad", transient=False)))


def test_immutable_detection_is_specific():
    assert is_immutable(
        KubeError(
            422,
            'Deployment.apps "web" is invalid: spec.selector: Invalid value: ...: field is immutable',
            transient=False,
        )
    )
    assert not is_immutable(KubeError(422, "spec.replicas: Invalid value: -1", transient=False))


def test_projects_check_sources_destinations_and_kinds():
    project = {
        "sourceRepos": ["https://github.com/org/*"],
        "destinations": [{"cluster": "in-cluster", "namespace": "team-*"}],
        "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
    }
    spec = AppSpec(
        name="a", repoURL="git@github.com:org/app.git", destination=Destination("in-cluster", "team-a")
    )
    assert projects.check_source("p", project, spec) == []
    other = AppSpec(name="a", repoURL="https://gitlab.com/x/y")
    assert "sourceRepos" in projects.check_source("p", project, other)[0]
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok", "namespace": "team-a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "out", "namespace": "prod"}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "team-a"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "admin"},
        },
    ]
    found = {oid.name: why for oid, why in projects.check_objects("p", project, spec, objs).items()}
    assert set(found) == {"out", "q", "admin"}
    assert "namespace 'prod'" in found["out"]
    assert "namespaceResourceBlacklist" in found["q"]
    assert "clusterResourceWhitelist" in found["admin"]


def test_inventory_untouched_needs_both_digests():
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"a": "b"},
    }
    live = {**desired, "metadata": {**desired["metadata"], "resourceVersion": "5", "uid": "u"}}
    entry = inventory.entry(desired, live)
    assert inventory.entry_id(entry) == ObjectId("", "ConfigMap", "n", "c")
    assert inventory.untouched(entry, desired, live)
    status_only = {
        **live,
        "status": {"x": 1},
        "metadata": {
            **live["metadata"],
            "resourceVersion": "9",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
    }
    assert inventory.untouched(entry, desired, status_only)
    assert not inventory.untouched(entry, {**desired, "data": {"a": "c"}}, live)
    assert not inventory.untouched(entry, desired, {**live, "data": {"a": "edited"}})
    assert not inventory.untouched(None, desired, live)


@pytest.mark.parametrize(
    ("waves", "grouped"),
    [
        ([], {}),
        ([None, None], {0: ["o0", "o1"]}),
        (["2", "-1", None, "2", "x"], {2: ["o0", "o3"], -1: ["o1"], 0: ["o2", "o4"]}),
    ],
)
def test_objects_are_grouped_by_wave_once_in_their_order(waves, grouped):
    objs = [
        {"metadata": {"name": f"o{i}", "annotations": {"gitops.dev/sync-wave": w} if w is not None else {}}}
        for i, w in enumerate(waves)
    ]
    got = {w: [o["metadata"]["name"] for o in members] for w, members in _by_wave(objs).items()}
    assert got == grouped


def with_version(version: str) -> dict:
    return {"metadata": {"name": "a", **({"resourceVersion": version} if version else {})}}


@pytest.mark.parametrize(
    ("answer", "live", "reused"),
    [
        (with_version(""), None, True),  # a create, and still nothing there
        (with_version("7"), with_version("7"), True),  # the object a hook did not touch
        (with_version("7"), with_version("9"), False),  # changed meanwhile: dry-run again
        (with_version(""), with_version("9"), False),  # created meanwhile: its owner is checked
        (with_version("7"), None, False),  # deleted, or it is not this app's (no label): asked again
        (KubeError(404, "no such namespace", transient=False), None, False),  # a refusal is asked again
    ],
)
def test_a_dry_run_before_the_presync_hooks_is_reused_only_for_an_object_they_did_not_change(
    answer, live, reused
):
    assert still_predicts(answer, live) is reused
