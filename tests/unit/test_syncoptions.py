"""Argo CD's sync options, decided per application and per object (shared/core/syncoptions.py),
and ignoreDifferences with jsonPointers, jqPathExpressions and managedFieldsManagers
(shared/core/ignorediff.py), as table tests; the Argo CD import naming what it does not map."""

import pytest

from shared.core import argocd, ignorediff, syncoptions
from shared.core.model import AppSpec, SpecError, SyncPolicy


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", {}),
        ("Prune=false", {"Prune": "false"}),
        (" Replace=true ,  PruneLast=true,", {"Replace": "true", "PruneLast": "true"}),
        ("Validate", {"Validate": ""}),
    ],
)
def test_parse(text, parsed):
    assert syncoptions.parse(text) == parsed


@pytest.mark.parametrize(
    ("name", "app", "obj", "expected"),
    [
        ("Replace", [], {}, False),
        ("Replace", ["Replace=true"], {}, True),
        ("Replace", [], {"Replace": "true"}, True),
        ("Replace", ["Replace=true"], {"Replace": "false"}, False),  # the object overrides
        (
            "RespectIgnoreDifferences",
            ["RespectIgnoreDifferences=true"],
            {"RespectIgnoreDifferences": "false"},
            False,
        ),
        ("PruneLast", [], {"PruneLast": "TRUE"}, True),
        ("SkipDryRunOnMissingResource", ["SkipDryRunOnMissingResource=true"], None, True),
        # application-only options: an object's annotation does not set them (as in Argo CD)
        ("FailOnSharedResource", [], {"FailOnSharedResource": "true"}, False),
        ("FailOnSharedResource", ["FailOnSharedResource=true"], {}, True),
    ],
)
def test_enabled_per_app_and_object(name, app, obj, expected):
    assert syncoptions.enabled(name, app, obj) is expected


@pytest.mark.parametrize(
    ("app", "obj", "expected"),
    [
        ([], {}, False),
        (["Validate=false"], {}, True),
        ([], {"Validate": "false"}, True),
        (["Validate=false"], {"Validate": "true"}, False),
    ],
)
def test_validate_false(app, obj, expected):
    assert syncoptions.disabled("Validate", app, obj) is expected


@pytest.mark.parametrize(
    ("app", "policy"),
    [
        ([], "Background"),
        (["PrunePropagationPolicy=foreground"], "Foreground"),
        (["PrunePropagationPolicy=background"], "Background"),
        (["PrunePropagationPolicy=Orphan"], "Orphan"),
    ],
)
def test_prune_propagation(app, policy):
    assert syncoptions.propagation(app) == policy


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("Replace=true", ""),
        ("Replace=yes", "must be true or false"),
        ("PrunePropagationPolicy=orphan", ""),
        ("PrunePropagationPolicy=later", "must be one of foreground, background, orphan"),
        ("ServerSideApply=true", ""),
        ("ServerSideApply=false", "always applied server-side"),
    ],
)
def test_app_option_values(option, problem):
    name, _, value = option.partition("=")
    assert problem in syncoptions.problem(name, value)
    assert bool(syncoptions.problem(name, value)) is bool(problem)
    spec = AppSpec("a", "https://x/y.git", syncPolicy=SyncPolicy(syncOptions=(option,)))
    if problem:
        with pytest.raises(SpecError, match=r"syncPolicy\.syncOptions"):
            spec.validate()
    else:
        spec.validate()


@pytest.mark.parametrize(
    ("tracking", "label", "other"),
    [
        (None, None, ""),  # nobody's: adopted without a word, as Argo CD does
        ("shop:apps/Deployment:default/web", "shop", ""),  # ours
        (None, "shop", ""),
        ("blog:apps/Deployment:default/web", "blog", "blog"),
        (None, "blog", "blog"),  # only the label (an older apply)
        ("blog:apps/Deployment:default/web", None, "blog"),  # Argo CD's own annotation form
    ],
)
def test_other_owner(tracking, label, other):
    assert syncoptions.other_owner("shop", "shop", tracking, label) == other


def test_shared_messages_name_both_applications():
    warning = syncoptions.shared_message("Deployment/default/web", "shop", "blog")
    assert warning == "SharedResourceWarning: Deployment/default/web is part of applications blog and shop"
    refusal = syncoptions.shared_refusal("Deployment/default/web", "shop", "blog")
    assert "Shared resource found" in refusal and "blog and shop" in refusal


# ---- ignoreDifferences ---------------------------------------------------------------------


def deployment(replicas=2, images=("nginx:1",), managed=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "managedFields": managed or []},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
                }
            },
        },
    }


HPA_OWNS_REPLICAS = [
    {"manager": "gitops-apply", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {}}}},
    {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
]


@pytest.mark.parametrize(
    ("rule", "obj", "paths"),
    [
        ({"jsonPointers": ["/spec/replicas"]}, deployment(), [("spec", "replicas")]),
        ({"jsonPointers": ["/spec/missing"]}, deployment(), []),
        (
            {"jsonPointers": ["/spec/template/spec/containers/0/image"]},
            deployment(),
            [("spec", "template", "spec", "containers", 0, "image")],
        ),
        ({"jqPathExpressions": [".spec.replicas"]}, deployment(), [("spec", "replicas")]),
        (
            {"jqPathExpressions": ['.spec.template.spec.containers[] | select(.name == "c1") | .image']},
            deployment(images=("a", "b")),
            [("spec", "template", "spec", "containers", 1, "image")],
        ),
        ({"jqPathExpressions": [".spec.initContainers[] | .image"]}, deployment(), []),  # iterates null
        (
            {"managedFieldsManagers": ["kube-controller-manager"]},
            deployment(managed=HPA_OWNS_REPLICAS),
            [("spec", "replicas")],
        ),
        ({"managedFieldsManagers": ["nobody"]}, deployment(managed=HPA_OWNS_REPLICAS), []),
    ],
)
def test_paths(rule, obj, paths):
    assert ignorediff.paths(obj, [{"kind": "Deployment", **rule}]) == paths


def test_an_endless_jq_stream_is_cut():
    """`repeat(.spec)` names ., .spec, .spec.spec... without end: read lazily, cut at MAX_PATHS;
    of those, only the paths the object has count (never the whole object, path [])."""
    assert len(ignorediff._jq_paths(deployment(), "repeat(.spec)")) == ignorediff.MAX_PATHS
    rule = {"kind": "Deployment", "jqPathExpressions": ["repeat(.spec)"]}
    assert ignorediff.paths(deployment(), [rule]) == [("spec",)]


def test_strip_removes_list_items_from_the_end():
    obj = deployment(images=("a", "b", "c"))
    rule = {"kind": "Deployment", "jqPathExpressions": [".spec.template.spec.containers[0, 2]"]}
    assert ignorediff.strip(obj, [rule])["spec"]["template"]["spec"]["containers"] == [
        {"name": "c1", "image": "b"}
    ]


@pytest.mark.parametrize(
    ("rule", "desired", "live", "expected_replicas", "expected_images"),
    [
        # ignored fields keep their live values
        ({"jsonPointers": ["/spec/replicas"]}, deployment(2), deployment(5), 5, ["nginx:1"]),
        ({"jqPathExpressions": [".spec.replicas"]}, deployment(2), deployment(5), 5, ["nginx:1"]),
        # a field the live object lacks is not sent either
        (
            {"jsonPointers": ["/spec/replicas"]},
            deployment(2),
            {**deployment(), "spec": {"template": deployment()["spec"]["template"]}},
            None,
            ["nginx:1"],
        ),
        # what is not ignored is applied from Git
        ({"jsonPointers": ["/spec/replicas"]}, deployment(2, ("nginx:2",)), deployment(5), 5, ["nginx:2"]),
        (
            {"jqPathExpressions": ['.spec.template.spec.containers[] | select(.name == "c0") | .image']},
            deployment(2, ("git:1",)),
            deployment(5, ("injected:9",)),
            2,
            ["injected:9"],
        ),
        (
            {"managedFieldsManagers": ["kube-controller-manager"]},
            deployment(2),
            deployment(7, managed=HPA_OWNS_REPLICAS),
            7,
            ["nginx:1"],
        ),
    ],
)
def test_respect_ignore_differences(rule, desired, live, expected_replicas, expected_images):
    out = ignorediff.respect(desired, live, [{"kind": "Deployment", **rule}])
    assert out["spec"].get("replicas") == expected_replicas
    assert [c["image"] for c in out["spec"]["template"]["spec"]["containers"]] == expected_images
    assert desired["spec"]["replicas"] == 2  # a copy


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "Deployment"}, "needs kind and jsonPointers, jqPathExpressions or managedFieldsManagers"),
        ({"kind": "Deployment", "jsonPointers": ["spec/replicas"]}, "must start with /"),
        (
            {"kind": "Deployment", "jqPathExpressions": [".spec.replicas |"]},
            r"jqPathExpressions\[0\]: '.spec.replicas \|': jq: error",
        ),
        ({"kind": "Deployment", "jqPathExpressions": ".spec"}, "must be a list"),
        (
            {"kind": "Deployment", "jqPathExpressions": [".spec" + " | ." * 500]},
            "longer than 1000 characters",
        ),
    ],
)
def test_ignore_rules_refused_when_saved(rule, message):
    with pytest.raises(SpecError, match=message):
        AppSpec("a", "https://x/y.git", ignoreDifferences=(rule,)).validate()


def test_jq_rule_accepted():
    rule = {"group": "apps", "kind": "Deployment", "jqPathExpressions": [".spec.replicas"]}
    AppSpec("a", "https://x/y.git", ignoreDifferences=(rule,)).validate()


# ---- the Argo CD import --------------------------------------------------------------------


def argo_app(options, ignore=()):
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {
            "source": {"repoURL": "https://x/y.git", "path": "p"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "n"},
            "syncPolicy": {"syncOptions": list(options)},
            "ignoreDifferences": list(ignore),
        },
    }


ALL_OPTIONS = (
    "RespectIgnoreDifferences=true",
    "SkipDryRunOnMissingResource=true",
    "Replace=true",
    "PruneLast=true",
    "FailOnSharedResource=true",
    "PrunePropagationPolicy=orphan",
    "Validate=false",
    "CreateNamespace=true",
)


@pytest.mark.parametrize(
    ("options", "kept", "warned"),
    [
        (list(ALL_OPTIONS), ALL_OPTIONS, []),
        (["ServerSideApply=true", "ApplyOutOfSyncOnly=true"], (), []),
        (["ServerSideApply=false"], (), ["ServerSideApply=false: objects are always applied server-side"]),
        (["Prune=confirm"], (), ["Prune=confirm is not supported"]),
        (["ClientSideApplyMigration=false"], (), ["ClientSideApplyMigration=false is not supported"]),
        (["PrunePropagationPolicy=sometimes"], (), ["must be one of foreground, background, orphan"]),
    ],
)
def test_argocd_import_maps_sync_options(options, kept, warned):
    spec, warnings = argocd.application(argo_app(options))
    assert spec.syncPolicy.syncOptions == kept
    assert len(warnings) == len(warned)
    for warning, text in zip(warnings, warned, strict=True):
        assert warning.startswith("spec.syncPolicy.syncOptions: ") and text in warning


def test_argocd_import_keeps_jq_path_expressions():
    rule = {"group": "apps", "kind": "Deployment", "jqPathExpressions": [".spec.replicas"]}
    spec, warnings = argocd.application(argo_app([], [rule]))
    assert spec.ignoreDifferences == (rule,)
    assert warnings == []
