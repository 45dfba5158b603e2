"""ui: the web UI's application list with 1,000 applications, on the local stack.

1,000 applications are registered (their statuses varied: synced, out of sync, degraded,
drifted, pinned) straight into the Firestore emulator, then the list page is asked for:
- through the real API function (HTTP on 127.0.0.1, a token of the stack's OIDC issuer, the
  policy in force): the server's time as a browser sees it, token check and RBAC included;
- in-process, split in its two parts: reading the applications from Firestore, and building
  the view and rendering the page (what the UI's own code costs).
Medians and p99 of REPEAT requests after WARMUP, the page's size beside them.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
import urllib.request
from typing import Any

from bench import report
from bench.stack import running

APPS = int(os.environ.get("GITOPS_BENCH_UI_APPS", "1000"))
REPEAT = int(os.environ.get("GITOPS_BENCH_UI_REPEAT", "30"))
WARMUP = 3


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _fleet(prefix: str) -> None:
    """APPS applications with statuses of every kind, written in batches."""
    from shared.adapters import store
    from shared.core.model import AppSpec, Destination

    specs = [
        AppSpec(
            name=f"{prefix}-{i:04d}",
            repoURL=f"http://127.0.0.1:1/git/bench/ui-{i % 20}.git",
            path=f"apps/{i:04d}",
            destination=Destination(namespace=f"team-{i % 7}"),
            project=("default", "shop", "payments", "infra")[i % 4],
        )
        for i in range(APPS)
    ]
    store.put_apps(specs, create=True)
    now = dt.datetime.now(dt.UTC)
    batch, pending = store.client().batch(), 0
    for i, spec in enumerate(specs):
        status: dict[str, Any] = {
            "sync": {
                "status": "OutOfSync" if i % 10 == 3 else "Synced",
                "commit": f"{i:040x}",
                "revision": f"r{i}",
                "target": {"commit": f"{i + (i % 10 == 3):040x}"},
                "syncedAt": now - dt.timedelta(minutes=i),
            },
            "health": {"status": ("Healthy", "Progressing", "Degraded")[(i % 13) % 3], "message": ""},
            "historyCount": 1 + i % 5,
        }
        if i % 17 == 0:
            status["drift"] = {"objects": 2, "summary": "Deployment.apps/x/web modified", "ids": []}
        if i % 29 == 0:
            status["pin"] = {"commit": f"{i:040x}", "revision": f"r{i}", "by": "x", "reason": "", "at": now}
        batch.update(store.app_ref(spec.name), {"status": status})
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = store.client().batch(), 0
    if pending:
        batch.commit()


def _timed(call: Any) -> tuple[list[float], Any]:
    times, out = [], None
    for i in range(WARMUP + REPEAT):
        start = time.perf_counter()
        out = call()
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return times, out


def _stats(times: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(percentile(times, 99), 1),
        **report.summary(times),
    }


def run() -> list[report.Record]:
    from shared.adapters import store
    from shared.api import server
    from shared.api.viewer import Viewer
    from shared.core import rbac
    from shared.ui import routes
    from stack import oidc

    # no sweep of the 1,000 applications (their repositories do not exist) while measuring
    os.environ.setdefault("GITOPS_SWEEP_INTERVAL", "off")
    with running() as st:
        _fleet(f"ui{int(time.time()) % 100000}")
        total = len(store.list_apps())
        token = oidc.mint(st, oidc.ADMIN, ttl_s=3600)
        url = st.env["GITOPS_API_URL"] + "/applications"

        def over_http() -> int:
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                return len(resp.read())

        http_times, size = _timed(over_http)
        policy = server.policy_in_force()
        subject = rbac.subject(policy, oidc.ADMIN, ())
        viewer = Viewer(oidc.ADMIN, (), lambda r, a, o: rbac.allowed(policy, subject, r, a, o))
        read_times, apps = _timed(store.list_apps)
        now = dt.datetime.now(dt.UTC)

        def render() -> int:
            view = routes.views.app_list(apps, routes.views.Filters(), viewer.can, now)
            return len(
                routes.render("list.html", app="", tab="", viewer=viewer, title="Applications", view=view)
            )

        render_times, _ = _timed(render)
    detail = {"applications": total, "page_bytes": size, "repeat": REPEAT, "warmup": WARMUP}
    http, read, build = _stats(http_times), _stats(read_times), _stats(render_times)
    note = "GET /applications through the API function: token check, policy, Firestore read, render"
    return [
        report.Record("ui.list_page_p50_ms", http["p50_ms"], "ms", {**detail, **http, "note": note}),
        report.Record("ui.list_page_p99_ms", http["p99_ms"], "ms", {**detail, **http, "note": note}),
        report.Record(
            "ui.list_read_p50_ms",
            read["p50_ms"],
            "ms",
            {**detail, **read, "note": "store.list_apps() in-process (Firestore emulator)"},
        ),
        report.Record(
            "ui.list_render_p50_ms",
            build["p50_ms"],
            "ms",
            {**detail, **build, "note": "view (RBAC per application) + Jinja2 render, in-process"},
        ),
    ]
