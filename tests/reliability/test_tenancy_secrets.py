"""Tenancy and secrets: no tenant writes outside its project, no secret leaks anywhere.

Escapes are tried through the real pipeline (push, render, apply against the API server)
and against the project rules directly; secrets are looked for in every Firestore document,
every log file of the stack, history, diffs, CLI output and exception messages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.adapters import credentials, git, store
from shared.cli import main
from shared.core import projects
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec, Destination
from tests.integration import manifests
from tests.integration.conftest import (
    create_app,
    install_project_rbac,
    kubectl,
    kubectl_json,
    private_repo,
    push,
    register_credential,
    wait_for,
    wait_history,
)

pytestmark = pytest.mark.escape

RBAC = "rbac.authorization.k8s.io/v1"


def binding(kind: str, name: str, role: str = "cluster-admin", namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: {RBAC}\nkind: {kind}\nmetadata:\n  name: {name}{ns}\n"
        f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\n"
        "subjects: [{kind: ServiceAccount, name: default, namespace: default}]\n"
    )


def in_namespace(text: str, namespace: str) -> str:
    return text.replace("metadata:\n", f"metadata:\n  namespace: {namespace}\n", 1)


TEAM = {
    "sourceRepos": ["*"],
    "destinations": [{"cluster": "*", "namespace": "team-a-*"}],
    "clusterResourceWhitelist": [],
    "namespaceResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"}],
}
SPEC = AppSpec(
    name="a",
    repoURL="http://127.0.0.1/a.git",
    project="team-a",
    destination=Destination(namespace="team-a-web"),
)


def _obj(text: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(text)


ESCAPES = [
    (
        "other-tenants-namespace",
        in_namespace(manifests.configmap(), "team-b-web"),
        "namespace 'team-b-web' on cluster 'in-cluster' is not a destination of project 'team-a'",
    ),
    ("kube-system", in_namespace(manifests.configmap(), "kube-system"), "namespace 'kube-system'"),
    (
        "namespace-object",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b-web}\n",
        "cluster-scoped kind Namespace is not allowed",
    ),
    (
        "cluster-role",
        f"apiVersion: {RBAC}\nkind: ClusterRole\nmetadata: {{name: x}}\n",
        "cluster-scoped kind ClusterRole is not allowed",
    ),
    (
        "cluster-admin-cluster-binding",
        binding("ClusterRoleBinding", "x"),
        "cluster-scoped kind ClusterRoleBinding is not allowed",
    ),
    (
        "cluster-admin-role-binding",
        in_namespace(binding("RoleBinding", "x"), "team-a-web"),
        "kind RoleBinding is not allowed by project 'team-a' namespaceResourceBlacklist",
    ),
    ("crd", manifests.crd("evil.example.com"), "cluster-scoped kind CustomResourceDefinition"),
    (
        "webhook-config",
        "apiVersion: admissionregistration.k8s.io/v1\n"
        "kind: MutatingWebhookConfiguration\nmetadata: {name: x}\n",
        "cluster-scoped kind MutatingWebhookConfiguration is not allowed",
    ),
    (
        "persistent-volume",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: x}\n",
        "cluster-scoped kind PersistentVolume is not allowed",
    ),
]


@pytest.mark.parametrize("text, message", [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_project_rules_refuse_the_escape(text, message):
    obj = _obj(text)
    refused = projects.check_objects("team-a", TEAM, SPEC, [obj])
    assert message in refused[ObjectId.of(obj)]


def test_a_repository_outside_the_project_is_refused():
    project = {**TEAM, "sourceRepos": ["http://127.0.0.1/team-a/*"]}
    assert projects.check_source("team-a", project, SPEC)[0].startswith(
        "repository http://127.0.0.1/a.git is not in project 'team-a' sourceRepos"
    )


@pytest.fixture
def tenants(stack, uid):
    """Two projects, each owning its namespaces; project A's app in A's namespace."""
    names = {t: f"team-{t}-{uid}" for t in ("a", "b")}
    for t, ns in names.items():
        kubectl("create", "namespace", ns)
        store.put_project(
            f"team-{t}-{uid}",
            {
                "sourceRepos": ["*"],
                "destinations": [{"cluster": "*", "namespace": ns}],
                "clusterResourceWhitelist": [],
                "namespaceResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"}],
            },
        )
        install_project_rbac(f"team-{t}-{uid}")
    yield names
    for ns in names.values():
        kubectl("delete", "namespace", ns, "--wait=false")


def test_an_app_of_project_a_cannot_write_anywhere_else(stack, secret, uid, repo, tenants):
    a, b = tenants["a"], tenants["b"]
    app = f"tenant-{uid}"
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
                a,
                "--sync-policy",
                "automated",
                "--project",
                a,
            ]
        )
        == 0
    )
    push(
        stack,
        secret,
        repo,
        "escape",
        {
            "app/ok.yaml": manifests.configmap(),
            "app/other.yaml": in_namespace(manifests.configmap("stolen"), b),
            "app/crb.yaml": binding("ClusterRoleBinding", f"own-{uid}"),
            "app/rb.yaml": in_namespace(binding("RoleBinding", "admin-here"), a),
            "app/ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-c-{uid}}}\n",
        },
    )
    entry = wait_history(app, 1)
    assert entry["phase"] == "Failed" and entry["writes"] == 0
    results = {r["name"]: r for r in entry["resources"]}
    assert "is not a destination of project" in results["stolen"]["message"]
    assert "ClusterRoleBinding is not allowed" in results[f"own-{uid}"]["message"]
    assert "RoleBinding is not allowed" in results["admin-here"]["message"]
    assert "Namespace is not allowed" in results[f"team-c-{uid}"]["message"]
    assert results["settings"]["action"] == "skipped"
    assert kubectl_json("get", "configmap", "-n", b)["items"] == [] or "stolen" not in kubectl(
        "get", "configmap", "-n", b
    )
    assert f"own-{uid}" not in kubectl("get", "clusterrolebinding")
    assert f"team-c-{uid}" not in kubectl("get", "namespace")


def test_app_of_apps_cannot_escape_its_project(stack, secret, uid, repo, tenants):
    a, b = tenants["a"], tenants["b"]
    parent = f"parent-{uid}"
    assert (
        main.main(
            [
                "app",
                "create",
                parent,
                "--repo",
                repo.url,
                "--path",
                "apps",
                "--revision",
                "main",
                "--dest-namespace",
                a,
                "--sync-policy",
                "automated",
                "--project",
                a,
            ]
        )
        == 0
    )

    def child(name: str, project: str, namespace: str) -> str:
        return (
            f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\n"
            f"spec:\n  project: {project}\n"
            f"  source: {{repoURL: '{repo.url}', path: child, targetRevision: main}}\n"
            f"  destination: {{server: 'https://kubernetes.default.svc', namespace: {namespace}}}\n"
            "  syncPolicy: {automated: {}}\n"
        )

    push(
        stack,
        secret,
        repo,
        "children",
        {
            "apps/jump.yaml": child(f"jump-{uid}", b, b),  # asks for the other tenant's project
            "apps/inside.yaml": child(f"inside-{uid}", a, b),  # its own project, the other's namespace
            # the control plane (what it applies is the RBAC policy): never from a child
            "apps/policy.yaml": child(f"policy-{uid}", a, a).replace(
                "server: 'https://kubernetes.default.svc'", "name: gitops-control-plane"
            ),
            "child/cm.yaml": manifests.configmap("child-cm"),
        },
    )
    entry = wait_history(parent, 1)
    results = {r["name"]: r for r in entry["resources"]}
    assert results[f"jump-{uid}"]["action"] == "failed"
    assert f"belong to its project '{a}'" in results[f"jump-{uid}"]["message"]
    with pytest.raises(store.NotFound):
        store.get_app(f"jump-{uid}")
    assert results[f"policy-{uid}"]["action"] == "failed"
    assert "targets gitops-control-plane" in results[f"policy-{uid}"]["message"]
    with pytest.raises(store.NotFound):
        store.get_app(f"policy-{uid}")
    # the child in its own project syncs, and its project refuses the other namespace
    inside = wait_history(f"inside-{uid}", 1)
    assert inside["phase"] == "Failed" and inside["writes"] == 0
    assert "is not a destination of project" in inside["resources"][0]["message"]
    assert "child-cm" not in kubectl("get", "configmap", "-n", b)


# ---- secrets --------------------------------------------------------------------------


def firestore_dump() -> str:
    """Every document of every collection and subcollection, as text."""
    out: list[str] = []

    def walk(collection: Any) -> None:
        for doc in collection.stream():
            out.append(repr(doc.to_dict()))
            for sub in doc.reference.collections():
                walk(sub)

    for collection in store.client().collections():
        walk(collection)
    return "\n".join(out)


def test_credentials_and_secrets_never_leak(stack, secret, uid, namespace, capsys):
    webhook_secret = secret.decode()
    value = f"plain-text-value-{uid}"
    repo, user, password = private_repo(stack, f"leak-{uid}")
    app = f"leak-{uid}"
    create_app(app, repo, namespace)
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: Opaque\n"
        f"stringData: {{password: {value}}}\n"
    )
    sha = push(
        stack, secret, repo, "secret", {"app/secret.yaml": plain, "app/cm.yaml": manifests.configmap()}
    )
    assert wait_history(app, 1)["phase"] == "Succeeded"
    # warned where an operator looks, by key name only
    assert any("SEC007" in f and "password" in f for f in store.get_app(app).status["render"]["findings"])
    # a hand edit of the Secret: drift, and a diff an operator would read
    kubectl("patch", "secret", "db", "-n", namespace, "-p", '{"stringData":{"password":"hand-edit"}}')
    assert main.main(["sweep", app, "--wait", "--timeout", "30"]) == 0
    wait_for(lambda: history_count_at_least(app, 2), "the self-heal")
    # a wrong credential: the error names the repository, never the password tried
    wrong = credentials.Credential(username=user, password=f"wrong-{uid}")
    register_credential(f"{stack.env['GITOPS_GIT_URL']}/private/leak-{uid}", user, wrong.password)
    with pytest.raises(git.FetchError) as err:
        git.ls_remote(repo.url)
    assert wrong.password not in str(err.value) and repo.url in str(err.value)
    assert main.main(["repo", "remove", f"{stack.env['GITOPS_GIT_URL']}/private/leak-{uid}"]) == 0
    capsys.readouterr()
    for argv in (
        ["-o", "json", "app", "get", app],
        ["-o", "yaml", "app", "history", app],
        ["app", "diff", app, "--revisions", "1", "2"],
        ["app", "diff", app],
        ["-o", "json", "repo", "list"],
        ["-o", "wide", "app", "list"],
    ):
        main.main(argv)
    shown = capsys.readouterr()
    cli_output = shown.out + shown.err
    assert app in cli_output and sha[:7] in cli_output
    logs = "".join(p.read_text(errors="replace") for p in (stack.dir / "logs").glob("*.log"))
    everything = {
        "firestore": firestore_dump(),
        "logs": logs,
        "cli": cli_output,
        "history": json.dumps(store.history(app), default=str),
    }
    for where, text in everything.items():
        for name, leaked in (
            ("git password", password),
            ("webhook secret", webhook_secret),
            ("Secret value", value),
            ("edited Secret value", "hand-edit"),
        ):
            assert leaked not in text, f"the {name} appears in {where}"
    assert kubectl_json("get", "secret", "db", "-n", namespace)["data"]["password"]  # still there


def history_count_at_least(app: str, count: int) -> bool:
    return int(store.get_app(app).status.get("historyCount", 0)) >= count
