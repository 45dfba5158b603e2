"""api: the API's latency with 1,000 applications registered (list, get, sync; p50/p99).

Every request is what the CLI sends: a new HTTP connection, an ID token of the stack's issuer
(the admin's), verified by the function (keys cached), the policy read, the call audited.
The render function's push subscription is paused while syncs are asked for, so the figure
is the API's answer (the render request published), not the renders it sets off.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from typing import Any

from bench import report
from bench.intake import percentile
from bench.stack import running

APPS = 1000
LISTS, GETS, SYNCS = 30, 200, 200
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _timed(url: str, token: str, method: str = "GET", body: Any = None) -> tuple[float, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        answer = json.loads(resp.read())
    return (time.perf_counter() - t0) * 1000, answer


def _figures(name: str, ms: list[float], extra: dict[str, Any]) -> list[report.Record]:
    detail = {**report.summary(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), **extra}
    return [
        report.Record(f"api.{name}_p50_ms", round(percentile(ms, 50), 1), "ms", detail),
        report.Record(f"api.{name}_p99_ms", round(percentile(ms, 99), 1), "ms", detail),
    ]


def run() -> list[report.Record]:
    from google.cloud import pubsub_v1

    from shared.adapters import bus
    from shared.core import topology
    from stack import local, oidc

    with running() as st:
        base = st.env["GITOPS_API_URL"] + "/api/v1/applications"
        token = oidc.mint(st, oidc.ADMIN, ttl_s=3600)
        t0 = time.perf_counter()
        for start in range(0, APPS, 500):
            items = [
                {
                    "name": f"bench-api-{i:04d}",
                    "spec": {
                        "repoURL": "http://127.0.0.1:1/bench/api.git",
                        "path": f"apps/{i:04d}",
                        "targetRevision": "main",
                        "destination": {"cluster": "in-cluster", "namespace": f"bench-{i:04d}"},
                    },
                }
                for i in range(start, min(APPS, start + 500))
            ]
            _timed(base, token, "POST", {"items": items, "upsert": True})
        register_s = time.perf_counter() - t0
        names = [f"bench-api-{i:04d}" for i in range(APPS)]
        rng = random.Random(22)
        _timed(base, token)  # warm: the function's first request, the issuer's keys
        lists = [_timed(base, token)[0] for _ in range(LISTS)]
        listed = len(_timed(base, token)[1]["items"])
        gets = [_timed(f"{base}/{rng.choice(names)}", token)[0] for _ in range(GETS)]
        subscriber = pubsub_v1.SubscriberClient()
        render_sub = f"projects/{local.PROJECT}/subscriptions/{topology.RENDER}-push"
        subscriber.modify_push_config(request={"subscription": render_sub, "push_config": {}})
        try:
            syncs = [
                _timed(f"{base}/{rng.choice(names)}/sync", token, "POST", {"revision": COMMIT})[0]
                for _ in range(SYNCS)
            ]
        finally:  # the render subscription back, fresh, without the syncs' backlog
            subscriber.delete_subscription(subscription=render_sub)
            bus.ensure_topology({name: st.url(name) for name in local.FUNCTION_NAMES})
    common = {"applications": APPS, "listed": listed, "connection": "new per request, as the CLI"}
    return [
        *_figures("list", lists, {**common, "requests": LISTS}),
        *_figures("get", gets, {**common, "requests": GETS}),
        *_figures("sync", syncs, {**common, "requests": SYNCS, "note": "answer only: renders paused"}),
        report.Record("api.register_1000_seconds", round(register_s, 2), "s", {**common, "requests": 2}),
    ]
