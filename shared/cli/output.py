"""What the commands print: `-o table|wide|json|yaml`, statuses in colour, progress on stderr, and
CliError, the one-line error `main` prints before exiting 1."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

import yaml

from shared.core.status import HealthStatus, Phase, SyncStatus
from shared.platform import config


class CliError(Exception):
    """An error for the operator: one line, with a hint where there is one."""


def who() -> str:
    """The operator as recorded in an operation's triggeredBy: cli:USER."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def print_result(args: argparse.Namespace, data: Any, table: Callable[[], list[list[str]]]) -> None:
    """DATA as JSON or YAML, or the rows TABLE builds as aligned columns (-o table or wide)."""
    if args.output == "json":
        print(json.dumps(data, default=_json_default, indent=2, sort_keys=True))
        return
    if args.output == "yaml":
        print(yaml.safe_dump(json.loads(json.dumps(data, default=_json_default)), sort_keys=True), end="")
        return
    rows = table()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(_colour(c.ljust(w)) for c, w in zip(row, widths, strict=True)).rstrip())


COLOURS: dict[str, int] = {
    SyncStatus.SYNCED: 32,
    HealthStatus.HEALTHY: 32,
    Phase.SUCCEEDED: 32,
    SyncStatus.OUT_OF_SYNC: 33,
    HealthStatus.PROGRESSING: 33,
    HealthStatus.DEGRADED: 31,
    Phase.FAILED: 31,
    HealthStatus.MISSING: 31,
}


def _colour(cell: str) -> str:
    """Statuses in colour, only on a terminal (and never with NO_COLOR)."""
    code = COLOURS.get(cell.strip())
    if code is None or not sys.stdout.isatty() or config.no_color():
        return cell
    return f"\033[{code}m{cell}\033[0m"


def format_time(value: Any) -> str:
    """A time as the tables show it; the API answers ISO 8601 text."""
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else str(value or "")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
