"""fleet: 1,000 applications in one repository, one push that changes all of them, then a sweep.

Each application is a folder with a Deployment (0 replicas; one in the `fleetpods` group,
bench/fleetpods.py), a ServiceAccount, a Service and an Ingress (the shape of Flux's
published 1,000-Kustomization benchmark), all registered in the store. Phases, on one fresh stack:

    first   the push that creates every application's objects (the first sync)
    change  one push that changes every Deployment: time from the webhook until every
            application's apply invocation has finished (history written) and every
            Deployment is Healthy in the cluster (rollout observed)
    sweep   one Cloud Scheduler-style sweep message: time until every application is audited

Invocations, Firestore documents read/written and Pub/Sub messages are summed from the
functions' per-invocation `handled` lines (shared/metering.py counts them); how many
invocations ran at once is computed from the same lines. Size: GITOPS_BENCH_FLEET_APPS or
`python -m bench fleet --apps 100` (default 1,000).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import funclogs, report, workload
from bench.e2e import post_webhook
from bench.stack import running

TIMEOUT_S = float(os.environ.get("GITOPS_BENCH_FLEET_TIMEOUT", "900"))
COUNTS_FILE = report.RESULTS / "counts.json"  # the last measured counts, for bench/cost.py


def apps() -> int:
    return int(os.environ.get("GITOPS_BENCH_FLEET_APPS", "1000"))


def app_files(i: int, version: int, replicas: int = 0) -> str:
    name = f"app-{i:04d}"
    container = {
        "env": [{"name": "VERSION", "value": str(version)}],
        "resources": workload.LIMITS,
        "ports": workload.PORTS,
    }
    deployment = workload.deployment(name, container, serviceAccountName=name)
    deployment["spec"]["replicas"] = replicas
    objs = [workload.service_account(name), deployment, workload.service(name), workload.ingress(name)]
    return yaml.safe_dump_all(objs)


def run() -> list[report.Record]:
    return fleet_records(replicas=0, prefix="fleet", save=True)


def fleet_records(*, replicas: int, prefix: str, save: bool) -> list[report.Record]:
    """Measure the fleet with `replicas` per Deployment; metric ids under `prefix`; `save`
    keeps the per-application counts for bench/cost.py."""
    n = apps()
    # one worker process per core for every function (the emulator, not the workers, limits
    # how many messages arrive at once; see the report), unless the caller sized them
    workers = os.environ.get("GITOPS_FUNCTION_WORKERS")
    os.environ["GITOPS_FUNCTION_WORKERS"] = workers or str(os.cpu_count() or 1)
    try:
        with funclogs.log_level("INFO"), running() as st:
            result = _measure(st, n, replicas)
    finally:
        if workers is None:
            os.environ.pop("GITOPS_FUNCTION_WORKERS", None)
    detail = {**result, "apps": n, "objects": 4 * n, "replicas_per_app": replicas}
    note_emulator = (
        "the Pub/Sub emulator delivers each push subscription through exactly two "
        "push loops, so two messages at a time (max concurrent invocations seen: "
        f"{result['max_concurrency']}); Cloud Run would fan out to many instances"
    )
    records = [
        report.Record(
            f"{prefix}.sync_all_seconds",
            result["change_seconds"],
            "s",
            {**detail, "note": f"{n} apps, one push changing all; target <= 120 s; " + note_emulator},
        ),
        report.Record(
            f"{prefix}.first_sync_seconds",
            result["first_seconds"],
            "s",
            {**detail, "note": f"{n} apps created from one push"},
        ),
        report.Record(
            f"{prefix}.sweep_seconds",
            result["sweep_seconds"],
            "s",
            {**detail, "note": f"full drift sweep of {n} apps (one audit invocation each)"},
        ),
    ]
    for phase, what in (
        ("change", "intake + render + apply for the push"),
        ("sweep", "the sweep and one audit per application"),
    ):
        total = result[phase]["total"]
        records += [
            report.Record(
                f"{prefix}.{phase}.invocations", total["invocations"], "invocations", {**detail, "note": what}
            ),
            report.Record(f"{prefix}.{phase}.firestore_reads", total["fs_reads"], "documents", detail),
            report.Record(
                f"{prefix}.{phase}.firestore_writes",
                total["fs_writes"] + total["fs_deletes"],
                "documents",
                detail,
            ),
            report.Record(f"{prefix}.{phase}.pubsub_messages", total["published"], "messages", detail),
        ]
    records.append(
        report.Record(
            f"{prefix}.sweep.kube_requests",
            result["sweep_kube_requests"],
            "requests",
            {**detail, "note": "Kubernetes API requests of the whole sweep (lists, dry-runs)"},
        )
    )
    if save:
        save_counts(n, result)
    return records


def save_counts(n: int, result: dict[str, Any]) -> None:
    """The measured operations per application, for bench/cost.py."""

    def per_app(phase: dict[str, Any]) -> dict[str, Any]:
        return {f: {k: round(v / n, 3) for k, v in c.items()} for f, c in phase["per_function"].items()}

    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(COUNTS_FILE.read_text()) if COUNTS_FILE.exists() else {}
    old["fleet"] = {
        "apps": n,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1_5_15": result.get("load_average_1_5_15"),  # durations depend on it
        "push_per_app": per_app(result["change"]),
        "sweep_per_app": per_app(result["sweep"]),
    }
    COUNTS_FILE.write_text(json.dumps(old, indent=2) + "\n")


def _write_all(repo: Any, n: int, version: int, replicas: int) -> str:
    """Write every app's file and commit once (one `add` for all: dulwich's index is rewritten
    per call)."""
    from dulwich import porcelain

    paths = []
    for i in range(n):
        full = os.path.join(repo.path, "apps", f"a{i:04d}", "app.yaml")
        os.makedirs(os.path.dirname(full), exist_ok=True)
        Path(full).write_text(app_files(i, version, replicas))
        paths.append(full)
    porcelain.add(repo.repo, paths)
    sha = repo.commit(f"fleet version {version}")
    repo.push()
    return sha


def _wait(what: str, done: Any, timeout: float = TIMEOUT_S, every: float = 0.5) -> float:
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.time()


class Handled:
    """Log lines `message` (an invocation's "handled", or an application's "audited" in a
    sweep's batch) of `kind` whose operation starts with `prefix`, and the latest end time,
    read incrementally from the function's log (re-reading everything each poll cost the
    benchmark itself a tenth of a core by the end of a 1,000-app phase, on the same 2 cores)."""

    def __init__(
        self, logs: funclogs.Logs, function: str, prefix: str, kind: str, message: str = "handled"
    ) -> None:
        self.file = funclogs.path(logs.dir, function)
        self.position = logs.offsets.get(function, 0)
        self.prefix, self.kind, self.message = prefix, kind, message
        self.count, self.end = 0, 0.0

    def poll(self) -> tuple[int, float]:
        with open(self.file, "rb") as f:
            f.seek(self.position)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: read it whole next time
                self.position += len(raw)
                if f'"{self.message}"'.encode() not in raw or not raw.startswith(b"{"):
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if (
                    line.get("message") == self.message
                    and line.get("kind") == self.kind
                    and str(line.get("operation", "")).startswith(self.prefix)
                ):
                    self.count += 1
                    self.end = max(self.end, line["started"] + line["ms"] / 1000)
        return self.count, self.end


def concurrency(logs: funclogs.Logs, function: str) -> dict[str, float]:
    """Max and mean invocations in flight, from start times and durations."""
    events: list[tuple[float, int]] = []
    busy = 0.0
    for line in logs.lines(function):
        if line.get("message") == "handled":
            start = float(line["started"])
            events += [(start, 1), (start + line["ms"] / 1000, -1)]
            busy += line["ms"] / 1000
    if not events:
        return {"max": 0, "mean": 0.0}
    events.sort()
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    span = events[-1][0] - events[0][0]
    return {"max": peak, "mean": round(busy / span, 2) if span else 0.0}


def _push(st: Any, repo: Any, before: str, after: str, n: int, what: str) -> dict[str, Any]:
    from shared.core import webhook

    logs = funclogs.Logs(st.dir)
    logs.mark()
    secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    delivery = str(uuid.uuid4())
    body = webhook.push_payload(repo.url, "refs/heads/main", before, after, what)
    sent = time.time()
    status = post_webhook(st.env["GITOPS_INTAKE_URL"], secret, body, delivery)
    if status != 200:
        raise RuntimeError(f"intake answered {status}")
    progress = {"at": 0.0, "count": 0}
    applied = Handled(logs, "apply", delivery, "apply")

    def all_applied() -> bool:
        count, progress["end"] = applied.poll()
        if time.monotonic() - progress["at"] > 15:
            print(f"[bench fleet] {what}: {count}/{n} applied after {time.time() - sent:.0f}s", flush=True)
            progress["at"] = time.monotonic()
        return count >= n

    _wait(f"{n} applies of {what}", all_applied)
    return {"sent": sent, "applied_end": progress["end"], "logs": logs}


def _measure(st: Any, n: int, replicas: int) -> dict[str, Any]:
    from shared.adapters import bus, kube, store
    from shared.core import health, topology
    from shared.core.messages import SweepRequest
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from stack.gitrepo import WorkRepo

    uid = uuid.uuid4().hex[:6]
    ns = f"fleet-{uid}"
    cluster = kube.cluster("in-cluster")
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, field_manager="bench")
    repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"bench/fleet-{uid}")
    print(
        f"[bench fleet] {n} applications, {4 * n} objects, {replicas} replica(s) each, one repository",
        flush=True,
    )
    first = _write_all(repo, n, 0, replicas)
    t0 = time.perf_counter()
    for i in range(n):
        store.put_app(
            AppSpec(
                name=f"fleet-{uid}-{i:04d}",
                repoURL=repo.url,
                path=f"apps/a{i:04d}",
                targetRevision="main",
                destination=Destination(namespace=ns),
                syncPolicy=SyncPolicy(automated=True, prune=True, selfHeal=True),
            )
        )
    register_s = time.perf_counter() - t0
    print(f"[bench fleet] registered {n} applications in {register_s:.1f}s", flush=True)

    created = _push(st, repo, "0" * 40, first, n, "first push")
    first_s = created["applied_end"] - created["sent"]
    print(f"[bench fleet] first sync of {n} apps: {first_s:.1f}s", flush=True)

    second = _write_all(repo, n, 1, replicas)
    changed = _push(st, repo, first, second, n, "changing push")

    def healthy() -> bool:
        deploys = cluster.list("apps/v1", "Deployment", ns)
        return len(deploys) >= n and all(health.of(d).status == "Healthy" for d in deploys)

    healthy_at = _wait("every Deployment Healthy", healthy, every=1.0)
    change_end = max(changed["applied_end"], healthy_at)
    change_s = change_end - changed["sent"]
    change_logs: funclogs.Logs = changed["logs"]
    print(
        f"[bench fleet] changing push, {n} apps synced and Healthy: {change_s:.1f}s "
        f"(applies done after {changed['applied_end'] - changed['sent']:.1f}s)",
        flush=True,
    )
    change_counts = change_logs.invocations()
    change_concurrency = {f: concurrency(change_logs, f) for f in ("render", "apply")}

    sweep_logs = funclogs.Logs(st.dir)
    sweep_logs.mark()
    operation = f"bench-sweep-{uid}"
    sent = time.time()
    bus.publish(topology.SWEEP, [SweepRequest(operation=operation)], order_by_app=False)
    ended = {"at": 0.0}
    # a sweep's audits travel in batches: one "audited" line per application
    audited = Handled(sweep_logs, "audit", f"{operation}:", "audits", "audited")

    def all_audited() -> bool:
        count, ended["at"] = audited.poll()
        return count >= n

    _wait(f"{n} audits", all_audited)
    sweep_s = ended["at"] - sent
    print(f"[bench fleet] sweep of {n} apps: {sweep_s:.1f}s", flush=True)
    sweep_counts = sweep_logs.invocations()
    apps_now = [a for a in store.list_apps() if a.name.startswith(f"fleet-{uid}-")]
    healthy_apps = sum(1 for a in apps_now if (a.status.get("health") or {}).get("status") == "Healthy")
    synced_apps = sum(1 for a in apps_now if (a.status.get("sync") or {}).get("commit") == second)
    return {
        "register_seconds": round(register_s, 1),
        "first_seconds": round(first_s, 1),
        "change_seconds": round(change_s, 1),
        "change_applied_seconds": round(changed["applied_end"] - changed["sent"], 1),
        "sweep_seconds": round(sweep_s, 1),
        "change": change_counts,
        "sweep": sweep_counts,
        "change_concurrency": change_concurrency,
        "sweep_concurrency": {"audit": concurrency(sweep_logs, "audit")},
        "max_concurrency": max(c["max"] for c in change_concurrency.values()),
        "sweep_kube_requests": sweep_counts["total"]["kube_requests"],
        "apps_synced_to_pushed_commit": synced_apps,
        "apps_healthy_after_sweep": healthy_apps,
        "load_average_1_5_15": os.getloadavg(),  # the machine is shared: how busy it was
        "workers": os.environ.get("GITOPS_FUNCTION_WORKERS", ""),
        "threads": os.environ.get("GITOPS_FUNCTION_THREADS", "8"),
    }
