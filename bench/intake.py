"""intake: signed push webhooks at 200 requests/s for 60 s against the served intake function.

A monorepo with 50 registered applications; each push touches one of them, so each should
produce exactly one render request. Render requests are counted at the other end (a pull
subscription on the render topic, with the render function's push subscription paused so
the load measures intake alone): lost, duplicated, and latency percentiles. Open loop:
requests are sent on schedule, whatever the answers' latency (asyncio, every request signed
before the clock starts), so a saturated function shows as queueing, not as a slower sender.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import statistics
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from bench import report
from bench.stack import running

RATE = int(os.environ.get("GITOPS_BENCH_INTAKE_RATE", "200"))
SECONDS = int(os.environ.get("GITOPS_BENCH_INTAKE_SECONDS", "60"))
# a second, lighter phase: what one instance sustains on this machine within the p99 target
SUSTAINED_RATE = int(os.environ.get("GITOPS_BENCH_INTAKE_SUSTAINED_RATE", "100"))
SUSTAINED_SECONDS = 30
WARMUP_SECONDS = 10
APPS = 50


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run() -> list[report.Record]:
    with running() as st:
        # a warm-up first, recorded apart: on a stack just started it meets the emulators' and
        # the function's first requests (the JVMs' JIT, connections), which would otherwise
        # land in whichever phase came first
        warmup = _load(st, SUSTAINED_RATE, WARMUP_SECONDS)
        full = _load(st, RATE, SECONDS)
        sustained = _load(st, SUSTAINED_RATE, SUSTAINED_SECONDS)
    records = [
        report.Record(
            "intake.p99_ms",
            full["p99_ms"],
            "ms",
            {
                **full,
                "note": (
                    "target < 100 ms; one instance of the function (2 worker processes) on 2 cores shared "
                    "with the emulators and the load generator; above its capacity, requests queue"
                ),
            },
        ),
        report.Record("intake.throughput_per_s", full["achieved_rate_per_s"], "requests/s", full),
        report.Record("intake.p50_ms", full["p50_ms"], "ms", full),
        report.Record(
            "intake.lost", sum(p["lost"] for p in (warmup, full, sustained)), "render requests", full
        ),
        report.Record(
            "intake.duplicated",
            sum(p["duplicated"] for p in (warmup, full, sustained)),
            "render requests",
            full,
        ),
        report.Record(f"intake.p99_ms_at_{SUSTAINED_RATE}_per_s", sustained["p99_ms"], "ms", sustained),
        report.Record(
            "intake.warmup_p99_ms",
            warmup["p99_ms"],
            "ms",
            {
                **warmup,
                "note": (
                    f"the first {WARMUP_SECONDS} s at {SUSTAINED_RATE}/s on the stack,"
                    " before the phases above"
                ),
            },
        ),
    ]
    return records


def _load(st: Any, rate: int, seconds: int) -> dict[str, Any]:
    """One open-loop phase at `rate` pushes/s; latencies and what reached the render topic."""
    from google.cloud import pubsub_v1

    from shared.adapters import store
    from shared.core import topology, webhook
    from shared.core.model import AppSpec, Destination

    total = rate * seconds
    print(f"[bench intake] {total} signed pushes at {rate}/s for {seconds}s, {APPS} apps", flush=True)
    project = st.env["GOOGLE_CLOUD_PROJECT"]
    secret = Path(st.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    run_id = uuid.uuid4().hex[:6]
    repo_url = f"{st.env['GITOPS_GIT_URL']}/bench/monorepo-{run_id}.git"
    for i in range(APPS):
        store.put_app(
            AppSpec(
                name=f"load-{run_id}-{i:02d}",
                repoURL=repo_url,
                path=f"apps/a{i:02d}",
                targetRevision="main",
                destination=Destination(namespace="default"),
            )
        )
    subscriber = pubsub_v1.SubscriberClient()
    render_sub = f"projects/{project}/subscriptions/{topology.RENDER}-push"
    counter_sub = f"projects/{project}/subscriptions/bench-intake-{run_id}"
    subscriber.create_subscription(name=counter_sub, topic=f"projects/{project}/topics/{topology.RENDER}")
    subscriber.modify_push_config(request={"subscription": render_sub, "push_config": {}})
    bodies = []
    for n in range(total):
        app = n % APPS
        sha = hashlib.sha1(f"{run_id}-{n}".encode()).hexdigest()
        bodies.append(
            webhook.push_payload(
                repo_url,
                "refs/heads/main",
                "1" * 40,
                sha,
                f"push {n}",
                changed={"added": [], "modified": [f"apps/a{app:02d}/deploy.yaml"], "removed": []},
            )
        )
    host = urllib.parse.urlparse(st.env["GITOPS_INTAKE_URL"])
    deliveries = [str(uuid.uuid4()) for _ in range(total)]
    # every request signed and encoded before the clock starts: the generator's own CPU
    # (on the same 2 cores as the function and the emulators) stays a small share
    wire = [
        _request(
            host.hostname or "127.0.0.1",
            body,
            {
                "Content-Type": "application/json",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": deliveries[n],
                "X-Hub-Signature-256": webhook.sign(secret, body),
            },
        )
        for n, body in enumerate(bodies)
    ]
    latencies, lags, statuses, elapsed = asyncio.run(
        _open_loop(host.hostname or "127.0.0.1", host.port or 80, wire, rate)
    )
    accepted = sum(1 for s in statuses if s == 200)
    print(f"[bench intake] sent {total} in {elapsed:.1f}s, {accepted} accepted; counting", flush=True)
    received: list[str] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 3:
        resp = subscriber.pull(request={"subscription": counter_sub, "max_messages": 1000}, timeout=10)
        if resp.received_messages:
            quiet_since = time.monotonic()
            subscriber.acknowledge(
                request={"subscription": counter_sub, "ack_ids": [m.ack_id for m in resp.received_messages]}
            )
            received += [json.loads(m.message.data)["operation"] for m in resp.received_messages]
    # put the render function's subscription back (fresh, without the load's backlog)
    subscriber.delete_subscription(subscription=counter_sub)
    subscriber.delete_subscription(subscription=render_sub)
    from shared.adapters import bus

    bus.ensure_topology({name: st.url(name) for name in ("intake", "render", "apply", "audit")})

    expected = {f"{deliveries[n]}:load-{run_id}-{n % APPS:02d}" for n in range(total) if statuses[n] == 200}
    unique = set(received)
    lost = len(expected - unique)
    duplicated = len(received) - len(unique)
    ms = [v * 1000 for v in latencies]
    detail = {
        "requests": total,
        "rate_per_s": rate,
        "seconds": seconds,
        "apps": APPS,
        "accepted": accepted,
        "non_200": total - accepted,
        "achieved_rate_per_s": round(total / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p90_ms": round(percentile(ms, 90), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.mean(ms), 1),
        "send_lag_p99_ms": round(percentile([x * 1000 for x in lags], 99), 1),
        "render_requests_received": len(received),
        "statuses": {str(c): statuses.count(c) for c in sorted(set(statuses))},
        "lost": lost,
        "duplicated": duplicated,
    }
    return detail


def _request(host: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n{head}\r\n").encode() + body


async def _open_loop(
    host: str, port: int, wire: list[bytes], rate: int
) -> tuple[list[float], list[float], list[int], float]:
    """Send wire[n] at start + n/rate on kept-alive connections, whatever the answers' latency."""
    total = len(wire)
    latencies, lags, statuses = [0.0] * total, [0.0] * total, [0] * total
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    loop = asyncio.get_running_loop()

    async def exchange(n: int) -> None:
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more, on a new one
            fresh = attempt == 2 or not idle
            reader, writer = await asyncio.open_connection(host, port) if fresh else idle.pop()
            try:
                writer.write(wire[n])
                status_line = await reader.readline()
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                await reader.readexactly(length)
                statuses[n] = int(status_line.split()[1])
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                writer.close()
                statuses[n] = -attempt
                continue
            if close:
                writer.close()
            else:
                idle.append((reader, writer))
            return

    async def one(n: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        lags[n] = max(0.0, loop.time() - due)
        t0 = time.perf_counter()
        await exchange(n)
        latencies[n] = time.perf_counter() - t0

    start = loop.time() + 0.5
    began = time.perf_counter() + 0.5
    await asyncio.gather(*(one(n, start + n / rate) for n in range(total)))
    for _, writer in idle:
        writer.close()
    return latencies, lags, statuses, time.perf_counter() - began
