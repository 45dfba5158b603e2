"""cost: the monthly bill modelled from counted operations and list prices.

Counts come from the last fleet run (bench/results/counts.json: per application, the
invocations, their duration, Firestore documents read/written/deleted and Pub/Sub messages
of one push and of one sweep), or, without one, from DEFAULT_COUNTS below. Prices come from
bench/prices.json (with the date they were taken and their pages). `python -m bench cost`
needs no stack.

The model, per month of 30 days, for N applications:
- the sweep every `sweep_minutes` (Cloud Scheduler -> one sweep invocation -> N audits),
- `pushes_per_day` pushes, each changing `apps_per_push` applications (intake + render +
  apply each),
- invocations billed as Cloud Run request time rounded up to 100 ms, at the vCPU and memory
  of a `memory_mib` function; local durations are multiplied by `slowdown` (the local
  functions run on a full core, a 512 MiB function gets a third of one; much of each
  invocation waits on I/O, so the CPU-bound share, not all of it, slows down),
- Firestore storage of `storage_kib_per_app` (history and revisions up to the limit),
- Pub/Sub throughput published and delivered, at least 1,000 bytes per message,
- free tiers (Cloud Run's monthly, Firestore's daily, Pub/Sub's 10 GiB, 3 Scheduler jobs)
  applied when `free_tier` (the default; a billing account's other use shares them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report

PRICES = Path(__file__).resolve().parent / "prices.json"
COUNTS = report.RESULTS / "counts.json"
COMMITTED_COUNTS = Path(__file__).resolve().parent / "results" / "counts.json"
DAYS = 30
KINDS = ("invocations", "ms", "fs_reads", "fs_writes", "fs_deletes", "published", "published_bytes")

# Per application, from `python -m bench fleet --apps 100` on 2026-11-27 (2-core machine, load
# average not recorded, a quieter moment than the 1,000-app run). Durations measured on a busier
# machine inflate the compute part of the bill.
DEFAULT_COUNTS: dict[str, Any] = {
    "apps": 100,
    "measured_at": "2026-11-27 (built-in default)",
    "push_per_app": {
        "intake": {
            "invocations": 0.01,
            "ms": 0.0,
            "fs_reads": 0.01,
            "fs_writes": 0.01,
            "fs_deletes": 0.0,
            "published": 1.0,
            "published_bytes": 1000.0,
        },
        "render": {
            "invocations": 1.0,
            "ms": 90.5,
            "fs_reads": 1.0,
            "fs_writes": 2.0,
            "fs_deletes": 0.0,
            "published": 1.0,
            "published_bytes": 1000.0,
        },
        "apply": {
            "invocations": 1.0,
            "ms": 293.1,
            "fs_reads": 6.0,
            "fs_writes": 3.0,
            "fs_deletes": 0.0,
            "published": 1.0,
            "published_bytes": 1000.0,
        },
    },
    "sweep_per_app": {
        "audit": {
            "invocations": 1.01,
            "ms": 78.9,
            "fs_reads": 3.0,
            "fs_writes": 1.0,
            "fs_deletes": 0.0,
            "published": 1.0,
            "published_bytes": 1000.0,
        },
    },
}
INTAKE_MS = 50.0  # intake's duration is not in its log line; its HTTP answer takes ~40 ms


@dataclass(frozen=True)
class Model:
    sweep_minutes: float = 5
    pushes_per_day: float = 20
    apps_per_push: float = 1
    memory_mib: int = 512
    slowdown: float = 2.0
    storage_kib_per_app: float = 512
    free_tier: bool = True


def load_counts() -> dict[str, Any]:
    for path in (COUNTS, COMMITTED_COUNTS):
        if path.exists():
            fleet = json.loads(path.read_text()).get("fleet")
            if fleet:
                return {**fleet, "source": str(path)}
    return {**DEFAULT_COUNTS, "source": "built-in defaults"}


def load_prices() -> dict[str, Any]:
    return json.loads(PRICES.read_text())


def _billed_seconds(per_invocation_ms: float, model: Model, granularity_ms: float) -> float:
    ms = per_invocation_ms * model.slowdown
    return max(1, math.ceil(ms / granularity_ms)) * granularity_ms / 1000


def usage(
    apps: int, counts: dict[str, Any], model: Model, prices: dict[str, Any], idle: bool = False
) -> dict[str, float]:
    """Monthly operations: invocations, vCPU-s, GiB-s, Firestore documents, Pub/Sub bytes."""
    run = prices["cloud_run_functions"]
    vcpu = run["vcpu_by_memory_mib"][str(model.memory_mib)]
    gib = model.memory_mib / 1024
    n = counts["apps"]
    sweeps = DAYS * 24 * 60 / model.sweep_minutes
    pushes = 0.0 if idle else DAYS * model.pushes_per_day
    # what each function does per month: (invocation-scaled counts per app) x occurrences
    phases: list[tuple[dict[str, Any], float]] = []
    for function, c in counts["sweep_per_app"].items():
        phases.append(({function: c}, sweeps * apps))
    for function, c in counts["push_per_app"].items():
        if function == "intake":  # one intake invocation per push; a message per app it touches
            scaled = {k: v * (model.apps_per_push if k.startswith("published") else n) for k, v in c.items()}
            phases.append(({function: scaled}, pushes))
        else:
            phases.append(({function: c}, pushes * model.apps_per_push))
    out = dict.fromkeys(
        ("invocations", "vcpu_seconds", "gib_seconds", "fs_reads", "fs_writes", "fs_deletes", "pubsub_bytes"),
        0.0,
    )
    for per, times in phases:
        for function, c in per.items():
            invocations = c.get("invocations", 0) * times
            if not invocations:
                continue
            ms = (c.get("ms", 0) / c["invocations"]) if c.get("invocations") else 0
            if function == "intake" and not ms:
                ms = INTAKE_MS
            seconds = _billed_seconds(ms, model, run["billing_granularity_ms"])
            out["invocations"] += invocations
            out["vcpu_seconds"] += invocations * seconds * vcpu
            out["gib_seconds"] += invocations * seconds * gib
            out["fs_reads"] += c.get("fs_reads", 0) * times
            out["fs_writes"] += c.get("fs_writes", 0) * times
            out["fs_deletes"] += c.get("fs_deletes", 0) * times
            # published once, delivered once (the notifications topic has no subscriber: x2 is an upper bound)
            out["pubsub_bytes"] += 2 * c.get("published_bytes", 0) * times
    out["storage_gib"] = apps * model.storage_kib_per_app / 1024 / 1024
    return {k: round(v, 1) for k, v in out.items()}


def cost(use: dict[str, float], model: Model, prices: dict[str, Any]) -> dict[str, float]:
    """Monthly USD per service, and the total."""
    free = model.free_tier
    run, fs = prices["cloud_run_functions"], prices["firestore"]
    ps, sch = prices["pubsub"], prices["scheduler"]
    rfree = run["free_per_month"]

    def beyond(value: float, allowance: float) -> float:
        return max(0.0, value - (allowance if free else 0.0))

    functions = (
        beyond(use["vcpu_seconds"], rfree["vcpu_seconds"]) * run["usd_per_vcpu_second"]
        + beyond(use["gib_seconds"], rfree["gib_seconds"]) * run["usd_per_gib_second"]
        + beyond(use["invocations"], rfree["requests"]) / 1e6 * run["usd_per_million_requests"]
    )
    daily = fs["free_per_day"]
    firestore = beyond(use["storage_gib"], fs["free_gib"]) * fs["usd_per_gib_month"]
    for kind in ("reads", "writes", "deletes"):  # the free quota is daily
        firestore += beyond(use[f"fs_{kind}"] / DAYS, daily[kind]) * DAYS / 1e5 * fs[f"usd_per_100k_{kind}"]
    pubsub = beyond(use["pubsub_bytes"] / 2**30, ps["free_gib_per_month"]) / 1024 * ps["usd_per_tib"]
    scheduler = beyond(1, sch["free_jobs"]) * sch["usd_per_job_month"]
    parts = {"functions": functions, "firestore": firestore, "pubsub": pubsub, "scheduler": scheduler}
    return {**{k: round(v, 2) for k, v in parts.items()}, "total": round(sum(parts.values()), 2)}


def table(model: Model | None = None, sizes: tuple[int, ...] = (10, 100, 1000)) -> list[dict[str, Any]]:
    model = model or Model()
    counts, prices = load_counts(), load_prices()
    rows = []
    for apps in sizes:
        for idle in (False, True):
            use = usage(apps, counts, model, prices, idle=idle)
            rows.append(
                {
                    "apps": apps,
                    "idle": idle,
                    "usage": use,
                    "usd": cost(use, model, prices),
                    "usd_without_free_tier": cost(
                        use, Model(**{**model.__dict__, "free_tier": False}), prices
                    ),
                }
            )
    return rows


def run() -> list[report.Record]:
    model = Model()
    counts, prices = load_counts(), load_prices()
    records = []
    for row in table(model):
        apps, usd = row["apps"], row["usd"]
        metric = f"cost.usd_month.{apps}apps" + (".idle" if row["idle"] else "")
        what = (
            "idle: no pushes, the 5-minute sweep still running"
            if row["idle"]
            else f"{model.pushes_per_day:g} pushes/day, sweep every {model.sweep_minutes:g} min"
        )
        records.append(
            report.Record(
                metric,
                usd["total"],
                "USD/month",
                {
                    "apps": apps,
                    "usage_per_month": row["usage"],
                    "usd": usd,
                    "usd_without_free_tier": row["usd_without_free_tier"],
                    "model": model.__dict__,
                    "counts_from": counts["source"],
                    "counts_measured_at": counts.get("measured_at", ""),
                    "counts_apps": counts["apps"],
                    "prices_taken": prices["taken"],
                    "counts_load_average": counts.get("load_average_1_5_15"),
                    "baseline": f"without free tiers ${row['usd_without_free_tier']['total']:g}",
                    "note": what + (" (target < $5 at 100 apps)" if apps == 100 and not row["idle"] else ""),
                },
            )
        )
    return records
