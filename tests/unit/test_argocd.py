"""Argo CD manifests accepted as they are, every unsupported field named in a warning."""

import re

import pytest
import yaml

from shared.core import argocd
from shared.core.model import SpecError

# the shape of Argo CD's documented declarative-setup example
GUESTBOOK = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
    helm:
      releaseName: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
      allowEmpty: false
    syncOptions:
      - CreateNamespace=true
      - ApplyOutOfSyncOnly=true
      - PruneLast=true
      - Prune=confirm
    retry:
      limit: 5
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers: [/spec/replicas]
  revisionHistoryLimit: 10
""")


def test_argo_application_maps_to_our_spec_with_named_warnings():
    spec, warnings = argocd.application(GUESTBOOK)
    assert (spec.name, spec.repoURL, spec.path, spec.targetRevision) == (
        "guestbook",
        "https://github.com/argoproj/argocd-example-apps.git",
        "guestbook",
        "HEAD",
    )
    assert (spec.destination.cluster, spec.destination.namespace) == ("in-cluster", "guestbook")
    policy = spec.syncPolicy
    assert (policy.automated, policy.prune, policy.selfHeal) == (True, True, True)
    assert policy.syncOptions == ("CreateNamespace=true", "PruneLast=true")
    assert spec.ignoreDifferences == (
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
    )
    assert spec.revisionHistoryLimit == 10
    assert spec.source == {"helm": {"releaseName": "guestbook"}}
    assert sorted(warnings) == sorted(
        [
            "metadata.finalizers: not supported (ignored)",
            "spec.syncPolicy.syncOptions: Prune=confirm is not supported (ignored)",
        ]
    )


def test_source_options_map_to_ours():
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {
            "source": {
                "repoURL": "https://x/y.git",
                "path": "p",
                "directory": {
                    "recurse": False,
                    "exclude": "test/*",
                    "jsonnet": {"extVars": [{"name": "env", "value": "prod"}], "libs": ["vendor"]},
                },
            }
        },
    }
    spec, warnings = argocd.application(doc)
    assert spec.source == {
        "directory": {"recurse": False, "exclude": "test/*"},
        "jsonnet": {"extVars": [{"name": "env", "value": "prod"}]},
    }
    assert warnings == ["spec.source.directory.jsonnet.libs: not supported (ignored)"]
    doc["spec"]["source"] = {
        "repoURL": "https://x/y.git",
        "path": "p",
        "kustomize": {"namePrefix": "prod-", "images": ["nginx=nginx:1.27"], "version": "v5"},
    }
    spec, warnings = argocd.application(doc)
    assert spec.source == {"kustomize": {"namePrefix": "prod-", "images": ["nginx=nginx:1.27"]}}
    assert warnings == ["spec.source.kustomize.version: not supported (ignored)"]
    doc["spec"]["source"] = {
        "repoURL": "https://x/y.git",
        "path": "p",
        "helm": {"valuesObject": {"replicas": 2}, "valueFiles": ["/etc/passwd"]},
    }
    with pytest.raises(SpecError, match=r"source.helm.valueFiles\[0\]: '/etc/passwd' must be a path"):
        argocd.application(doc)


def test_manual_sync_policy_and_named_destination():
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {
            "source": {"repoURL": "https://x/y.git", "path": "p"},
            "destination": {"name": "prod", "namespace": "web"},
        },
    }
    spec, warnings = argocd.application(doc)
    assert not spec.syncPolicy.automated and spec.destination.cluster == "prod" and warnings == []


def test_our_own_manifest_and_bad_ones():
    ours = {
        "apiVersion": "gitops.dev/v1",
        "kind": "Application",
        "metadata": {"name": "mine"},
        "spec": {"repoURL": "https://x/y.git", "path": "app", "watchPaths": ["base"]},
    }
    spec, warnings = argocd.application(ours)
    assert spec.watchPaths == ("base",) and warnings == []
    with pytest.raises(SpecError, match="apiVersion/kind"):
        argocd.application({"apiVersion": "v1", "kind": "ConfigMap"})
    multi = {**GUESTBOOK, "spec": {"sources": [{"repoURL": "a"}]}}
    with pytest.raises(SpecError, match=r"spec\.sources"):
        argocd.application(multi)


def test_app_project():
    name, project, warnings = argocd.project(
        yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-a, namespace: argocd}
spec:
  description: Team A
  sourceRepos: ['https://github.com/org/*']
  destinations:
    - {namespace: 'team-a-*', server: https://kubernetes.default.svc}
  clusterResourceWhitelist: [{group: '', kind: Namespace}]
  namespaceResourceBlacklist: [{group: '', kind: ResourceQuota}]
  roles: [{name: read-only}]
""")
    )
    assert name == "team-a"
    assert project["destinations"] == [{"cluster": "in-cluster", "namespace": "team-a-*"}]
    assert project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert project["roles"] == [{"name": "read-only", "description": "", "policies": [], "groups": []}]
    assert warnings == []  # project roles are kept (shared/core/rbac.py)


def test_app_project_orphaned_resources():
    """Argo CD's opt-in: kept as written (validated), absent when the project does not set it."""
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "p"}}
    settings = {"warn": True, "ignore": [{"group": "", "kind": "ConfigMap", "name": "team-*"}]}
    _, project, warnings = argocd.project({**doc, "spec": {"orphanedResources": settings}})
    assert project["orphanedResources"] == settings and warnings == []
    assert "orphanedResources" not in argocd.project({**doc, "spec": {}})[1]
    assert argocd.project({**doc, "spec": {"orphanedResources": None}})[1]["orphanedResources"] == {}
    with pytest.raises(SpecError, match=r"spec\.orphanedResources\.warn"):
        argocd.project({**doc, "spec": {"orphanedResources": {"warn": "yes"}}})


@pytest.mark.parametrize(
    "plugin, named",
    [({"name": "argocd-vault-plugin"}, "'argocd-vault-plugin'"), ({"env": []}, "by discovery")],
)
def test_plugin_sources_are_refused_naming_the_plugin(plugin, named):
    doc = {
        **GUESTBOOK,
        "spec": {**GUESTBOOK["spec"], "source": {"repoURL": "https://x/y.git", "plugin": plugin}},
    }
    with pytest.raises(SpecError, match=rf"spec\.source\.plugin: .*{re.escape(named)}.* is not supported"):
        argocd.application(doc)


def test_registration_problems_of_an_app_of_apps():
    child = {**GUESTBOOK, "metadata": {"name": "example.guestbook"}}
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        child,
        {**GUESTBOOK, "metadata": {"name": "Bad_Name"}},
        child,
        {
            **GUESTBOOK,
            "metadata": {"name": "plug"},
            "spec": {"source": {"repoURL": "https://x/y", "plugin": {}}},
        },
    ]
    problems = argocd.registration_problems(objs)
    indexes = [i for i, _ in problems]
    assert 1 in indexes  # registered, with the unsupported fields warned about
    assert all("example.guestbook: spec." in p or "metadata." in p for i, p in problems if i == 1)
    refused = {i: p for i, p in problems if "cannot be registered" in p}
    assert set(refused) == {2, 3, 4}
    assert "'Bad_Name' is not a valid application name" in refused[2]
    assert "object 2 has the same name" in refused[3]
    assert "config management plugin" in refused[4]


def test_manifest_generate_paths_become_watch_paths():
    """Argo CD's monorepo annotation: paths relative to the source path, or from the root."""
    doc = {
        **GUESTBOOK,
        "metadata": {
            **GUESTBOOK["metadata"],
            "annotations": {"argocd.argoproj.io/manifest-generate-paths": ".;../shared;/charts/values.yaml"},
        },
    }
    spec, _ = argocd.application(doc)
    assert spec.watchPaths == ("shared", "charts/values.yaml")
    doc["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] = "../../.."
    with pytest.raises(SpecError, match="leaves the repository"):
        argocd.application(doc)


def test_app_project_health_checks():
    """Ours beyond Argo CD: custom health in CEL for a project's applications, parsed when saved."""
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "p"}}
    checks = [{"group": "", "kind": "ConfigMap", "current": "has(data.ready)"}]
    _, project, warnings = argocd.project({**doc, "spec": {"healthChecks": checks}})
    assert project["healthChecks"] == checks and warnings == []
    with pytest.raises(SpecError, match=r"^spec\.healthChecks\[0\]\.current: "):
        argocd.project({**doc, "spec": {"healthChecks": [{"kind": "ConfigMap", "current": "data. =="}]}})
