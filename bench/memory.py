"""memory: peak RSS of each function while it handles a 1,000-object application.

On a fresh stack (workers keep their peak for life), each function's processes (the
functions-framework/gunicorn master and its workers) are read from /proc: VmHWM, the
peak resident set. First at idle (imports done, nothing handled), then after a push of a
1,000-object application (intake, render, first apply), a second push changing 10% of
it (render, apply), and its drift audit. The figure is the largest process of each
function; Cloud Run's memory limit applies to the whole instance, so the sum over its
processes is reported beside it.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import report, workload
from bench.e2e import post_webhook
from bench.stack import running

OBJECTS = int(os.environ.get("GITOPS_BENCH_MEMORY_OBJECTS", "1000"))
FUNCTIONS = ("intake", "render", "apply", "audit")


def manifests(version: int) -> dict[str, str]:
    """OBJECTS objects in files of 50: Deployments (0 replicas), Services, ConfigMaps and
    ServiceAccounts; ConfigMaps whose index is below version*OBJECTS/40 change with version."""
    objs: list[dict[str, Any]] = []
    for i in range(OBJECTS // 4 + 1):
        name = f"m-{i:04d}"
        changed = version and i < OBJECTS // 40
        objs += [
            workload.deployment(name, {"resources": workload.LIMITS}),
            workload.service(name),
            workload.configmap(name, version=str(version if changed else 0)),
            workload.service_account(name),
        ]
    objs = objs[:OBJECTS]
    return {
        f"app/part-{k // 50:03d}.yaml": yaml.safe_dump_all(objs[k : k + 50]) for k in range(0, len(objs), 50)
    }


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peaks(st: Any) -> dict[str, dict[str, Any]]:
    """Per function: VmHWM (MiB) of each of its processes, the largest and the sum."""
    out = {}
    for name in FUNCTIONS:
        master = st.proc(name).pid
        pids = [master, *_children(master)]
        hwm = {pid: round(_kib(pid, "VmHWM") / 1024, 1) for pid in pids}
        out[name] = {
            "processes": len(pids),
            "max_mib": max(hwm.values()),
            "sum_mib": round(sum(hwm.values()), 1),
            "rss_now_mib": round(sum(_kib(p, "VmRSS") for p in pids) / 1024, 1),
        }
    return out


def run() -> list[report.Record]:
    with running() as st:
        idle = peaks(st)
        loaded, timings = _load(st)
    records = []
    for name in FUNCTIONS:
        detail = {
            "objects": OBJECTS,
            "idle": idle[name],
            "loaded": loaded[name],
            "timings_s": timings,
            "load_average_1_5_15": os.getloadavg(),
            "baseline": f"idle {idle[name]['max_mib']:g} MiB",
            "note": (
                f"target <= 256 MiB; largest of {loaded[name]['processes']} processes "
                f"(all together {loaded[name]['sum_mib']:g} MiB); fresh stack"
            ),
        }
        records.append(report.Record(f"memory.peak_mib.{name}", loaded[name]["max_mib"], "MiB", detail))
    return records


def _load(st: Any) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    from shared.adapters import bus, store
    from shared.core import topology, webhook
    from shared.core.messages import AuditRequest
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from stack.gitrepo import WorkRepo

    uid = uuid.uuid4().hex[:6]
    ns, app = f"mem-{uid}", f"mem-{uid}"
    from shared.adapters import kube

    kube.cluster("in-cluster").apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, field_manager="bench"
    )
    repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"bench/memory-{uid}")
    store.put_app(
        AppSpec(
            name=app,
            repoURL=repo.url,
            path="app",
            targetRevision="main",
            destination=Destination(namespace=ns),
            syncPolicy=SyncPolicy(automated=True, prune=True),
        )
    )
    secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    print(f"[bench memory] a {OBJECTS}-object application: push, change 10%, audit", flush=True)
    timings: dict[str, float] = {}
    before = "0" * 40
    for version in (0, 1):
        after = repo.commit_and_push(f"version {version}", manifests(version))
        t0 = time.monotonic()
        status = post_webhook(
            st.env["GITOPS_INTAKE_URL"],
            secret,
            webhook.push_payload(repo.url, "refs/heads/main", before, after),
            str(uuid.uuid4()),
        )
        if status != 200:
            raise RuntimeError(f"intake answered {status}")
        _wait(
            lambda v=version: int(store.get_app(app).status.get("historyCount", 0)) >= v + 1,
            f"sync {version + 1}",
        )
        timings[f"push_{version}"] = round(time.monotonic() - t0, 1)
        before = after
    t0 = time.monotonic()
    bus.publish(topology.AUDIT, [AuditRequest(app=app, operation=f"bench-audit-{uid}")])
    _wait(lambda: store.get_app(app).status.get("lastAuditAt") is not None, "the audit")
    timings["audit"] = round(time.monotonic() - t0, 1)
    history = store.history(app)
    if any(h.get("phase") != "Succeeded" for h in history):
        raise RuntimeError(f"a sync failed: {[h.get('summary') for h in history]}")
    return peaks(st), timings


def _wait(done: Any, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
