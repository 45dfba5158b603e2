"""Waiting for what a command set off: the history entry of a sync or rollback, and health
(through the API, like every command)."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from shared.cli import client, output
from shared.cli.output import CliError
from shared.core.status import HealthState, HealthStatus, Phase


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _at(value: Any) -> dt.datetime | None:
    """A time the API answered (ISO 8601), or None."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _app(name: str) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/applications/{client.quote(name)}").get("status") or {})


def for_history(name: str, after: int, timeout: float, since: dt.datetime) -> dict[str, Any]:
    """The application's first history entry past AFTER, with progress; a render error raises."""
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        st = _app(name)
        if int(st.get("historyCount", 0)) > after:
            return dict(
                client.get(f"/api/v1/applications/{client.quote(name)}/history/{int(st['historyCount'])}")
            )
        render = st.get("render") or {}
        at = _at(render.get("at"))
        if render.get("errors") and at and at > since:
            raise CliError(render.get("message") or "render failed")
        if at and at > since and seen != render.get("revision"):
            seen = render.get("revision") or ""
            output.progress(f"rendered {str(render.get('commit', ''))[:7]} as {seen}; applying")
        time.sleep(0.2)
    raise CliError(
        f"timed out after {timeout:.0f}s waiting for {name!r} to sync (hint: gitops app get {name})"
    )


def print_or_wait(
    args: argparse.Namespace, name: str, before: int, data: dict[str, Any], since: dt.datetime
) -> int:
    """Print what was requested; with --wait, wait for its history entry (and --health) instead."""
    if not args.wait:
        output.print_result(args, data, lambda: [[f"{k}: {v}"] for k, v in data.items()])
        return 0
    entry = for_history(name, before, args.timeout, since)
    output.progress(entry["summary"])
    if entry.get("phase") == Phase.SUCCEEDED and getattr(args, "health", False):
        entry["health"] = healthy(name, args.timeout)
    output.print_result(
        args, entry, lambda: [[entry["summary"]], [f"health: {entry['health'].get('status')}"]]
    )
    succeeded = entry.get("phase") == Phase.SUCCEEDED
    return 0 if succeeded and entry["health"].get("status") != HealthStatus.DEGRADED else 1


def healthy(name: str, timeout: float) -> HealthState:
    """Ask the audit function to look again every few seconds until Healthy or Degraded."""
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        client.get(f"/api/v1/applications/{client.quote(name)}", refresh="normal")
        time.sleep(2)
        health: HealthState = _app(name).get("health") or HealthState()
        if health.get("status") != last:
            last = health.get("status", "")
            output.progress(f"health: {last} {health.get('message', '')}".rstrip())
        if last in (HealthStatus.HEALTHY, HealthStatus.DEGRADED):
            return health
    raise CliError(f"timed out after {timeout:.0f}s waiting for {name!r} to be Healthy (last: {last})")
