"""cluster: the local stack's own figures: how fast it starts, and how many pods per second the
real scheduler and the simulated nodes' agent (stack/simnodes) bring to Ready.

    up      `stack.local up` on a fresh folder, twice (down in between): seconds until every
            component serves and the simulated nodes are Ready (target < 15 s)
    ready   a Deployment of N replicas created at once; a watch notes when each pod appeared,
            was bound and became Ready. Pods Ready per second = N / (last Ready - the create),
            the end-to-end figure (the ReplicaSet controller creating, the scheduler binding,
            the agent writing Waiting, Running, Ready); and the agent's own lag, bound -> Ready.
            Then the Deployment is deleted and the time until every pod is gone is noted.

Nothing else does this locally to compare with side by side (there is no kubelet here; KWOK's
published figures are from other machines), so the figures stand alone with their detail.
Size: GITOPS_BENCH_PODS (default 300; the default nodes take 3 x 110 pods).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench import report, workload
from bench.stack import running
from stack import local

REPEATS = 3


def pods() -> int:
    return int(os.environ.get("GITOPS_BENCH_PODS", "300"))


def _up_seconds() -> float:
    directory = Path(tempfile.mkdtemp(prefix="bench-up-"))
    t0 = time.perf_counter()
    local.up(directory)
    seconds = time.perf_counter() - t0
    local.down(directory)
    return seconds


class PodClock:
    """Watches one namespace's pods and notes, per pod, when it appeared, was bound, was Ready."""

    def __init__(self, namespace: str) -> None:
        from kubernetes import client, watch

        from stack.simnodes import api

        self.core = client.CoreV1Api(api.api_client(os.environ["KUBECONFIG"]))
        self.namespace = namespace
        self.seen: dict[str, float] = {}
        self.bound: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = threading.Event()

    def __enter__(self) -> PodClock:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._watch.stop()

    def _run(self) -> None:
        try:
            self._watch_pods()
        except Exception:  # the stack going down under the watch ends it
            return

    def _watch_pods(self) -> None:
        version = self.core.list_namespaced_pod(self.namespace).metadata.resource_version
        self._started.set()
        for event in self._watch.stream(
            self.core.list_namespaced_pod, self.namespace, resource_version=version, deserialize=False
        ):
            now = time.perf_counter()
            pod = event["object"]
            name = pod["metadata"]["name"]
            self.seen.setdefault(name, now)
            if pod["spec"].get("nodeName"):
                self.bound.setdefault(name, now)
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (pod.get("status") or {}).get("conditions") or []
            ):
                self.ready.setdefault(name, now)
            if event["type"] == "DELETED":
                self.gone[name] = now


def _wait(what: str, done: Any, timeout: float = 300) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    obj = workload.deployment(name, {"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}})
    obj["spec"]["replicas"] = replicas
    return obj


def _one_round(cluster: Any, namespace: str, n: int, i: int) -> dict[str, Any]:
    name = f"ready-{i}"
    obj = _deployment(name, n)
    obj["metadata"]["namespace"] = namespace
    with PodClock(namespace) as clock:
        t0 = time.perf_counter()
        cluster.apply(obj, field_manager="bench")
        _wait(f"{n} pods Ready", lambda: len(clock.ready) >= n)
        all_ready = max(clock.ready.values())
        t1 = time.perf_counter()
        cluster.delete("apps/v1", "Deployment", namespace, name)
        _wait(f"{n} pods gone", lambda: len(clock.gone) >= n)
        deleted = max(clock.gone.values()) - t1
    lags = sorted(clock.ready[p] - clock.bound[p] for p in clock.ready if p in clock.bound)
    return {
        "seconds": all_ready - t0,
        "all_created_s": max(clock.seen.values()) - t0,
        "all_bound_s": max(clock.bound.values()) - t0,
        "agent_lag_p50_s": statistics.median(lags),
        "agent_lag_p99_s": lags[int(0.99 * (len(lags) - 1))],
        "deleted_s": deleted,
    }


def run() -> list[report.Record]:
    from shared.adapters import kube

    ups = [_up_seconds() for _ in range(2)]
    n = pods()
    with running() as st:
        cluster = kube.cluster()
        namespace = f"pods-{uuid.uuid4().hex[:6]}"
        cluster.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, field_manager="bench"
        )
        time.sleep(2)  # the namespace's default ServiceAccount
        rounds = [_one_round(cluster, namespace, n, i) for i in range(REPEATS)]
        load = os.getloadavg()
    rates = [n / r["seconds"] for r in rounds]
    best = statistics.median(rates)
    per_round = [{k: round(v, 2) for k, v in r.items()} for r in rounds]
    detail = {
        "pods": n,
        "repeats": REPEATS,
        "rounds": per_round,
        "pods_ready_per_s": report.summary(rates),
        "nodes": "3 simulated (16 cpu, 64Gi, 110 pods each)",
        "agent_shards": 4,
        "load_average_1_5_15": load,
        "stack_dir": str(st.dir),
    }
    return [
        report.Record(
            "cluster.pods_ready_per_s",
            round(best, 1),
            "pods/s",
            {
                **detail,
                "note": f"a Deployment of {n} replicas created at once until every pod is Ready "
                "(ReplicaSet controller, kube-scheduler and the node agent), median of "
                f"{REPEATS}; no local alternative to compare with",
            },
        ),
        report.Record(
            "cluster.agent_lag_p99_s",
            round(statistics.median(r["agent_lag_p99_s"] for r in rounds), 2),
            "s",
            {
                **detail,
                "note": "per pod, bound by the scheduler -> Ready written by the agent "
                "(p99 of each round, median of rounds)",
            },
        ),
        report.Record(
            "cluster.pods_deleted_per_s",
            round(statistics.median(n / r["deleted_s"] for r in rounds), 1),
            "pods/s",
            {
                **detail,
                "note": "the Deployment deleted until every pod is gone (garbage "
                "collector, graceful deletion, the agent's final delete)",
            },
        ),
        report.Record(
            "cluster.stack_up_seconds",
            round(statistics.median(ups), 1),
            "s",
            {
                "runs": [round(u, 1) for u in ups],
                "target": "< 15 s",
                "note": "`stack.local up` on a fresh folder until every component serves and the "
                "simulated nodes are Ready",
            },
        ),
    ]
