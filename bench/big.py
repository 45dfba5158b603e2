"""big: one 20,000-object application through the functions, side by side with kubectl.

On a fresh stack: a push of the application (ConfigMaps, Services, Roles in files of 50)
goes through intake, render and apply (first sync), then a manual sync of the same
revision (no-op sync) and a drift audit, each timed from the message to its record; the
same objects in another namespace with `kubectl apply --server-side` (first and no-op) and
`kubectl diff --server-side`. Write requests are counted at the API server (its audit log),
the no-op sync's list requests from its history entry, Firestore reads and writes from
the functions' log lines, peak memory (VmHWM) of each function from /proc. One round:
a round is minutes long on 2 cores (GITOPS_BENCH_BIG_OBJECTS sizes it).

Then a fleet on the same stack: APPS applications on one repository (manual sync, one
folder each) registered from one `app create -f` file, one push changing 1% of them
(the intake's Firestore reads and writes for it, and the renders), and a sweep of them all
(GITOPS_BENCH_BIG_APPS sizes it).

At full size the group takes about 25 minutes on 2 cores, over the 10-minute convention:
kubectl's three passes over 20,000 objects (about 5.5 minutes) and the sweep of 10,000
applications (about 10, bound by the Pub/Sub emulator's two pushes in flight). Nothing is
reduced by default; the sizes above reduce it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import funclogs, memory, report, workload
from bench.e2e import post_webhook
from bench.stack import WriteCounter, running

OBJECTS = int(os.environ.get("GITOPS_BENCH_BIG_OBJECTS", "20000"))
APPS = int(os.environ.get("GITOPS_BENCH_BIG_APPS", "10000"))
PER_FILE = 50


def objects() -> list[dict[str, Any]]:
    """OBJECTS objects: half ConfigMaps, a quarter Services, a quarter Roles."""
    out: list[dict[str, Any]] = []
    for i in range(OBJECTS // 4 + 1):
        name = f"b-{i:05d}"
        out += [
            workload.configmap(name, greeting="hello"),
            workload.service(name),
            workload.configmap(f"{name}-extra", greeting="hi"),
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": name},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps"],
                        "resourceNames": [name],
                        "verbs": ["get"],
                    }
                ],
            },
        ]
    return out[:OBJECTS]


def files(objs: list[dict[str, Any]]) -> dict[str, str]:
    return {
        f"app/part-{k // PER_FILE:04d}.yaml": yaml.safe_dump_all(objs[k : k + PER_FILE])
        for k in range(0, len(objs), PER_FILE)
    }


def kubectl(*args: str, ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(["kubectl", *args], capture_output=True, text=True)
    if done.returncode not in ok:
        raise RuntimeError(f"kubectl {' '.join(args[:3])}: {done.stderr[-500:]}")
    return time.perf_counter() - t0


def wait(done: Any, what: str, timeout: float = 1800) -> float:
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)
    return time.monotonic() - t0


def firestore_counts(st: Any, function: str, app: str) -> list[dict[str, int]]:
    """fs_reads and fs_writes of each invocation of a function for the app (its log lines)."""
    out = []
    for line in (st.dir / "logs" / f"{function}.log").read_text(errors="replace").splitlines():
        if '"message":"handled"' in line and f'"app":"{app}"' in line:
            entry = json.loads(line)
            out.append({"reads": entry.get("fs_reads", 0), "writes": entry.get("fs_writes", 0)})
    return out


def run() -> list[report.Record]:
    from shared.adapters import bus, kube, store
    from shared.core import topology, webhook
    from shared.core.messages import ApplyRequest, AuditRequest
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from stack.gitrepo import WorkRepo

    print(
        f"[bench big] one {OBJECTS}-object application, ours through the functions and kubectl, "
        f"then {APPS} applications on one repository (about 25 minutes at 20,000 and 10,000)",
        flush=True,
    )
    objs = objects()
    folder = Path(tempfile.mkdtemp(prefix="bench-big-"))
    for name, text in files(objs).items():
        (folder / Path(name).name).write_text(text)
    with funclogs.log_level("INFO"), running() as st:
        uid = uuid.uuid4().hex[:6]
        app, ours, theirs = f"big-{uid}", f"big-{uid}", f"big-kubectl-{uid}"
        cluster = kube.cluster()
        for ns in (ours, theirs):
            cluster.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, field_manager="bench"
            )
        counter = WriteCounter(st.env["GITOPS_KUBE_AUDIT_LOG"])
        idle = memory.peaks(st)
        repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"bench/big-{uid}")
        store.put_app(
            AppSpec(
                name=app,
                repoURL=repo.url,
                path="app",
                targetRevision="main",
                destination=Destination(namespace=ours),
                syncPolicy=SyncPolicy(automated=True, prune=True),
            )
        )
        sha = repo.commit_and_push("big", files(objs))
        secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()

        def history(n: int) -> bool:
            return int(store.get_app(app).status.get("historyCount", 0)) >= n

        t: dict[str, float] = {}
        writes: dict[str, int] = {}
        counter.mark()
        body = webhook.push_payload(repo.url, "refs/heads/main", "0" * 40, sha)
        t0 = time.monotonic()
        if post_webhook(st.env["GITOPS_INTAKE_URL"], secret, body, str(uuid.uuid4())) != 200:
            raise RuntimeError("intake refused the push")
        wait(lambda: history(1), "the first sync")
        t["ours.first"] = time.monotonic() - t0
        writes["ours.first"] = counter.since_mark("gitops/", ours)
        print(f"[bench big] first sync (push to history) {t['ours.first']:.1f}s", flush=True)
        counter.mark()
        t["kubectl.first"] = kubectl(
            "apply", "--server-side", "--force-conflicts", "-n", theirs, "-f", str(folder)
        )
        writes["kubectl.first"] = counter.since_mark("kubectl/", theirs)
        print(f"[bench big] kubectl apply --server-side {t['kubectl.first']:.1f}s", flush=True)

        revision = store.get_app(app).status["sync"]["revision"]
        counter.mark()
        t0 = time.monotonic()
        bus.publish(
            topology.APPLY,
            [
                ApplyRequest(
                    app=app,
                    revision=revision,
                    initiator="manual",
                    operation=f"bench-noop-{uid}",
                    triggered_by="bench",
                )
            ],
        )
        wait(lambda: history(2), "the no-op sync")
        t["ours.noop"] = time.monotonic() - t0
        writes["ours.noop"] = counter.since_mark("gitops/", ours)
        noop = store.get_history(app, 2, results=False)
        counter.mark()
        t["kubectl.noop"] = kubectl(
            "apply", "--server-side", "--force-conflicts", "-n", theirs, "-f", str(folder)
        )
        writes["kubectl.noop"] = counter.since_mark("kubectl/", theirs)
        print(f"[bench big] no-op sync {t['ours.noop']:.1f}s, kubectl {t['kubectl.noop']:.1f}s", flush=True)

        operation = f"bench-audit-{uid}"
        t0 = time.monotonic()
        bus.publish(topology.AUDIT, [AuditRequest(app=app, operation=operation)])
        wait(lambda: store.get_app(app).status.get("lastAuditOperation") == operation, "the audit")
        t["ours.audit"] = time.monotonic() - t0
        drifted = (store.get_app(app).status.get("drift") or {}).get("objects", 0)
        t["kubectl.diff"] = kubectl("diff", "--server-side", "-n", theirs, "-f", str(folder), ok=(0, 1))
        print(f"[bench big] audit {t['ours.audit']:.1f}s, kubectl diff {t['kubectl.diff']:.1f}s", flush=True)
        loaded = memory.peaks(st)
        fleet_records = fleet(st)
        entries = store.history(app)
        first = store.get_history(app, 1, results=False)
        status = store.get_app(app).status
        fs = {f: firestore_counts(st, f, app) for f in ("render", "apply", "audit")}
    if any(e.get("phase") != "Succeeded" for e in entries):
        raise RuntimeError(f"a sync failed: {[e.get('summary') for e in entries]}")
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in objs})
    common = {
        "objects": OBJECTS,
        "kinds": [k for _, k in kinds],
        "rounds": 1,
        "note": "one round: each phase is minutes long on 2 cores",
        "inventory": {k: status["inventory"][k] for k in ("parts", "count")},
        "history_results_parts": (first.get("results") or {}).get("parts"),
        "firestore_per_invocation": fs,
    }
    records = [
        report.Record(
            "big.first.seconds",
            round(t["ours.first"], 1),
            "s",
            {
                **common,
                "baseline": f"kubectl apply --server-side {t['kubectl.first']:.1f} s",
                "kubectl_s": round(t["kubectl.first"], 1),
                "speedup_vs_kubectl": round(t["kubectl.first"] / t["ours.first"], 2),
                "writes_ours": writes["ours.first"],
                "writes_kubectl": writes["kubectl.first"],
                "requests_ours": first.get("requests"),
                "summary": first.get("summary"),
                "includes": "webhook, render and gate, apply, record (push to history entry)",
            },
        ),
        report.Record(
            "big.noop.writes",
            writes["ours.noop"],
            "requests",
            {
                **common,
                "baseline": f"kubectl {writes['kubectl.noop']} writes",
                "requests_ours": noop.get("requests"),
                "summary": noop.get("summary"),
            },
        ),
        report.Record(
            "big.noop.list_requests",
            (noop.get("requests") or {}).get("list", 0),
            "requests",
            {**common, "baseline": f"{len(kinds)} kinds", "requests_ours": noop.get("requests")},
        ),
        report.Record(
            "big.noop.speedup_vs_kubectl",
            round(t["kubectl.noop"] / t["ours.noop"], 1),
            "x",
            {
                **common,
                "ours_s": round(t["ours.noop"], 1),
                "baseline": f"kubectl apply --server-side {t['kubectl.noop']:.1f} s",
                "includes": "message to history entry",
            },
        ),
        report.Record(
            "big.audit.speedup_vs_kubectl_diff",
            round(t["kubectl.diff"] / t["ours.audit"], 1),
            "x",
            {
                **common,
                "ours_s": round(t["ours.audit"], 1),
                "drifted": drifted,
                "baseline": f"kubectl diff --server-side {t['kubectl.diff']:.1f} s",
            },
        ),
    ]
    for name in memory.FUNCTIONS:
        records.append(
            report.Record(
                f"big.peak_mib.{name}",
                loaded[name]["max_mib"],
                "MiB",
                {
                    "objects": OBJECTS,
                    "idle": idle[name],
                    "loaded": loaded[name],
                    "baseline": f"idle {idle[name]['max_mib']:g} MiB",
                    "target": "<= 512 MiB",
                    "note": f"largest of {loaded[name]['processes']} processes; fresh stack",
                },
            )
        )
    return records + fleet_records


def _log_lines(st: Any, function: str, since: int) -> list[dict[str, Any]]:
    with open(st.dir / "logs" / f"{function}.log", "rb") as f:
        f.seek(since)
        out = []
        for raw in f:
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
    return out


def _offset(st: Any, function: str) -> int:
    return os.path.getsize(st.dir / "logs" / f"{function}.log")


def fleet(st: Any) -> list[report.Record]:
    """APPS applications on one repository: register, push 1%, sweep."""
    from shared.adapters import bus, store
    from shared.cli import main
    from shared.core import topology, webhook
    from shared.core.messages import SweepRequest
    from shared.core.model import AppSpec
    from stack.gitrepo import WorkRepo

    uid = uuid.uuid4().hex[:6]
    repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"bench/fleet-{uid}")
    names = [f"f{uid}-{i:05d}" for i in range(APPS)]
    first = repo.commit_and_push(
        "fleet",
        {
            f"apps/a{i:05d}/cm.yaml": yaml.safe_dump(workload.configmap(f"a{i:05d}", greeting="hello"))
            for i in range(APPS)
        },
    )
    manifest = Path(tempfile.mkdtemp(prefix="bench-fleet-")) / "apps.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": n},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": repo.url, "path": f"apps/a{i:05d}", "targetRevision": "main"},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                    },
                }
                for i, n in enumerate(names)
            ]
        )
    )
    print(f"[bench big] fleet: registering {APPS} applications from one file", flush=True)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per application
        code = main.main(["-o", "json", "app", "create", "-f", str(manifest)])
    if code != 0:
        raise RuntimeError("app create -f failed")
    register_s = time.perf_counter() - t0
    repo_ref = store.repo_ref(AppSpec(name="x", repoURL=repo.url).repo_key)
    head = repo_ref.get().to_dict() or {}
    shards = list(repo_ref.collection(store.FOLDERS).select(["folder"]).stream())
    print(
        f"[bench big] fleet: registered in {register_s:.1f}s; {len(json.loads(head['routes']))} "
        f"routes inline, {len(shards)} folder documents",
        flush=True,
    )

    changed = list(range(0, APPS, 100))
    paths = [f"apps/a{i:05d}/cm.yaml" for i in changed]
    second = repo.commit_and_push(
        "1%",
        {
            p: yaml.safe_dump(workload.configmap(f"a{i:05d}", greeting="changed"))
            for i, p in zip(changed, paths, strict=True)
        },
    )
    secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    body = webhook.push_payload(
        repo.url,
        "refs/heads/main",
        first,
        second,
        "1%",
        changed={"added": [], "modified": paths, "removed": []},
    )
    intake_at, render_at = _offset(st, "intake"), _offset(st, "render")
    t0 = time.monotonic()
    if post_webhook(st.env["GITOPS_INTAKE_URL"], secret, body, str(uuid.uuid4())) != 200:
        raise RuntimeError("intake refused the push")
    handled = next(
        line
        for line in _log_lines(st, "intake", intake_at)
        if line.get("message") == "push handled" and line.get("commit") == second
    )
    wanted = {names[i] for i in changed}

    def renders() -> list[dict[str, Any]]:
        return [
            line
            for line in _log_lines(st, "render", render_at)
            if line.get("message") == "handled" and line.get("app") in wanted
        ]

    wait(lambda: len(renders()) >= len(wanted), "the fleet's renders", 600)
    push_s = time.monotonic() - t0
    rendered = renders()
    matched = sorted(handled.get("matched") or [])
    print(f"[bench big] fleet: one push matched {len(matched)}, rendered in {push_s:.1f}s", flush=True)

    audit_at = _offset(st, "audit")
    total = len(store.list_apps())
    t0 = time.monotonic()
    bus.publish(topology.SWEEP, [SweepRequest(operation=f"bench-sweep-{uid}")], order_by_app=False)

    def audits() -> int:
        return sum(
            1
            for line in _log_lines(st, "audit", audit_at)
            if line.get("message") == "handled" and line.get("topic") == topology.AUDIT
        )

    wait(lambda: audits() >= total, "the sweep's audits", 1200)
    sweep_s = time.monotonic() - t0
    print(f"[bench big] fleet: sweep of {total} applications in {sweep_s:.1f}s", flush=True)
    detail = {"apps": APPS, "routes_inline": len(json.loads(head["routes"])), "folder_documents": len(shards)}
    return [
        report.Record(
            "big.fleet.register_seconds",
            round(register_s, 1),
            "s",
            {**detail, "how": "gitops app create -f FILE: one file of APPS documents, 100 per transaction"},
        ),
        report.Record(
            "big.fleet.push_fs_reads",
            handled.get("fs_reads", 0),
            "documents",
            {
                **detail,
                "changed_apps": len(wanted),
                "matched": len(matched),
                "matched_all": matched == sorted(wanted),
                "intake_fs_writes": handled.get("fs_writes", 0),
                "render_fs_reads": sum(r.get("fs_reads", 0) for r in rendered),
                "render_fs_writes": sum(r.get("fs_writes", 0) for r in rendered),
                "note": "the intake's reads for one push: the routing head and the folder documents above "
                "the changed paths (the dedupe record is a write)",
            },
        ),
        report.Record(
            "big.fleet.push_seconds",
            round(push_s, 1),
            "s",
            {**detail, "changed_apps": len(wanted), "includes": "webhook to every render handled"},
        ),
        report.Record(
            "big.fleet.sweep_seconds",
            round(sweep_s, 1),
            "s",
            {
                **detail,
                "applications": total,
                "note": "the emulator pushes about 2 messages at a time per subscription: it bounds this",
            },
        ),
    ]
