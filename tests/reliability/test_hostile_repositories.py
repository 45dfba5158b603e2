"""Hostile repositories, rendered exactly as the render function renders them.

Anyone who can push to a registered repository is untrusted. Each case here is a repository
written to read what no renderer may read (the function's environment, a host file, another
tenant's cached repository, the function's own source), to write outside the render folder,
to crash the render or to exhaust its memory, time or output, through Directory, Kustomize,
Helm and Jsonnet sources. Canaries: secrets in the render function's environment, a file on
the host outside any tree, and another tenant's private repository cached on the same
instance. For every case the render ends with a finding naming the file; and at the end no
canary is found in any rendered object, finding, log line, Firestore document or commit
status, nothing was written outside the render folder, no sandbox process is left, and the
render function's own peak RSS stayed under 300 MiB.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from shared.adapters import store
from shared.core import webhook as github
from shared.render import tree as trees
from stack import local
from tests.integration import manifests
from tests.integration.conftest import create_app, private_repo, wait_for, webhook

pytestmark = pytest.mark.escape

RUN = uuid.uuid4().hex[:8]
CANARY_ENV = f"canary-env-{RUN}"
CANARY_CRED = f"canary-cred-{RUN}"
CANARY_HOOK = f"canary-hook-{RUN}"
CANARY_FILE = f"canary-file-{RUN}"
CANARY_TENANT = f"canary-tenant-{RUN}"
HOST = Path(f"/tmp/gitops-hostile-{RUN}")  # a host folder outside any tree, readable by anyone
ESCAPE = f"escaped-{RUN}"  # the name a write outside the render folder would create


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class Sparse:
    size: int  # a blob of this many zero bytes (compressed, it is small)


SPARSE = 160 << 20  # over the 64 MiB object limit and the 100 MiB read limit (the unit tests
# show a 1 GiB one refused from its header alone; here the git server has to pack it)


@dataclass(frozen=True)
class Crafted:
    """A tree written object by object (what a tenant's own git server can serve)."""

    entries: tuple[tuple[tuple[bytes, ...], int, bytes], ...]  # (path elements, mode, content)


def _chart(templates: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "app/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
        **{f"app/templates/{k}": v for k, v in (templates or {"cm.yaml": manifests.configmap()}).items()},
        **extra,
    }


def _kust(body: str, **extra: Any) -> dict[str, Any]:
    return {"app/kustomization.yaml": body, "app/cm.yaml": manifests.configmap(), **extra}


CM = manifests.configmap()


def _cases() -> list[tuple[str, dict[str, Any] | Crafted, dict[str, Any], str]]:
    """(id, files, source options, the file the finding must name)."""
    canary_file = str(HOST / "secret.yaml")
    chain = {"app/up": Link(".")}  # `up -> .`: a chain of in-tree links that normalises inside
    deep = "up/" * 12 + "../" * 12
    cases: list[tuple[str, dict[str, Any] | Crafted, dict[str, Any], str]] = []
    # 1. symlinks, by where they resolve; per source kind
    targets = {
        "abs-canary": canary_file,
        "proc-self-environ": "/proc/self/environ",
        "proc-parent-environ": "/proc/1/environ",
        "dotdot-canary": "../" * 12 + canary_file[1:],
        "chain-canary": deep + canary_file[1:],
        "chain-environ": deep + "proc/self/environ",
        "function-source": "../" * 12 + str(local.REPO_ROOT / "shared" / "platform" / "config.py")[1:],
    }
    for name, target in targets.items():
        cases.append(
            (f"dir-link-{name}", {**chain, "app/cm.yaml": CM, "app/x.yaml": Link(target)}, {}, "app/x.yaml")
        )
    for name in ("abs-canary", "chain-canary", "chain-environ"):
        target = targets[name]
        cases.append(
            (
                f"kust-resource-link-{name}",
                {**chain, **_kust("resources: [cm.yaml, x.yaml]\n"), "app/x.yaml": Link(target)},
                {},
                "app/x.yaml",
            )
        )
        cases.append(
            (
                f"helm-values-link-{name}",
                {**chain, **_chart(), "app/values.yaml": Link(target)},
                {},
                "app/values.yaml",
            )
        )
        up = "" if target.startswith("/") else "../"
        cases.append(
            (
                f"helm-template-link-{name}",
                {**chain, **_chart({"x.yaml": Link(up + target)})},
                {},
                "app/templates/x.yaml",
            )
        )
        cases.append(
            (
                f"jsonnet-import-link-{name}",
                {**chain, "app/main.jsonnet": "importstr 'x.txt'\n", "app/x.txt": Link(target)},
                {},
                "app/x.txt",
            )
        )
    # directory links leaving the tree: the app path, a chart folder, templates/, a resources folder
    cases += [
        ("dir-app-path-is-a-link", {"app": Link("/etc"), "other/cm.yaml": CM}, {}, "app"),
        (
            "kust-app-path-chain",
            {"up": Link("."), "app": Link("up/up/../../tmp"), "x/cm.yaml": CM},
            {"kustomize": {}},
            "app",
        ),
        (
            "helm-templates-folder-link",
            {**_chart(), "app/templates": Link("/proc/self")},
            {},
            "app/templates",
        ),
        ("helm-chart-folder-link", {"app": Link(str(HOST)), "x/cm.yaml": CM}, {"helm": {}}, "app"),
        (
            "kust-resources-folder-link",
            {**chain, **_kust("resources: [base]\n"), "app/base": Link(deep + str(HOST)[1:])},
            {},
            "app/base",
        ),
        (
            "jsonnet-lib-folder-link",
            {**chain, "app/main.jsonnet": "import 'lib/x.libsonnet'\n", "app/lib": Link(deep + "tmp")},
            {},
            "app/lib",
        ),
        (
            "helm-values-file-option-through-link",
            {**chain, **_chart(), "app/v": Link(deep + "etc")},
            {"helm": {"valueFiles": ["v/passwd"]}},
            "app/v",
        ),
    ]
    # a link elsewhere in the repository poisons a materialised (Kustomize, Helm) render too
    cases += [
        (
            "kust-unrelated-link-leaving",
            {**_kust("resources: [cm.yaml]\n"), "other/x": Link("/")},
            {},
            "other/x",
        ),
        (
            "helm-unrelated-link-chain",
            {**chain, **_chart(), "other/x": Link("../app/" + deep + "etc")},
            {},
            "other/x",
        ),
        (
            "link-loop",
            {"app/cm.yaml": CM, "app/a.yaml": Link("b.yaml"), "app/b.yaml": Link("a.yaml")},
            {},
            "app/a.yaml",
        ),
        (
            "link-target-with-nul",
            {"app/cm.yaml": CM, "app/x.yaml": Link("cm.yaml\0/../../etc/passwd")},
            {},
            "app/x.yaml",
        ),
    ]
    # 2. crafted trees: names git itself refuses to check out (anywhere in the commit)
    crafted: dict[str, tuple[bytes, ...]] = {
        "dotdot-entry": (b"app", b"..", ESCAPE.encode() + b".yaml"),
        "dotdot-deep": (b"app", *[b".."] * 6, b"tmp", ESCAPE.encode() + b".yaml"),
        "dot-entry": (b"app", b".", b"cm2.yaml"),
        "dotgit-entry": (b"app", b".git", b"config"),
        "dotgit-upper": (b".GIT", b"hooks", b"post-checkout"),
        "dotgit-ntfs-alias": (b"app", b"git~1", b"config"),
        "dotgit-trailing-dot": (b"app", b".git.", b"config"),
        "dotgit-hfs-ignorable": (".g\u200dit".encode(), b"config"),
        "slash-inside-a-name": (b"app", b"../" + ESCAPE.encode()),
        "overlong-name": (b"app", b"n" * 300 + b".yaml"),
        "overlong-path": (b"app", *[b"d" * 250] * 18, b"x.yaml"),
        "newline-in-name": (b"app", b"a\nb.yaml"),
        "escape-sequence-in-name": (b"app", b"\x1b]0;pwned\x07.yaml"),
        "not-utf8-name": (b"app", b"\xff\xfe.yaml"),
    }
    for name, elements in crafted.items():
        for kind, extra in (
            ("dir", ()),
            ("kust", (((b"app", b"kustomization.yaml"), 0o100644, b"resources: [cm.yaml]\n"),)),
        ):
            entries = (
                ((b"app", b"cm.yaml"), 0o100644, CM.encode()),
                *extra,
                (elements, 0o100644, CM.encode()),
            )
            expect = trees.shown(b"/".join(elements))[:40]
            cases.append((f"crafted-{kind}-{name}", Crafted(entries), {}, expect))
    # 3. kustomization references: only plain relative in-tree paths
    kust_refs = {
        "newline-entry": 'resources:\n- "cm.yaml\\n- https://example.com/x.yaml"\n',
        "git-getter": "resources:\n- git::https://github.com/acme/app.git//base?ref=v1\n",
        "file-url": "resources:\n- file:///etc/passwd\n",
        "ssh-url": "resources:\n- ssh://git@github.com/acme/app.git\n",
        "scp-form": "resources:\n- git@github.com:acme/app.git\n",
        "host-form": "resources:\n- github.com/acme/app/base\n",
        "gh-shorthand": "resources:\n- gh:acme/app\n",
        "https-query": "resources:\n- https://raw.githubusercontent.com/acme/app/main/cm.yaml?x=1\n",
        "subdir-form": "resources:\n- acme/app//base\n",
        "absolute": f"resources:\n- {HOST}\n",
        "outside": "resources:\n- ../../../../tmp\n",
        "tab-in-path": 'resources:\n- "cm.yaml\\tx"\n',
        "not-a-string": "resources:\n- {path: cm.yaml}\n",
        "helm-charts": "helmCharts:\n- name: x\n  repo: https://charts.example.com\n",
        "generator-file-abs": f"configMapGenerator:\n- name: x\n  files: [k={HOST}/secret.yaml]\n",
        "generator-env-proc": "configMapGenerator:\n- name: x\n  envs: [/proc/self/environ]\n",
        "secret-generator-outside": "secretGenerator:\n- name: x\n  files: [../../../../etc/passwd]\n",
        "patch-path-outside": "resources: [cm.yaml]\npatches:\n- path: ../../../../etc/passwd\n",
        "openapi-path": "openapi:\n  path: /etc/passwd\n",
        "components-remote": "components:\n- https://github.com/acme/comp\n",
        "crds-remote": "crds:\n- http://127.0.0.1:9/crd.yaml\n",
        "transformer-inline-exec": (
            "transformers:\n- |\n  apiVersion: x/v1\n  kind: Exec\n  metadata: {name: x}\n"
        ),
        "missing-file": "resources:\n- nothing-here.yaml\n",
    }
    for name, body in kust_refs.items():
        cases.append((f"kust-ref-{name}", _kust(body), {}, "app/kustomization.yaml"))
    cases.append(
        (
            "kust-nested-base-remote",
            {**_kust("resources: [base]\n"), "app/base/kustomization.yaml": "resources:\n- https://x.io/a\n"},
            {},
            "app/base/kustomization.yaml",
        )
    )
    # 4. what only the sandbox stops: renderers reaching for files, network, memory, time, output
    cases += [
        (
            "helm-files-get-proc-environ",
            _chart({"x.yaml": 'data: {{ required "empty" (.Files.Get "/proc/1/environ") }}\n'}),
            {},
            "app",
        ),
        (
            "helm-output-flood",
            _chart({"x.yaml": "{{ range until 3000000 }}# {{ . }} flood flood flood\n{{ end }}"}),
            {},
            "app",
        ),
        ("helm-memory-bomb", _chart({"x.yaml": 'x: {{ repeat 400000000 "x" }}\n'}), {}, "app"),
        (
            "helm-dependency-over-network",
            {
                **_chart(),
                "app/Chart.yaml": (
                    "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: d\n  version: 1.0.0\n"
                    "  repository: https://charts.example.com\n"
                ),
            },
            {},
            "app",
        ),
        (
            "jsonnet-memory-bomb",
            {"app/main.jsonnet": "std.makeArray(200000000, function(i) i)\n"},
            {},
            "app/main.jsonnet",
        ),
        (
            "jsonnet-importstr-proc",
            {"app/main.jsonnet": "importstr '/proc/1/environ'\n"},
            {},
            "app/main.jsonnet",
        ),
        (
            "jsonnet-import-canary",
            {"app/main.jsonnet": f"importstr '{'../' * 12}{canary_file[1:]}'\n"},
            {},
            "app/main.jsonnet",
        ),
        (
            "jsonnet-infinite-recursion",
            {"app/main.jsonnet": "local f(x) = f(x) + 1; f(1)\n"},
            {},
            "app/main.jsonnet",
        ),
    ]
    # 4b. what the function parses itself (found by an adversarial review): values JSON cannot
    # hold, and files whose node count would blow up the render's memory before any check
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a{}\nx:\n" + "- {{}}\n" * 999_000
    doubling = "".join(f"local a{i} = a{i - 1} + a{i - 1};\n" for i in range(1, 20))
    cases += [
        ("dir-unquoted-date", {"app/a.yaml": CM + "  when: 2001-12-14\n"}, {}, "app/a.yaml"),
        ("dir-binary-tag", {"app/a.yaml": CM + "  blob: !!binary aGVsbG8=\n"}, {}, "app/a.yaml"),
        ("dir-node-bomb-files", {f"app/f{i}.yaml": bomb.format(i) for i in range(5)}, {}, "app/f0.yaml"),
        (
            "dir-scalar-documents",
            # naming a kind: YAML that names none is skipped unread, as Argo CD skips it
            {f"app/s{i}.yaml": "kind: List\n" + "---\na\n" * 850_000 for i in range(3)},
            {},
            "app/s0.yaml",
        ),
        (
            "jsonnet-node-bomb-output",
            {
                "app/x.jsonnet": "local a0 = [[]];\n"
                + doubling
                + ("{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'}, x: a19 + a18}\n")
            },
            {},
            "app/x.jsonnet",
        ),
        (
            "crafted-link-to-a-tree",
            Crafted(
                (((b"app", b"cm.yaml"), 0o100644, CM.encode()), ((b"app", b"x.yaml"), stat.S_IFLNK, b"@tree"))
            ),
            {},
            "app/x.yaml",
        ),
    ]
    # 5. limits on what is read: a sparse blob far over the object and byte limits
    cases += [
        ("sparse-blob", {**_kust("resources: [cm.yaml]\n"), "app/big.yaml": Sparse(SPARSE)}, {}, "app"),
    ]
    return cases


CASES = _cases()


def _write_tree(repo: Repo, files: dict[tuple[bytes, ...], tuple[int, bytes]]) -> bytes:
    """Trees written object by object from {path elements: (mode, blob id)}; the root's id."""
    root: dict[bytes, Any] = {}
    for elements, value in files.items():
        *folders, name = elements
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = value

    def write(node: dict[bytes, Any]) -> bytes:
        tree = Tree()
        for name, value in node.items():
            if isinstance(value, dict):
                tree.add(name, stat.S_IFDIR, write(value))
            else:
                tree.add(name, value[0], value[1])
        repo.object_store.add_object(tree)
        return tree.id

    return write(root)


def _blob(repo: Repo, content: bytes) -> bytes:
    blob = Blob.from_string(content)
    repo.object_store.add_object(blob)
    return blob.id


def _sparse_blob(repo: Repo, size: int) -> bytes:
    """A loose blob of `size` zero bytes, written streaming (never whole in memory)."""
    header = f"blob {size}\0".encode()
    sha = hashlib.sha1(header)
    chunk = b"\0" * (1 << 20)
    for _ in range(size // len(chunk)):
        sha.update(chunk)
    hexsha = sha.hexdigest()
    folder = Path(repo.controldir()) / "objects" / hexsha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    z = zlib.compressobj(1)
    with open(folder / hexsha[2:], "wb") as f:
        f.write(z.compress(header))
        for _ in range(size // len(chunk)):
            f.write(z.compress(chunk))
        f.write(z.flush())
    return hexsha.encode()


def _commit(repo: Repo, tree: bytes, parent: bytes | None) -> str:
    commit = Commit()
    commit.tree = tree
    commit.parents = [parent] if parent else []
    commit.author = commit.committer = b"Mallory <mallory@example.com>"
    commit.commit_time = commit.author_time = 1_700_000_000
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = b"hostile"
    repo.object_store.add_object(commit)
    repo.refs[b"refs/heads/main"] = commit.id
    return commit.id.decode()


def _push_case(stack: local.Stack, work: Any, files: dict[str, Any] | Crafted) -> str:
    """The case's commit on the git server: written object by object into the server's
    repository (a tenant's own server can serve anything), then pointed to by main."""
    bare = Repo(str(Path(stack.env["GITOPS_GIT_ROOT"]) / f"{work.name}.git"))
    if isinstance(files, Crafted):
        empty = Tree()
        bare.object_store.add_object(empty)
        tree = _write_tree(
            bare, {p: (m, empty.id if c == b"@tree" else _blob(bare, c)) for p, m, c in files.entries}
        )
        return _commit(bare, tree, None)
    plain: dict[tuple[bytes, ...], tuple[int, bytes]] = {}
    for path, value in files.items():
        elements = tuple(os.fsencode(path).split(b"/"))
        if isinstance(value, Link):
            plain[elements] = (stat.S_IFLNK, _blob(bare, os.fsencode(value.target)))
        elif isinstance(value, Sparse):
            plain[elements] = (0o100644, _sparse_blob(bare, value.size))
        else:
            plain[elements] = (0o100644, _blob(bare, value.encode()))
    return _commit(bare, _write_tree(bare, plain), None)


@pytest.fixture(scope="module")
def canaries(stack: local.Stack) -> Any:
    """Secrets in the render function's environment, a file on the host, another tenant's
    private repository synced (so it is cached on the render function's instance)."""
    HOST.mkdir(mode=0o755, exist_ok=True)
    (HOST / "secret.yaml").write_text(manifests.configmap("stolen", greeting=CANARY_FILE))
    (HOST / "secret.yaml").chmod(0o644)
    tenant_uid = uuid.uuid4().hex[:6]
    tenant, _, _ = private_repo(stack, f"tenant-{tenant_uid}")
    creds_file = Path(stack.env["GITOPS_REPO_CREDENTIALS_FILE"])
    creds = json.loads(creds_file.read_text() or "{}")
    creds["http://127.0.0.1:1/canary/"] = {"username": "canary", "password": CANARY_CRED}
    render = local.restart(
        stack,
        "render",
        env={
            "GITOPS_REPO_CREDENTIALS": json.dumps(creds),
            "GITHUB_WEBHOOK_SECRET": CANARY_HOOK,
            "GITOPS_CANARY_TOKEN": CANARY_ENV,
        },
    )
    namespace = f"tenant-{tenant_uid}"
    subprocess.run(["kubectl", "create", "namespace", namespace], check=True, capture_output=True)
    create_app(f"tenant-{tenant_uid}", tenant, namespace)
    tenant.commit_and_push("tenant", {"app/cm.yaml": manifests.configmap("tenant", greeting=CANARY_TENANT)})
    secret = Path(stack.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    head = tenant.repo.head().decode()
    webhook(stack, secret, github.push_payload(tenant.url, "refs/heads/main", github.ZERO_SHA, head))
    wait_for(
        lambda: (store.get_app(f"tenant-{tenant_uid}").status.get("render") or {}).get("commit") == head,
        "the other tenant's render",
        60,
    )
    cache = Path(stack.dir) / "git-cache" / "render"
    assert any(cache.iterdir()), "the other tenant's repository is cached on the render instance"
    yield {"render": render, "secret": secret, "apps": [], "tenant": f"tenant-{tenant_uid}"}
    local.restart(
        stack,
        "render",
        env={"GITOPS_REPO_CREDENTIALS": "", "GITHUB_WEBHOOK_SECRET": "", "GITOPS_CANARY_TOKEN": ""},
    )
    subprocess.run(["kubectl", "delete", "namespace", namespace, "--wait=false"], capture_output=True)


@pytest.mark.parametrize("files, source, file", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_repository_ends_in_a_finding(stack, canaries, uid, repo, tmp_path, files, source, file):
    app = f"hostile-{uid}"
    manifest = tmp_path / "app.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": app},
                "spec": {
                    "project": "default",
                    "destination": {"namespace": "hostile"},
                    "source": {"repoURL": repo.url, "path": "app", "targetRevision": "main", **source},
                    "syncPolicy": {"automated": {}},
                },
            }
        )
    )
    from shared.cli import main

    assert main.main(["app", "create", "-f", str(manifest)]) == 0
    canaries["apps"].append(app)
    sha = _push_case(stack, repo, files)
    status, _ = webhook(
        stack, canaries["secret"], github.push_payload(repo.url, "refs/heads/main", github.ZERO_SHA, sha)
    )
    assert status == 200
    render = wait_for(
        lambda: (r := store.get_app(app).status.get("render") or {}).get("commit") == sha and r,
        f"the render verdict on {sha[:7]}",
        90,
    )
    assert render["revision"] is None, render
    assert render["errors"], render
    first = render["errors"][0]
    if file:
        assert first["file"] == file or first["file"].startswith(file), render["errors"]
    assert first["message"] and "unexpected" not in first["message"], first
    assert store.get_app(app).status.get("sync", {}).get("status") != "Synced"


def _processes() -> list[tuple[int, int, str]]:
    out = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            rows.append((int(parts[0]), int(parts[1]), parts[2]))
    return rows


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = (int(x) for x in line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_no_canary_leaked_nothing_written_outside_no_process_left_and_memory_bounded(stack, canaries):
    assert len(canaries["apps"]) >= 60
    secrets_ = [
        CANARY_ENV,
        CANARY_CRED,
        CANARY_HOOK,
        CANARY_FILE,
        CANARY_TENANT,
        Path(stack.dir / "github-token").read_text().strip(),
    ]
    # Firestore: every document of the hostile applications, and every shared render record
    from google.cloud import firestore

    db = firestore.Client()
    texts = []
    for app in canaries["apps"]:
        ref = db.collection("applications").document(app)
        texts.append(json.dumps(ref.get().to_dict(), default=str))
        for sub in ref.collections():
            texts += [json.dumps(d.to_dict(), default=str) for d in sub.stream()]
    texts += [
        json.dumps(d.to_dict(), default=str)
        for d in db.collection("renders").stream()
        if d.to_dict().get("repoKey", "").find("tenant-") < 0
    ]
    texts.append((stack.dir / "logs" / "render.log").read_text(errors="replace"))
    record = Path(stack.env["GITOPS_GITHUB_API_RECORD"])
    if record.exists():  # what was sent to GitHub (less the function's own token, which it must send)
        for line in record.read_text(errors="replace").splitlines():
            sent = json.loads(line)
            sent.pop("authorization", None)
            texts.append(json.dumps(sent))
    blob = "\n".join(texts)
    for canary in secrets_:
        assert canary not in blob, f"a canary leaked: {canary[:12]}..."
    # nothing written outside the render folder
    leaked = subprocess.run(
        ["find", "/tmp", str(stack.dir), "-name", f"*{ESCAPE}*"], capture_output=True, text=True
    ).stdout
    assert leaked == ""
    # no sandbox process is left: none runs as a sandbox uid, no bwrap
    left = [(u, p, a) for u, p, a in _processes() if u >= 200_000 or a.startswith("bwrap")]
    assert left == []
    # the render function's own peak memory (its processes, not the sandboxes it started)
    render = next(p for p in stack.procs if p.name == "render")
    own = [
        p
        for p in _descendants(render.pid)
        if Path(f"/proc/{p}").exists() and os.stat(f"/proc/{p}").st_uid == 0
    ]
    peak_mib = max(_hwm_kib(p) for p in own) / 1024
    assert peak_mib < 300, f"the render function peaked at {peak_mib:.0f} MiB"
    # each hostile render was handled once: a finding, not a redelivery loop
    log = (stack.dir / "logs" / "render.log").read_text(errors="replace")
    for app in canaries["apps"][:10]:
        assert log.count(f'"app":"{app}"') < 20, app
