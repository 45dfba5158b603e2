"""`gitops sweep`: run the drift sweep now, and with --wait show each application's drift."""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from shared.adapters import bus, store
from shared.cli import output
from shared.cli.output import CliError
from shared.core import topology
from shared.core.messages import SweepRequest


def sweep(args: argparse.Namespace) -> int:
    started = store.now()
    op = f"sweep-{uuid.uuid4().hex[:12]}"
    bus.publish(topology.SWEEP, [SweepRequest(apps=tuple(args.apps), operation=op)])
    output.progress(f"sweep requested ({op})")
    if not args.wait:
        output.print_result(args, {"operation": op}, lambda: [[f"operation: {op}"]])
        return 0
    names = args.apps or [a.name for a in store.list_apps()]
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        apps = [store.get_app(n) for n in names]
        audited = [
            a
            for a in apps
            if (a.status.get("lastAuditAt") or started) > started
            or not (a.status.get("sync") or {}).get("revision")
        ]
        if len(audited) == len(apps):
            data: list[dict[str, Any]] = [
                {
                    "name": a.name,
                    "sync": (a.status.get("sync") or {}).get("status"),
                    "drift": a.status.get("drift"),
                }
                for a in apps
            ]
            rows = [["NAME", "SYNC", "DRIFT"]] + [
                [d["name"], d["sync"] or "", (d["drift"] or {}).get("summary", "none")] for d in data
            ]
            output.print_result(args, data, lambda: rows)  # noqa: B023 - printed at once
            return 0
        time.sleep(0.2)
    raise CliError(f"timed out after {args.timeout:.0f}s waiting for the sweep")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sw = sub.add_parser("sweep", help="run the drift sweep now")
    sw.add_argument("apps", nargs="*")
    sw.add_argument("--wait", action="store_true")
    sw.add_argument("--timeout", type=float, default=120)
    sw.set_defaults(func=sweep)
