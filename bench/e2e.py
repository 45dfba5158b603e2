"""e2e: signed push webhook -> objects applied and history written, a 20-object application.

30 pushes, one after the other, each changing one ConfigMap of the application. The time
of a push runs from sending its webhook to the end of the apply invocation that wrote its
history entry (the function's own `handled` log line: start time + duration, the same
clock). Stages, from the functions' structured logs:

    intake  the webhook's HTTP round trip (verify, dedupe, route, publish)
    queue   Pub/Sub: intake's answer -> render starts, plus render's end -> apply starts
    fetch   render: fetch the commit (dulwich) and read the app's folder
    render  render: parse, checks, store the revision, publish the apply request
    apply   apply: prepare and the server-side apply itself
    record  apply: lease, revision read, history entry + status, trim, commit status

The real alternative, side by side and alternating: `git pull` (dulwich, into a clone) and
`kubectl apply --server-side` of the same folder into a twin namespace.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import funclogs, report, workload
from bench.funclogs import percentile
from bench.stack import running

PUSHES = int(os.environ.get("GITOPS_BENCH_E2E_PUSHES", "30"))
STAGES = ("intake", "queue", "fetch", "render", "apply", "record")


def manifests(version: int) -> dict[str, str]:
    """20 objects in 4 files: 5 Deployments (0 replicas), 5 Services, 10 ConfigMaps; the
    first ConfigMap carries `version`."""
    deploys, services, configs = [], [], []
    for i in range(5):
        name = f"web-{i}"
        deploys.append(workload.deployment(name, {"resources": workload.LIMITS, "ports": workload.PORTS}))
        services.append(workload.service(name))
    for i in range(10):
        configs.append(workload.configmap(f"conf-{i}", version=str(version if i == 0 else 0)))
    return {
        "app/deployments.yaml": yaml.safe_dump_all(deploys),
        "app/services.yaml": yaml.safe_dump_all(services),
        "app/config-a.yaml": yaml.safe_dump_all(configs[:5]),
        "app/config-b.yaml": yaml.safe_dump_all(configs[5:]),
    }


def post_webhook(url: str, secret: bytes, body: bytes, delivery: str) -> int:
    """Send one signed push webhook; its HTTP status."""
    from shared.core import webhook

    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": webhook.sign(secret, body),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def run() -> list[report.Record]:
    with funclogs.log_level("INFO"), running() as st:
        ours, kubectl_s, stages, counts = _measure(st)
    p50, p90, p99 = (round(percentile(ours, p), 3) for p in (50, 90, 99))
    k50 = round(statistics.median(kubectl_s), 3)
    stage_medians = {s: round(statistics.median(v), 1) for s, v in stages.items()}
    detail: dict[str, Any] = {
        "pushes": len(ours),
        "objects": 20,
        "p50_s": p50,
        "p90_s": p90,
        "p99_s": p99,
        "min_s": round(min(ours), 3),
        "max_s": round(max(ours), 3),
        "stage_median_ms": stage_medians,
        "stage_p90_ms": {s: round(percentile(v, 90), 1) for s, v in stages.items()},
        "per_push_counts": counts,
        "load_average_1_5_15": os.getloadavg(),
        "baseline": f"git pull + kubectl apply --server-side: median {k50} s",
        "kubectl_median_s": k50,
        "kubectl_min_s": round(min(kubectl_s), 3),
        "kubectl_max_s": round(max(kubectl_s), 3),
        "note": "target p50 <= 1 s; stages (median ms): "
        + ", ".join(f"{s} {stage_medians[s]:g}" for s in STAGES),
    }
    return [
        report.Record("e2e.latency_p50_s", p50, "s", detail),
        report.Record("e2e.latency_p90_s", p90, "s", detail),
        report.Record("e2e.latency_p99_s", p99, "s", detail),
        report.Record(
            "e2e.speedup_vs_kubectl",
            round(k50 / p50, 2) if p50 else 0.0,
            "x",
            {
                **detail,
                "note": "median of (git pull + kubectl apply --server-side) / "
                "our median push-to-applied time; ours includes "
                "render, the gate and the history record",
            },
        ),
    ]


def _measure(st: Any) -> tuple[list[float], list[float], dict[str, list[float]], dict[str, Any]]:
    from dulwich import porcelain

    from shared.adapters import kube, store
    from shared.core import webhook
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from stack.gitrepo import WorkRepo

    uid = uuid.uuid4().hex[:6]
    ns, twin = f"e2e-{uid}", f"e2e-{uid}-kubectl"
    cluster = kube.cluster("in-cluster")
    for name in (ns, twin):
        cluster.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="bench"
        )
    repo = WorkRepo(st.env["GITOPS_GIT_ROOT"], st.env["GITOPS_GIT_URL"], f"bench/e2e-{uid}")
    app = f"e2e-{uid}"
    first = repo.commit_and_push("version 0", manifests(0))
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
    clone = tempfile.mkdtemp(prefix="bench-e2e-clone-")
    porcelain.clone(repo.url, clone, errstream=open(os.devnull, "wb"))  # noqa: SIM115
    secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()

    def history() -> int:
        return int(store.get_app(app).status.get("historyCount", 0))

    def push_and_wait(before: str, after: str, n: int) -> tuple[str, float, float]:
        delivery = str(uuid.uuid4())
        body = webhook.push_payload(repo.url, "refs/heads/main", before, after, f"version {n}")
        sent = time.time()
        status = post_webhook(st.env["GITOPS_INTAKE_URL"], secret, body, delivery)
        answered = time.time()
        if status != 200:
            raise RuntimeError(f"intake answered {status}")
        deadline = time.monotonic() + 60
        while history() < n + 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"push {n}: no history entry after 60 s (see {st.dir}/logs)")
            time.sleep(0.02)
        return f"{delivery}:{app}", sent, answered

    def kubectl_side() -> float:
        t0 = time.perf_counter()
        with open(os.devnull, "wb") as quiet:
            porcelain.pull(clone, repo.url, outstream=quiet, errstream=quiet)
        subprocess.run(
            [
                "kubectl",
                "apply",
                "--server-side",
                "--field-manager=bench-kubectl",
                "-n",
                twin,
                "-f",
                os.path.join(clone, "app"),
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0

    print(
        f"[bench e2e] {PUSHES} pushes of a 20-object application, alternating with "
        "git pull + kubectl apply --server-side",
        flush=True,
    )
    push_and_wait("0" * 40, first, 0)  # the first sync (creates everything): warm-up
    kubectl_side()
    logs = funclogs.Logs(st.dir)
    logs.mark()
    sent: dict[str, tuple[float, float]] = {}
    kubectl_s: list[float] = []
    before = first
    for n in range(1, PUSHES + 1):
        after = repo.commit_and_push(f"version {n}", manifests(n))
        op, t_sent, t_answered = push_and_wait(before, after, n)
        sent[op] = (t_sent, t_answered)
        before = after
        kubectl_s.append(kubectl_side())
    ours, stages = _stages(logs, sent)
    invocations = logs.invocations()
    counts = {
        f: {k: round(v / len(sent), 2) for k, v in c.items()} for f, c in invocations["per_function"].items()
    }
    for name in (ns, twin):
        cluster.delete("v1", "Namespace", "", name)
    return ours, kubectl_s, stages, counts


def _stages(
    logs: funclogs.Logs, sent: dict[str, tuple[float, float]]
) -> tuple[list[float], dict[str, list[float]]]:
    """Per push: total seconds and each stage's milliseconds, from the functions' logs."""
    render: dict[str, dict[str, Any]] = {}
    apply: dict[str, dict[str, Any]] = {}
    for line in logs.lines("render"):
        op = line.get("operation", "")
        if line.get("message") in ("handled", "rendered"):
            render.setdefault(op, {}).update(line)
            render[op][line["message"]] = True
    for line in logs.lines("apply"):
        op = line.get("operation", "")
        if line.get("message") == "handled":
            apply.setdefault(op, {}).update(started=line["started"], ms=line["ms"])
        elif "apply_ms" in line:
            apply.setdefault(op, {}).update(apply_ms=line["apply_ms"], record_ms=line["record_ms"])
    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for op, (t_sent, t_answered) in sent.items():
        r, a = render.get(op), apply.get(op)
        if not r or not a or "started" not in a or "fetch_ms" not in r:
            raise RuntimeError(f"no render/apply log lines for operation {op}")
        r_end = r["started"] + r["ms"] / 1000
        end = a["started"] + a["ms"] / 1000
        totals.append(end - t_sent)
        stages["intake"].append((t_answered - t_sent) * 1000)
        stages["queue"].append(((r["started"] - t_answered) + (a["started"] - r_end)) * 1000)
        stages["fetch"].append(r["fetch_ms"])
        stages["render"].append(r["ms"] - r["fetch_ms"])
        stages["apply"].append(a["apply_ms"])
        stages["record"].append(a["ms"] - a["apply_ms"])
    return totals, stages
