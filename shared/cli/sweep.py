"""`gitops sweep`: run the drift sweep now, and with --wait show each application's drift."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from shared.cli import client, output
from shared.cli.output import CliError

APPS = "/api/v1/applications"


def sweep(args: argparse.Namespace) -> int:
    answer = client.post("/api/v1/sweep", {"apps": list(args.apps)})
    op, started = answer["operation"], dt.datetime.fromisoformat(answer["startedAt"])
    output.progress(f"sweep requested ({op})")
    if not args.wait:
        output.print_result(args, {"operation": op}, lambda: [[f"operation: {op}"]])
        return 0
    names = set(args.apps)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        apps = [a for a in client.get(APPS)["items"] if not names or a["name"] in names]
        audited = [
            a
            for a in apps
            if _after(a["status"].get("lastAuditAt"), started)
            or not (a["status"].get("sync") or {}).get("revision")
        ]
        if len(audited) == len(apps):
            data: list[dict[str, Any]] = [
                {
                    "name": a["name"],
                    "sync": (a["status"].get("sync") or {}).get("status"),
                    "drift": a["status"].get("drift"),
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


def _after(value: Any, started: dt.datetime) -> bool:
    return bool(value) and dt.datetime.fromisoformat(str(value)) > started


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sw = sub.add_parser("sweep", help="run the drift sweep now")
    sw.add_argument("apps", nargs="*")
    sw.add_argument("--wait", action="store_true")
    sw.add_argument("--timeout", type=float, default=120)
    sw.set_defaults(func=sweep)
