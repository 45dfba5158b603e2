"""Tenancy the API server enforces (the local API server runs with RBAC authorization on):

- the functions' own identity is no admin: it may read /version and impersonate the projects'
  ServiceAccounts, nothing else;
- a project's ServiceAccount, with the RBAC `gitops project rbac NAME --apply` installs, writes
  inside the project's namespaces;
- an escape (another namespace, a cluster-scoped kind the project does not allow) is refused
  by the API server itself: through the impersonating client directly, and through the apply
  path with our own project check bypassed."""

from __future__ import annotations

import dataclasses
import os

import pytest
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig

from shared.adapters import kube, store
from shared.adapters.kube import KubeError
from shared.cli import main
from shared.core import kuberbac
from shared.core.messages import ApplyRequest
from shared.steps import apply
from shared.sync.engine import Options, apply_all
from shared.sync.prepare import prepare
from tests.integration import manifests
from tests.integration.conftest import kubectl, spec_for

pytestmark = pytest.mark.integration


def in_namespace(text: str, namespace: str) -> dict:
    obj = yaml.safe_load(text)
    obj["metadata"]["namespace"] = namespace
    return obj


def cluster_role(name: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}}


@pytest.fixture
def project(stack, uid, namespace) -> str:
    """A project owning one namespace, its RBAC installed as the operator would."""
    name = f"team-{uid}"
    store.put_project(
        name,
        {
            "sourceRepos": ["*"],
            "destinations": [{"cluster": "in-cluster", "namespace": namespace}],
            "clusterResourceWhitelist": [],
        },
    )
    assert main.main(["project", "rbac", name, "--apply"]) == 0
    return name


def test_the_functions_own_identity_may_only_impersonate(stack):
    configuration = kclient.Configuration()
    kconfig.load_kube_config(
        config_file=os.environ["GITOPS_FUNCTIONS_KUBECONFIG"], client_configuration=configuration
    )
    functions = kube.Cluster(kclient.ApiClient(configuration))
    assert functions.server_version() == "1.20.2"  # every authenticated user may
    for attempt in (
        lambda: functions.list("v1", "ConfigMap", "default"),
        lambda: functions.apply(in_namespace(manifests.configmap(), "default"), field_manager="t"),
        lambda: functions.get("v1", "Secret", "kube-system", "anything"),
    ):
        with pytest.raises(KubeError) as refused:
            attempt()
        assert refused.value.status == 403 and "gitops-functions" in str(refused.value)


def test_an_escape_through_the_impersonating_client_is_refused_by_the_api_server(
    stack, uid, namespace, project
):
    as_project = kube.for_project("in-cluster", project)
    assert as_project.as_user == kuberbac.impersonated_user(project)
    status, _ = as_project.apply(in_namespace(manifests.configmap(), namespace), field_manager="t")
    assert status == 201  # inside the project: allowed
    user = f"system:serviceaccount:gitops-projects:project-{project}"
    for escape in (in_namespace(manifests.configmap("stolen"), "default"), cluster_role(f"escape-{uid}")):
        with pytest.raises(KubeError) as refused:
            as_project.apply(escape, field_manager="t")
        assert refused.value.status == 403 and user in str(refused.value)
    assert "stolen" not in kubectl("get", "configmap", "-n", "default")


def test_the_engine_with_our_check_bypassed_is_refused_by_the_api_server(stack, uid, namespace, project):
    """Our project check (shared/core/projects) would refuse these before any write; the
    engine is called with no refusals, as a bug in that check would: the API server refuses
    the first request about an object outside the project (reading its live state)."""
    spec = dataclasses.replace(spec_for(f"escape-{uid}", namespace), project=project)
    cluster = kube.for_project("in-cluster", project)
    user = kuberbac.impersonated_user(project)
    for escape in (
        in_namespace(manifests.configmap(f"outside-{uid}"), "default"),
        cluster_role(f"escape-{uid}"),
    ):
        objs = [in_namespace(manifests.configmap("inside"), namespace), escape]
        with pytest.raises(KubeError) as refused:
            apply_all(cluster, spec, prepare(spec, objs, cluster), [], Options(), refused={})
        assert refused.value.status == 403 and user in str(refused.value)
    assert f"outside-{uid}" not in kubectl("get", "configmap", "-n", "default")
    assert f"escape-{uid}" not in kubectl("get", "clusterroles")


def test_the_apply_step_with_our_check_bypassed_records_the_api_servers_refusal(
    stack, uid, repo, namespace, project, monkeypatch
):
    app = f"bypass-{uid}"
    create = ["app", "create", app, "--repo", repo.url, "--path", "app", "--revision", "main"]
    assert main.main([*create, "--dest-namespace", namespace, "--project", project]) == 0
    outside = in_namespace(manifests.configmap(f"outside-{uid}"), "default")
    repo.commit_and_push(
        "escape",
        {"app/inside.yaml": manifests.configmap("inside"), "app/outside.yaml": yaml.safe_dump(outside)},
    )
    main.main(["app", "sync", app, "--wait", "--timeout", "60"])  # our check refuses it first
    first = store.get_history(app, 1)
    assert "is not a destination of project" in str(first["resources"])
    monkeypatch.setattr(apply, "_refused_by_project", lambda spec, desired: {})  # a bug in our check
    apply.apply(
        ApplyRequest(app=app, revision=first["revision"], initiator="manual", operation=f"bypass-{uid}")
    )
    second = store.get_history(app, 2)
    assert second["phase"] == "Failed"
    assert "forbidden" in str(second["resources"]) and kuberbac.impersonated_user(project) in str(
        second["resources"]
    )
    assert f"outside-{uid}" not in kubectl("get", "configmap", "-n", "default")
