"""big: one big application end to end through the functions, side by side with kubectl.

On a fresh stack, one application of OBJECTS objects (bench/big_app.py: Roles, ConfigMaps and
Services in three sync waves, files of 50), automated with prune:
1. first sync: a push through intake, render and the gate, apply wave by wave, record;
2. no-op sync: a manual sync of the same revision (no write; O(kinds) list requests);
3. audit (drift) and diff (`gitops app diff`: desired against live): nothing differs;
4. a push changing 1% of the objects and removing 1%: configured and pruned;
5. rollback to the first sync: the changed ones back, the pruned ones created again; audit;
and the same objects in another namespace with `kubectl apply --server-side` (first, with
and without a `--dry-run=server` pass before it, and no-op) and `kubectl diff --server-side`.
Every step's result is checked (phase, counts, live objects, the order of the waves' writes
in the API server's audit log, zero drift): a failed check fails the group, its figures
still written. Write requests are counted at the
API server (its audit log), list requests from the history entries, Firestore reads and writes
from the functions' log lines, peak memory (VmHWM) of each function's processes from /proc,
checked against 512 MiB.

Then a fleet on the same stack: APPS applications on one repository (manual sync, one folder
each) registered from one `app create -f` file, one push changing 1% of them (the intake's
Firestore reads and writes, and the renders'), and a sweep of them all (its invocations,
Firestore reads and writes, Kubernetes requests).

Sizes: 5,000 objects and 2,000 applications by default (9 minutes on 2 cores at load average
20, within the 10-minute convention); `python -m bench big --full` runs the issue's 20,000 and 10,000
(8.5 minutes on a quiet machine, kubectl's four passes over 20,000 objects 4.6 of them); the variables
GITOPS_BENCH_BIG_OBJECTS and GITOPS_BENCH_BIG_APPS set either.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench import big_app, funclogs, memory, report, workload
from bench.e2e import post_webhook
from bench.fleet import Handled
from bench.stack import WriteCounter, running

FULL = os.environ.get("GITOPS_BENCH_BIG_FULL") == "1"
OBJECTS = int(os.environ.get("GITOPS_BENCH_BIG_OBJECTS") or (20000 if FULL else 5000))
APPS = int(os.environ.get("GITOPS_BENCH_BIG_APPS") or (10000 if FULL else 2000))
MEMORY_LIMIT_MIB = 512
SIZE_NOTE = (
    "full sizes (--full)"
    if FULL
    else "reduced to fit 10 minutes: `python -m bench big --full` runs 20,000 objects and 10,000 applications"
)


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


class Checks:
    """Each step's result, checked: the problems found (the group fails when there are any)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)
            print(f"[bench big] CHECK FAILED: {what}", flush=True)

    def entry(self, entry: dict[str, Any], step: str, counts: dict[str, int]) -> None:
        self.expect(
            entry.get("phase") == "Succeeded", f"{step}: phase {entry.get('phase')}: {entry.get('summary')}"
        )
        got = {k: v for k, v in (entry.get("counts") or {}).items() if v}
        self.expect(got == {k: v for k, v in counts.items() if v}, f"{step}: counts {got}, expected {counts}")


def run() -> list[report.Record]:
    from shared.adapters import bus, kube, store
    from shared.core import topology, webhook
    from shared.core.messages import ApplyRequest, AuditRequest
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from shared.core.status import Initiator
    from shared.steps import diff
    from stack.gitrepo import WorkRepo

    print(
        f"[bench big] one {OBJECTS}-object application end to end, ours through the functions and "
        f"kubectl, then {APPS} applications on one repository ({SIZE_NOTE})",
        flush=True,
    )
    load_before = os.getloadavg()
    objs = big_app.objects(OBJECTS)
    second = big_app.second_version(objs)
    changed = sum(1 for o in objs if big_app.is_changed(o))
    removed = len(objs) - len(second)
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in objs})
    folder = Path(tempfile.mkdtemp(prefix="bench-big-"))
    for name, text in big_app.files(objs).items():
        (folder / Path(name).name).write_text(text)
    checks = Checks()
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
        sha = repo.commit_and_push("big", big_app.files(objs))
        secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()

        def history(n: int) -> bool:
            status = store.get_app(app).status
            render = status.get("render") or {}
            if render.get("errors"):  # a sync that will never come
                raise RuntimeError(
                    f"the render of {render.get('commit', '')[:7]} failed: {render['errors'][:2]}"
                )
            return int(status.get("historyCount", 0)) >= n

        def push(before: str, after: str) -> None:
            body = webhook.push_payload(repo.url, "refs/heads/main", before, after)
            if post_webhook(st.env["GITOPS_INTAKE_URL"], secret, body, str(uuid.uuid4())) != 200:
                raise RuntimeError("intake refused the push")

        def apply(revision: str, initiator: Initiator, operation: str) -> None:
            bus.publish(
                topology.APPLY,
                [
                    ApplyRequest(
                        app=app,
                        revision=revision,
                        initiator=initiator,
                        operation=operation,
                        triggered_by="bench",
                    )
                ],
            )

        def audit(operation: str) -> tuple[float, int]:
            t0 = time.monotonic()
            bus.publish(topology.AUDIT, [AuditRequest(app=app, operation=operation)])
            wait(lambda: store.get_app(app).status.get("lastAuditOperation") == operation, "the audit")
            seconds = time.monotonic() - t0
            return seconds, int((store.get_app(app).status.get("drift") or {}).get("objects", 0))

        def live(kind: str) -> list[dict[str, Any]]:
            return cluster.list("v1", kind, ours)

        t: dict[str, float] = {}
        writes: dict[str, int] = {}
        entries: dict[str, dict[str, Any]] = {}

        def sync(key: str, start: Callable[[], None], counts: dict[str, int]) -> None:
            """A sync started by `start`, timed to its history entry, its writes counted, checked."""
            n = len(entries) + 1
            counter.mark()
            t0 = time.monotonic()
            start()
            wait(lambda: history(n), f"the {key} sync")
            t[f"ours.{key}"] = time.monotonic() - t0
            writes[f"ours.{key}"] = counter.since_mark("gitops/", ours)
            entries[key] = store.get_history(app, n, results=False)
            checks.entry(entries[key], f"{key} sync", counts)

        # 1. the first sync, in waves
        sync("first", lambda: push("0" * 40, sha), {"created": len(objs)})
        spans = counter.spans_since_mark("gitops/", ours)
        checks.expect(writes["ours.first"] == len(objs), f"first sync: {writes['ours.first']} writes")
        order = [r for r in ("roles", "configmaps", "services") if r in spans]
        checks.expect(
            all(spans[a][1] < spans[b][0] for a, b in itertools.pairwise(order)),
            f"first sync: the waves' writes overlap: {spans}",
        )
        print(f"[bench big] first sync (push to history, three waves) {t['ours.first']:.1f}s", flush=True)
        # what Argo CD and Flux do before writing (and we do): a server-side dry-run of every object
        t["kubectl.first_dry_run"] = kubectl(
            "apply", "--server-side", "--dry-run=server", "--force-conflicts", "-n", theirs, "-f", str(folder)
        )
        counter.mark()
        t["kubectl.first"] = kubectl(
            "apply", "--server-side", "--force-conflicts", "-n", theirs, "-f", str(folder)
        )
        writes["kubectl.first"] = counter.since_mark("kubectl/", theirs)
        print(
            f"[bench big] kubectl apply --server-side {t['kubectl.first']:.1f}s "
            f"(its --dry-run=server pass before it {t['kubectl.first_dry_run']:.1f}s)",
            flush=True,
        )

        # 2. the no-op sync
        revision = entries["first"]["revision"]
        sync("noop", lambda: apply(revision, Initiator.MANUAL, f"bench-noop-{uid}"), {"unchanged": len(objs)})
        checks.expect(writes["ours.noop"] == 0, f"no-op sync: {writes['ours.noop']} writes")
        lists = (entries["noop"].get("requests") or {}).get("list", 0)
        checks.expect(lists <= len(kinds), f"no-op sync: {lists} list requests for {len(kinds)} kinds")
        counter.mark()
        t["kubectl.noop"] = kubectl(
            "apply", "--server-side", "--force-conflicts", "-n", theirs, "-f", str(folder)
        )
        writes["kubectl.noop"] = counter.since_mark("kubectl/", theirs)
        print(f"[bench big] no-op sync {t['ours.noop']:.1f}s, kubectl {t['kubectl.noop']:.1f}s", flush=True)

        # 3. audit and diff
        t["ours.audit"], drifted = audit(f"bench-audit-{uid}")
        checks.expect(drifted == 0, f"audit after the sync: {drifted} objects drifted")
        t["kubectl.diff"] = kubectl("diff", "--server-side", "-n", theirs, "-f", str(folder), ok=(0, 1))
        t0 = time.monotonic()
        diffs = diff.desired_vs_live(cluster, store.get_app(app))
        t["ours.diff"] = time.monotonic() - t0
        checks.expect(not diffs, f"diff after the sync: {len(diffs)} objects differ")
        print(
            f"[bench big] audit {t['ours.audit']:.1f}s, diff {t['ours.diff']:.1f}s, "
            f"kubectl diff {t['kubectl.diff']:.1f}s",
            flush=True,
        )

        # 4. a push changing 1% and removing 1%: configured and pruned
        services = len(live("Service"))
        sha2 = repo.commit_and_push("change 1%, remove 1%", big_app.files(objs, second=True))
        sync(
            "change",
            lambda: push(sha, sha2),
            {"configured": changed, "pruned": removed, "unchanged": len(second) - changed},
        )
        checks.expect(
            writes["ours.change"] == changed + removed, f"changing sync: {writes['ours.change']} writes"
        )
        checks.expect(len(live("Service")) == services - removed, "changing sync: Services not pruned")
        sample = cluster.get("v1", "ConfigMap", ours, "b-00000") or {}
        checks.expect(
            sample.get("data") == {"greeting": "changed"}, f"changing sync: b-00000 is {sample.get('data')}"
        )
        print(
            f"[bench big] changing sync ({changed} changed, {removed} pruned) {t['ours.change']:.1f}s",
            flush=True,
        )

        # 5. rollback to the first sync, and an audit after it
        sync(
            "rollback",
            lambda: apply(revision, Initiator.ROLLBACK, f"bench-rollback-{uid}"),
            {"configured": changed, "created": removed, "unchanged": len(objs) - changed - removed},
        )
        checks.expect(len(live("Service")) == services, "rollback: the pruned Services are not back")
        sample = cluster.get("v1", "ConfigMap", ours, "b-00000") or {}
        checks.expect(
            sample.get("data") == {"greeting": "hello"}, f"rollback: b-00000 is {sample.get('data')}"
        )
        t["ours.audit_after_rollback"], drifted = audit(f"bench-audit2-{uid}")
        checks.expect(drifted == 0, f"audit after the rollback: {drifted} objects drifted")
        print(
            f"[bench big] rollback {t['ours.rollback']:.1f}s, audit {t['ours.audit_after_rollback']:.1f}s",
            flush=True,
        )
        loaded = memory.peaks(st)
        status = store.get_app(app).status
        fs = {f: firestore_counts(st, f, app) for f in ("render", "apply", "audit")}
        fleet_records = fleet(st, checks)
    load = {"before": load_before, "after": os.getloadavg()}
    common = {
        "objects": OBJECTS,
        "kinds": [k for _, k in kinds],
        "waves": big_app.WAVES,
        "rounds": 1,
        "sizes": SIZE_NOTE,
        "note": "one round: each phase is minutes long on 2 cores",
        "inventory": {k: status["inventory"][k] for k in ("parts", "count")},
        "history_results_parts": {k: (e.get("results") or {}).get("parts") for k, e in entries.items()},
        "firestore_per_invocation": fs,
        "load_average_1_5_15": load,
    }

    def step(metric: str, key: str, entry: str, baseline: str = "", **extra: Any) -> report.Record:
        e = entries[entry]
        return report.Record(
            metric,
            round(t[key], 1),
            "s",
            {
                **common,
                "baseline": baseline,
                "writes_ours": writes.get(key),
                "requests_ours": e.get("requests"),
                "summary": e.get("summary"),
                **extra,
            },
        )

    def speedup(metric: str, key: str, baseline: str, what: str, **extra: Any) -> report.Record:
        return report.Record(
            metric,
            round(t[baseline] / t[key], 2),
            "x",
            {**common, "ours_s": round(t[key], 1), "baseline": f"{what} {t[baseline]:.1f} s", **extra},
        )

    records = [
        step(
            "big.first.seconds",
            "ours.first",
            "first",
            f"kubectl apply --server-side {t['kubectl.first']:.1f} s",
            kubectl_s=round(t["kubectl.first"], 1),
            kubectl_dry_run_s=round(t["kubectl.first_dry_run"], 1),
            speedup_vs_kubectl=round(t["kubectl.first"] / t["ours.first"], 2),
            writes_kubectl=writes["kubectl.first"],
            waves_written={k: list(v) for k, v in spans.items()},
            includes="webhook, render and gate, apply in three waves, record (push to history entry)",
        ),
        speedup("big.first.speedup_vs_kubectl", "ours.first", "kubectl.first", "kubectl apply --server-side"),
        report.Record(
            "big.first.speedup_vs_kubectl_dry_run_then_apply",
            round((t["kubectl.first_dry_run"] + t["kubectl.first"]) / t["ours.first"], 2),
            "x",
            {
                **common,
                "ours_s": round(t["ours.first"], 1),
                "baseline": "kubectl apply --server-side --dry-run=server "
                f"{t['kubectl.first_dry_run']:.1f} s, then kubectl apply --server-side "
                f"{t['kubectl.first']:.1f} s",
                "why": "like for like: nothing is written unless every object passes the API server's "
                "dry-run (Argo CD's and Flux's order, and ours); plain kubectl writes until the first "
                "refusal",
            },
        ),
        report.Record(
            "big.noop.writes",
            writes["ours.noop"],
            "requests",
            {
                **common,
                "baseline": f"kubectl {writes['kubectl.noop']} writes",
                "requests_ours": entries["noop"].get("requests"),
                "summary": entries["noop"].get("summary"),
            },
        ),
        report.Record(
            "big.noop.list_requests",
            (entries["noop"].get("requests") or {}).get("list", 0),
            "requests",
            {**common, "baseline": f"{len(kinds)} kinds", "requests_ours": entries["noop"].get("requests")},
        ),
        speedup(
            "big.noop.speedup_vs_kubectl",
            "ours.noop",
            "kubectl.noop",
            "kubectl apply --server-side",
            includes="message to history entry",
        ),
        speedup(
            "big.audit.speedup_vs_kubectl_diff", "ours.audit", "kubectl.diff", "kubectl diff --server-side"
        ),
        report.Record(
            "big.diff.seconds",
            round(t["ours.diff"], 1),
            "s",
            {
                **common,
                "baseline": f"kubectl diff --server-side {t['kubectl.diff']:.1f} s",
                "how": "gitops app diff (shared/steps/diff.py) in the benchmark's process: "
                "a dry-run per object",
            },
        ),
        step(
            "big.change.seconds",
            "ours.change",
            "change",
            changed=changed,
            pruned=removed,
            includes="push to history entry: render, gate, dry-runs of the changed, writes, prune",
        ),
        step("big.rollback.seconds", "ours.rollback", "rollback", changed=changed, recreated=removed),
    ]
    for name in memory.FUNCTIONS:
        peak = loaded[name]["max_mib"]
        checks.expect(peak <= MEMORY_LIMIT_MIB, f"peak memory of {name}: {peak} MiB > {MEMORY_LIMIT_MIB}")
        records.append(
            report.Record(
                f"big.peak_mib.{name}",
                peak,
                "MiB",
                {
                    "objects": OBJECTS,
                    "idle": idle[name],
                    "loaded": loaded[name],
                    "baseline": f"idle {idle[name]['max_mib']:g} MiB",
                    "target": f"<= {MEMORY_LIMIT_MIB} MiB",
                    "note": f"largest of {loaded[name]['processes']} processes (VmHWM) over every "
                    "step above; fresh stack",
                },
            )
        )
    records += fleet_records
    if checks.problems:
        raise report.Failed(records, checks.problems)
    return records


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


def fleet(st: Any, checks: Checks) -> list[report.Record]:
    """APPS applications on one repository: register, push 1%, sweep."""
    from shared.adapters import bus, store
    from shared.cli import main
    from shared.core import topology, webhook
    from shared.core.messages import SweepRequest
    from shared.core.model import AppSpec
    from stack import oidc
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
    # people act through the API: the CLI signs in as the stack's admin, as the demo does
    os.environ["GITOPS_CONFIG"] = str(st.dir / "cli-config.json")
    with contextlib.redirect_stdout(io.StringIO()):
        checks.expect(main.main(["login", "--local-user", oidc.ADMIN]) == 0, "fleet: gitops login")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per application
        code = main.main(["-o", "json", "app", "create", "-f", str(manifest)])
    checks.expect(code == 0, f"fleet: app create -f of {APPS} applications exited {code}")
    register_s = time.perf_counter() - t0
    repo_ref = store.repo_ref(AppSpec(name="x", repoURL=repo.url).repo_key)
    head = repo_ref.get().to_dict() or {}
    shards = list(repo_ref.collection(store.FOLDERS).select(["folder"]).stream())
    print(
        f"[bench big] fleet: registered in {register_s:.1f}s; {len(json.loads(head.get('routes') or '{}'))} "
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

    checks.expect(matched == sorted(wanted), f"fleet: the push matched {len(matched)} of {len(wanted)}")
    checks.expect(
        all(r.get("fs_writes", 0) > 0 for r in rendered), "fleet: a render of the push wrote nothing"
    )

    sweep_logs = funclogs.Logs(st.dir)
    sweep_logs.mark()
    total = len(store.list_apps())
    operation = f"bench-sweep-{uid}"
    t0 = time.monotonic()
    bus.publish(topology.SWEEP, [SweepRequest(operation=operation)], order_by_app=False)
    audited = Handled(sweep_logs, "audit", f"{operation}:", "audits", "audited")
    wait(lambda: audited.poll()[0] >= total, "the sweep's audits", 1800)
    sweep_s = time.monotonic() - t0
    sweep = sweep_logs.invocations()["per_function"]["audit"]
    failed = sum(1 for line in sweep_logs.lines("audit") if line.get("message") == "audit failed")
    checks.expect(failed == 0, f"fleet: {failed} audits of the sweep failed")
    print(
        f"[bench big] fleet: sweep of {total} applications in {sweep_s:.1f}s "
        f"({sweep['invocations']:g} invocations, {sweep['fs_reads']:g} Firestore reads, "
        f"{sweep['fs_writes']:g} writes, {sweep['kube_requests']:g} Kubernetes requests)",
        flush=True,
    )
    detail = {
        "apps": APPS,
        "sizes": SIZE_NOTE,
        "routes_inline": len(json.loads(head["routes"])),
        "folder_documents": len(shards),
        "load_average_1_5_15": os.getloadavg(),
    }
    push_detail = {
        **detail,
        "changed_apps": len(wanted),
        "matched": len(matched),
        "matched_all": matched == sorted(wanted),
        "intake_fs_reads": handled.get("fs_reads", 0),
        "intake_fs_writes": handled.get("fs_writes", 0),
        "render_fs_reads": sum(r.get("fs_reads", 0) for r in rendered),
        "render_fs_writes": sum(r.get("fs_writes", 0) for r in rendered),
    }
    sweep_detail = {
        **detail,
        "applications": total,
        "invocations": sweep["invocations"],
        "fs_reads": sweep["fs_reads"],
        "fs_writes": sweep["fs_writes"],
        "kube_requests": sweep["kube_requests"],
        "pubsub_messages": sweep["published"],
        "how": "the sweep publishes the audits in messages of up to 50 applications (about 2,000 objects); "
        "each invocation reads their documents in one request, shares one list per kind and namespace, "
        "and audits 4 at a time",
    }
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
                **push_detail,
                "note": "the intake's reads for one push: the routing head and the folder documents above "
                "the changed paths (the dedupe record is a write)",
            },
        ),
        report.Record(
            "big.fleet.push_fs_writes",
            handled.get("fs_writes", 0) + push_detail["render_fs_writes"],
            "documents",
            {**push_detail, "note": "intake and the renders of the matched applications"},
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
            {**sweep_detail, "note": "the emulator pushes about 2 messages at a time per subscription"},
        ),
        report.Record(
            "big.fleet.sweep_fs_reads",
            sweep["fs_reads"],
            "documents",
            {**sweep_detail, "per_app": round(sweep["fs_reads"] / max(total, 1), 2)},
        ),
        report.Record(
            "big.fleet.sweep_fs_writes",
            sweep["fs_writes"],
            "documents",
            {**sweep_detail, "per_app": round(sweep["fs_writes"] / max(total, 1), 2)},
        ),
    ]
