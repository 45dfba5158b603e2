"""The local stack, one command up and one down.

    python -m stack.local up      # start everything (safe to run twice); prints env exports
    python -m stack.local env     # print the env exports of the running stack
    python -m stack.local down    # stop exactly the processes `up` started

Everything listens on 127.0.0.1 on free ports chosen at start; all state lives in
one folder ($GITOPS_STACK_DIR, default ./.stack).
"""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stack import procs
from stack.procs import Proc

PROJECT = "gitops-local"
REPO_ROOT = Path(__file__).resolve().parent.parent
SDK = Path(os.environ.get("CLOUDSDK_ROOT", "/usr/lib/google-cloud-sdk"))
FUNCTIONS_USER = "gitops-functions"  # the functions' user on the local API server (not an admin)
CACHE = Path(os.environ.get("GITOPS_CACHE", Path.home() / ".cache" / "gitops"))
FUNCTION_NAMES = ("intake", "render", "apply", "audit", "api")

# The API server's audit log records every write (who, with which client, what): the
# benchmarks count write requests from it, side by side for us and for kubectl.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


@dataclass
class Stack:
    dir: Path
    procs: list[Proc] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    def save(self) -> None:
        self.state_file.write_text(
            json.dumps({"procs": [p.to_dict() for p in self.procs], "env": self.env}, indent=2)
        )

    @classmethod
    def load(cls, directory: Path) -> Stack | None:
        path = directory / "state.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(directory, [Proc(**p) for p in data["procs"]], data["env"])

    def alive(self) -> bool:
        return bool(self.procs) and all(p.alive() for p in self.procs)

    def exports(self) -> str:
        return "".join(f"export {k}={v}\n" for k, v in sorted(self.env.items()))

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def url(self, function: str) -> str:
        return f"http://127.0.0.1:{self.proc(function).port}"


def stack_dir() -> Path:
    return Path(os.environ.get("GITOPS_STACK_DIR", REPO_ROOT / ".stack")).resolve()


# ---- components ---------------------------------------------------------------------


def _java(jar_args: list[str], name: str) -> list[str]:
    archive = CACHE / "cds" / f"{name}.jsa"
    archive.parent.mkdir(parents=True, exist_ok=True)
    flags = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]
    if archive.exists():
        flags.append(f"-XX:SharedArchiveFile={archive}")
    else:
        flags.append(f"-XX:ArchiveClassesAtExit={archive}")
    return ["java", *flags, *jar_args]


def start_emulators(st: Stack) -> None:
    fs_port, ps_port = procs.free_port(), procs.free_port()
    fs_jar = SDK / "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
    ps_jars = sorted(glob.glob(str(SDK / "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar")))
    if not fs_jar.exists() or not ps_jars:
        raise RuntimeError(f"Cloud SDK emulators not found under {SDK} (see README set-up)")
    logs = st.dir / "logs"
    fs = procs.start(
        "firestore",
        _java(
            [
                "-cp",
                str(fs_jar),
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "start",
                "--host=127.0.0.1",
                f"--port={fs_port}",
            ],
            "firestore",
        ),
        str(logs / "firestore.log"),
        port=fs_port,
    )
    st.procs.append(fs)
    ps = procs.start(
        "pubsub",
        _java(["-jar", ps_jars[-1], "--host=127.0.0.1", f"--port={ps_port}"], "pubsub"),
        str(logs / "pubsub.log"),
        port=ps_port,
    )
    st.procs.append(ps)
    for p in (fs, ps):
        procs.wait_until(
            lambda p=p: procs.http_ok(f"http://127.0.0.1:{p.port}/"),
            f"{p.name} emulator",
            60,
            p,
            str(logs / f"{p.name}.log"),
        )
    st.env.update(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "PUBSUB_PROJECT_ID": PROJECT,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{fs_port}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{ps_port}",
        }
    )


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def start_kube(st: Stack) -> None:
    kube_bin = Path(
        subprocess.run(
            ["bash", str(REPO_ROOT / "stack/build-kube.sh")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    pki = st.dir / "pki"
    pki.mkdir(exist_ok=True)
    if not (pki / "server.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-keyout",
            str(pki / "server.key"),
            "-out",
            str(pki / "server.crt"),
            "-subj",
            "/CN=kube-apiserver",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        )
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
        token = secrets.token_hex(16)
        (pki / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
        (pki / "tokens.csv").chmod(0o600)
    if FUNCTIONS_USER not in (pki / "tokens.csv").read_text():
        # the functions' own identity: no group, so nothing but what RBAC grants it
        with (pki / "tokens.csv").open("a") as f:
            f.write(f"{secrets.token_hex(16)},{FUNCTIONS_USER},{FUNCTIONS_USER}\n")
    token = (pki / "tokens.csv").read_text().split(",")[0]
    policy = st.dir / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    logs = st.dir / "logs"
    etcd_port, peer_port, api_port = procs.free_port(), procs.free_port(), procs.free_port()
    etcd_dir = st.dir / "etcd"
    shutil.rmtree(etcd_dir, ignore_errors=True)
    etcd = procs.start(
        "etcd",
        [
            "etcd",
            "--name=local",
            f"--data-dir={etcd_dir}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=local=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
        ],
        str(logs / "etcd.log"),
        port=etcd_port,
    )
    st.procs.append(etcd)
    procs.wait_until(
        lambda: procs.http_ok(f"http://127.0.0.1:{etcd_port}/health"),
        "etcd",
        30,
        etcd,
        str(logs / "etcd.log"),
    )
    api = procs.start(
        "kube-apiserver",
        [
            str(kube_bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            "--insecure-port=0",
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'server.crt'}",
            f"--tls-private-key-file={pki / 'server.key'}",
            f"--client-ca-file={pki / 'server.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--api-audiences=https://kubernetes.default.svc",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={logs / 'kube-audit.log'}",
            "--audit-log-format=json",
            "--audit-log-maxsize=200",
            "--audit-log-maxbackup=1",
        ],
        str(logs / "kube-apiserver.log"),
        port=api_port,
    )
    st.procs.append(api)
    ctx = ssl.create_default_context(cafile=str(pki / "server.crt"))
    auth = {"Authorization": f"Bearer {token}"}
    procs.wait_until(
        lambda: procs.http_ok(f"https://127.0.0.1:{api_port}/readyz", auth, ctx),
        "kube-apiserver",
        90,
        api,
        str(logs / "kube-apiserver.log"),
    )
    kubeconfig = _kubeconfig(st.dir / "kubeconfig", pki, api_port, "admin", token)
    functions_token = next(
        line.split(",")[0]
        for line in (pki / "tokens.csv").read_text().splitlines()
        if f",{FUNCTIONS_USER}," in line
    )
    functions_kubeconfig = _kubeconfig(
        st.dir / "kubeconfig-functions", pki, api_port, FUNCTIONS_USER, functions_token
    )
    kcm = procs.start(
        "kube-controller-manager",
        [
            str(kube_bin / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--port=0",
            "--secure-port=0",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'server.crt'}",
            "--use-service-account-credentials=false",
            # its client's default 20 requests/s (burst 30) let a 1,000-Deployment rollout wait
            # minutes on the controller, not on us; a managed control plane is not throttled so
            "--kube-api-qps=300",
            "--kube-api-burst=600",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
        ],
        str(logs / "kube-controller-manager.log"),
    )
    st.procs.append(kcm)
    sa_url = f"https://127.0.0.1:{api_port}/api/v1/namespaces/default/serviceaccounts/default"
    procs.wait_until(
        lambda: procs.http_ok(sa_url, auth, ctx),
        "default service account",
        60,
        kcm,
        str(logs / "kube-controller-manager.log"),
    )
    grant_functions(kubeconfig)
    start_nodes(st, kube_bin, kubeconfig)
    st.env["KUBECONFIG"] = str(kubeconfig)
    st.env["GITOPS_FUNCTIONS_KUBECONFIG"] = str(functions_kubeconfig)
    # the local registry of destination clusters (gitops cluster add); infra/ fills GITOPS_CLUSTERS
    st.env["GITOPS_CLUSTERS_FILE"] = str(_secret_file(st.dir / "clusters.json", "{}"))
    # the one directory a cluster's tokenFile may name (any other server file is refused)
    tokens = st.dir / "cluster-tokens"
    tokens.mkdir(mode=0o700, exist_ok=True)
    st.env["GITOPS_CLUSTER_TOKEN_DIR"] = str(tokens)
    st.env["GITOPS_KUBE_AUDIT_LOG"] = str(logs / "kube-audit.log")


def _kubeconfig(path: Path, pki: Path, api_port: int, user: str, token: str) -> Path:
    ca = base64.b64encode((pki / "server.crt").read_bytes()).decode()
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "local",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {
                            "server": f"https://127.0.0.1:{api_port}",
                            "certificate-authority-data": ca,
                        },
                    }
                ],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            },
            indent=2,
        )
    )
    path.chmod(0o600)
    return path


def grant_functions(kubeconfig: Path) -> None:
    """The functions' identity as deployed (infra/kubernetes/rbac.yaml): `impersonate` on the
    projects' ServiceAccounts and nothing else; and the `default` project's RBAC (every
    namespace and kind, as the project allows when not defined). Other projects' RBAC is the
    operator's (`gitops project rbac NAME --apply`), as on a real cluster."""
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    from shared.adapters import kube
    from shared.core import kuberbac, projects

    configuration = kclient.Configuration()
    kconfig.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    admin = kube.Cluster(kclient.ApiClient(configuration))
    functions_rbac = yaml.safe_load_all((REPO_ROOT / "infra" / "kubernetes" / "rbac.yaml").read_text())
    for obj in [*functions_rbac, *kuberbac.generate("default", projects.ALLOW_ALL, "in-cluster").objects]:
        if any(subject.get("kind") == "User" for subject in obj.get("subjects") or []):
            # GKE names the functions' Google service accounts; here they are one user
            obj["subjects"] = [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": FUNCTIONS_USER}
            ]
        admin.apply(obj, field_manager="gitops-stack")


def start_nodes(st: Stack, kube_bin: Path, kubeconfig: Path) -> None:
    """The real kube-scheduler and the simulated nodes' agent (stack/simnodes): pods are bound
    and brought to Running and Ready. Not waited for here: `wait_nodes` does, at the end."""
    logs = st.dir / "logs"
    st.procs.append(
        procs.start(
            "kube-scheduler",
            [
                str(kube_bin / "kube-scheduler"),
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--port=0",
                "--secure-port=0",
                # like the controller-manager's: a 1,000-pod fleet is not bound at 50 requests/s
                "--kube-api-qps=300",
                "--kube-api-burst=600",
            ],
            str(logs / "kube-scheduler.log"),
        )
    )
    st.procs.append(
        procs.start(
            "node-agent",
            [
                sys.executable,
                "-m",
                "stack.simnodes",
                f"--kubeconfig={kubeconfig}",
                f"--nodes={os.environ.get('GITOPS_SIM_NODES', '3')}",
                f"--capacity={os.environ.get('GITOPS_SIM_NODE_CAPACITY', '')}",
            ],
            str(logs / "node-agent.log"),
            cwd=str(REPO_ROOT),
            env={"PYTHONUNBUFFERED": "1"},
        )
    )


def wait_nodes(st: Stack) -> None:
    """Until every simulated node is Ready (the agent registers them within a second or two)."""
    from stack.simnodes import nodes

    pki = st.dir / "pki"
    token = (pki / "tokens.csv").read_text().split(",")[0]
    ctx = ssl.create_default_context(cafile=str(pki / "server.crt"))
    url = (
        f"https://127.0.0.1:{st.proc('kube-apiserver').port}/api/v1/nodes?labelSelector={nodes.LABEL}%3Dtrue"
    )
    want = int(os.environ.get("GITOPS_SIM_NODES", "3"))

    def ready() -> bool:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
                items = json.loads(resp.read()).get("items") or []
        except OSError:
            return False
        return (
            sum(
                1
                for n in items
                for c in n.get("status", {}).get("conditions") or []
                if c.get("type") == "Ready" and c.get("status") == "True"
            )
            >= want
        )

    agent = st.proc("node-agent")
    procs.wait_until(ready, "simulated nodes", 30, agent, str(st.dir / "logs" / "node-agent.log"))


def _secret_file(path: Path, content: str) -> Path:
    if not path.exists():
        path.write_text(content)
        path.chmod(0o600)
    return path


def start_git(st: Stack) -> None:
    root = st.dir / "git"
    (root / "private").mkdir(parents=True, exist_ok=True)
    port = procs.free_port()
    auth = _secret_file(st.dir / "git-auth", f"dana:{secrets.token_hex(12)}").read_text()
    git = procs.start(
        "git",
        [sys.executable, "-m", "stack.gitserver", str(root), str(port)],
        str(st.dir / "logs" / "git.log"),
        port=port,
        cwd=str(REPO_ROOT),
        env={"GITOPS_GIT_AUTH": auth},
    )
    st.procs.append(git)
    procs.wait_until(lambda: procs.port_open(port), "git server", 20, git)
    st.env["GITOPS_GIT_URL"] = f"http://127.0.0.1:{port}"
    st.env["GITOPS_GIT_ROOT"] = str(root)
    st.env["GITOPS_GIT_AUTH_FILE"] = str(st.dir / "git-auth")
    # the local secret store of repository credentials (Secret Manager in production)
    st.env["GITOPS_REPO_CREDENTIALS_FILE"] = str(_secret_file(st.dir / "repo-credentials.json", "{}"))


def start_charts(st: Stack) -> None:
    """Where charts are kept, as teams keep them: a Helm chart repository over HTTP
    (stack/chartrepo.py; /private/ behind basic auth) and an OCI registry (Debian's
    docker-registry, stack/ociregistry.py). Tests and the demo publish into them."""
    from stack import chartrepo, ociregistry

    helm = CACHE / "bin" / "helm"
    if not helm.is_file() or shutil.which("docker-registry") is None:
        raise RuntimeError("helm or docker-registry is missing: run bash stack/setup.sh")
    logs = st.dir / "logs"
    root = st.dir / "charts" / "served"
    chartrepo.prepare(root)
    auth = _secret_file(st.dir / "chart-repo-auth", f"charts:{secrets.token_hex(12)}").read_text().strip()
    port = procs.free_port()
    repo = procs.start(
        "chart-repo",
        [sys.executable, "-m", "stack.chartrepo", str(root), str(port)],
        str(logs / "chart-repo.log"),
        port=port,
        cwd=str(REPO_ROOT),
        env={"GITOPS_CHART_REPO_AUTH": auth},
    )
    st.procs.append(repo)
    oci_port = procs.free_port()
    oci = procs.start(
        "oci-registry",
        ["docker-registry", "serve", str(ociregistry.config(st.dir / "oci", oci_port))],
        str(logs / "oci-registry.log"),
        port=oci_port,
    )
    st.procs.append(oci)
    for p in (repo, oci):
        procs.wait_until(_ready(st, p), p.name, 30, p, str(logs / f"{p.name}.log"))
    st.env["GITOPS_HELM"] = str(helm)
    st.env["GITOPS_CHART_REPO_URL"] = f"http://127.0.0.1:{port}"
    st.env["GITOPS_CHART_REPO_ROOT"] = str(root)
    st.env["GITOPS_CHART_REPO_AUTH_FILE"] = str(st.dir / "chart-repo-auth")
    st.env["GITOPS_OCI_REGISTRY_URL"] = f"oci://127.0.0.1:{oci_port}"


def start_github_api(st: Stack) -> None:
    """A recording stand-in for GitHub's REST API (commit statuses land in a JSONL file)."""
    port = procs.free_port()
    record = st.dir / "github-api.jsonl"
    api = procs.start(
        "github-api",
        [sys.executable, "-m", "stack.githubapi", str(record), str(port)],
        str(st.dir / "logs" / "github-api.log"),
        port=port,
        cwd=str(REPO_ROOT),
    )
    st.procs.append(api)
    procs.wait_until(lambda: procs.port_open(port), "GitHub API stand-in", 20, api)
    st.env["GITOPS_GITHUB_API_URL"] = f"http://127.0.0.1:{port}"
    st.env["GITOPS_GITHUB_API_RECORD"] = str(record)


def start_oidc(st: Stack) -> None:
    """The local OIDC issuer (stack/oidc.py) the API verifies tokens of; the API's URL is
    chosen here, as it is the tokens' audience (Cloud Run's is the service URL)."""
    port, api_port = procs.free_port(), procs.free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    p = procs.start(
        "oidc",
        [sys.executable, "-m", "stack.oidc", str(st.dir / "oidc"), str(port), api_url],
        str(st.dir / "logs" / "oidc.log"),
        port=port,
        cwd=str(REPO_ROOT),
    )
    st.procs.append(p)
    issuer = f"http://127.0.0.1:{port}"
    procs.wait_until(lambda: procs.http_ok(f"{issuer}/certs"), "OIDC issuer", 20, p)
    st.env["GITOPS_OIDC_ISSUER"] = issuer
    st.env["GITOPS_OIDC_CERTS_URL"] = f"{issuer}/certs"
    st.env["GITOPS_API_AUDIENCE"] = api_url
    st.env["GITOPS_API_URL"] = api_url


def bootstrap_policy(st: Stack) -> None:
    """The first RBAC policy, as `gitops policy bootstrap --admin-bootstrap` writes it: the
    stack's admin user (stack.oidc.ADMIN) is role:admin; everything else is denied."""
    from shared.adapters import store
    from shared.core import rbac
    from stack.oidc import ADMIN

    os.environ.update(st.env)
    store.put_policy(rbac.parse(f"g, {ADMIN}, {rbac.ADMIN}"), {"source": "admin-bootstrap", "by": "stack"})


def start_functions(st: Stack) -> None:
    from shared.core import topology

    secret_file = _secret_file(st.dir / "webhook-secret", secrets.token_hex(20))
    github_token = _secret_file(st.dir / "github-token", secrets.token_hex(16)).read_text()
    ff = str(Path(sys.executable).parent / "functions-framework")
    started = []
    for name in FUNCTION_NAMES:
        source, target, signature = topology.FUNCTIONS[name]
        port = int(st.env["GITOPS_API_URL"].rsplit(":", 1)[1]) if name == "api" else procs.free_port()
        runtime = st.dir / "run" / name
        runtime.mkdir(parents=True, exist_ok=True)
        env = {
            **st.env,
            "XDG_RUNTIME_DIR": str(runtime),
            "PYTHONUNBUFFERED": "1",
            # this checkout's code, whatever checkout the shared venv's editable install names
            "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH")))),
            "GITOPS_GIT_CACHE": str(st.dir / "git-cache" / name),
            "THREADS": "8",
            # a non-admin identity, as deployed: it may only impersonate the projects' accounts
            "KUBECONFIG": st.env["GITOPS_FUNCTIONS_KUBECONFIG"],
        }  # no GITOPS_KUBE_VERSION: renders read the API server's own /version, as deployed
        if name == "intake":
            env["GITHUB_WEBHOOK_SECRET"] = secret_file.read_text().strip()
            env["WORKERS"] = "2"  # GitHub's bursts: one process per core
        if name in ("render", "apply"):
            env["GITOPS_GITHUB_TOKEN"] = github_token
        if (CACHE / "bin" / "helm").is_file():  # Helm sources (stack/setup.sh installs it)
            env["GITOPS_HELM"] = str(CACHE / "bin" / "helm")
        for knob in ("WORKERS", "THREADS"):  # a benchmark may size every function's instance
            if os.environ.get(f"GITOPS_FUNCTION_{knob}"):
                env[knob] = os.environ[f"GITOPS_FUNCTION_{knob}"]
        p = procs.start(
            name,
            [
                ff,
                f"--source={REPO_ROOT / source}",
                f"--target={target}",
                f"--signature-type={signature}",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            str(st.dir / "logs" / f"{name}.log"),
            env=env,
            port=port,
            cwd=str(REPO_ROOT),
        )
        st.procs.append(p)
        started.append(p)
    for p in started:
        procs.wait_until(
            lambda p=p: procs.port_open(p.port),
            f"function {p.name}",
            30,
            p,
            str(st.dir / "logs" / f"{p.name}.log"),
        )
    st.env["GITOPS_INTAKE_URL"] = st.url("intake")
    st.env["GITOPS_WEBHOOK_SECRET_FILE"] = str(secret_file)


def create_topology(st: Stack) -> None:
    from shared.adapters import bus

    os.environ.update(st.env)
    bus.ensure_topology({name: st.url(name) for name in FUNCTION_NAMES}, project=PROJECT)


def start_scheduler(st: Stack) -> None:
    """Cloud Scheduler's stand-in (stack/scheduler.py): infra/scheduler.tf's sweep message on its
    cron, or every $GITOPS_SWEEP_INTERVAL seconds; GITOPS_SWEEP_INTERVAL=off starts none."""
    if os.environ.get("GITOPS_SWEEP_INTERVAL", "").strip() == "off":
        say("scheduler off (GITOPS_SWEEP_INTERVAL=off): sweeps run only when asked")
        return
    log = st.dir / "logs" / "scheduler.log"
    p = procs.start(
        "scheduler",
        [sys.executable, "-m", "stack.scheduler"],
        str(log),
        env=st.env,
        cwd=str(REPO_ROOT),
    )
    st.procs.append(p)
    procs.wait_until(lambda: "publishing" in _read(log), "scheduler", 20, p, str(log))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# ---- stopping and starting one component (fault injection) ---------------------------


def stop_component(st: Stack, name: str, *, kill: bool = False) -> procs.Launch:
    """Stop one component (SIGKILL its group with kill=True, like a crash); return how to
    start it again."""
    proc = st.proc(name)
    launch = procs.launch_of(proc)
    if kill:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    procs.stop(proc)
    return launch


def _ready(st: Stack, proc: Proc) -> Callable[[], bool]:
    base = f"http://127.0.0.1:{proc.port}"
    if proc.name in ("firestore", "pubsub"):
        return lambda: procs.http_ok(base + "/")
    if proc.name == "etcd":
        return lambda: procs.http_ok(base + "/health")
    if proc.name == "chart-repo":
        auth = (st.dir / "chart-repo-auth").read_text().strip()
        basic = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
        # the public index served, and the private one only with the credential
        return lambda: (
            procs.http_ok(base + "/public/index.yaml")
            and procs.http_ok(base + "/private/index.yaml", basic)
            and not procs.http_ok(base + "/private/index.yaml")
        )
    if proc.name == "oci-registry":
        return lambda: procs.http_ok(base + "/v2/")
    if proc.name == "kube-apiserver":
        pki = st.dir / "pki"
        token = (pki / "tokens.csv").read_text().split(",")[0]
        ctx = ssl.create_default_context(cafile=str(pki / "server.crt"))
        return lambda: procs.http_ok(
            f"https://127.0.0.1:{proc.port}/readyz", {"Authorization": f"Bearer {token}"}, ctx
        )
    return lambda: not proc.port or procs.port_open(proc.port)


def start_component(st: Stack, launch: procs.Launch, env: dict[str, str] | None = None) -> Proc:
    """Start a stopped component again on its port and wait until it serves; the Pub/Sub
    emulator keeps nothing, so its topics and subscriptions are created again."""
    log = st.dir / "logs" / f"{launch.name}.log"
    proc = procs.relaunch(launch, str(log), env)
    st.procs = [proc if p.name == launch.name else p for p in st.procs]
    st.save()
    procs.wait_until(_ready(st, proc), f"{launch.name} (restarted)", 90, proc, str(log))
    if launch.name == "pubsub":
        create_topology(st)
    return proc


def restart(st: Stack, name: str, *, kill: bool = False, env: dict[str, str] | None = None) -> Proc:
    """Stop one component and start it again exactly as it was (plus env overrides)."""
    return start_component(st, stop_component(st, name, kill=kill), env)


# ---- commands -------------------------------------------------------------------------


def up(directory: Path | None = None) -> Stack:
    directory = directory or stack_dir()
    existing = Stack.load(directory)
    if existing and existing.alive():
        say(f"already running (state in {directory})")
        return existing
    if existing:
        say("a previous stack is partly down; stopping what is left")
        down(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    st = Stack(directory)
    st.env["GITOPS_STACK_DIR"] = str(directory)
    t0 = time.monotonic()
    try:
        for step, what in (
            (start_emulators, "starting Firestore and Pub/Sub emulators"),
            (
                start_kube,
                "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the node agent",
            ),
            (start_git, "starting git server"),
            (start_github_api, "starting GitHub API stand-in"),
            (start_charts, "starting the Helm chart repository and the OCI registry"),
            (start_oidc, "starting the OIDC issuer"),
            (start_functions, "starting the five functions"),
            (bootstrap_policy, "writing the bootstrap RBAC policy"),
            (create_topology, "creating Pub/Sub topics and push subscriptions"),
            (wait_nodes, "waiting for the simulated nodes to be Ready"),
            (start_scheduler, "starting the Cloud Scheduler stand-in"),
        ):
            say(what)
            step(st)
            st.save()
    except BaseException:
        st.save()
        down(directory)
        raise
    (directory / "env.sh").write_text(st.exports())
    say(f"up in {time.monotonic() - t0:.1f}s; env in {directory / 'env.sh'}")
    return st


def down(directory: Path | None = None) -> None:
    directory = directory or stack_dir()
    st = Stack.load(directory)
    if st is None:
        say("nothing to stop")
        return
    for p in reversed(st.procs):
        procs.stop(p)
    st.state_file.unlink()
    say(f"stopped {len(st.procs)} processes")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    if command == "up":
        print(up().exports(), end="")
    elif command == "env":
        st = Stack.load(stack_dir())
        if st is None or not st.alive():
            say("no running stack; run: python -m stack.local up")
            return 1
        print(st.exports(), end="")
    elif command == "down":
        down()
    else:
        say(f"unknown command {command!r}: use up, env or down")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
