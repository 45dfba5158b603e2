"""What the served functions wrote: their JSON log lines, and the invocation counts in them.

Each CloudEvent invocation ends with one `handled` line (shared/steps/events.py: start time,
duration, Firestore documents read/written, messages published); intake's `push handled`
line carries the same counts. The benchmarks read them from the stack's log files,
from an offset taken before the measured phase.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.platform import metering

FUNCTIONS = ("intake", "render", "apply", "audit")


def path(stack_dir: Path, function: str) -> Path:
    return stack_dir / "logs" / f"{function}.log"


class Logs:
    """The functions' log lines written since `mark()`."""

    def __init__(self, stack_dir: Path) -> None:
        self.dir = stack_dir
        self.offsets: dict[str, int] = {}

    def mark(self) -> None:
        self.offsets = {
            f: (os.path.getsize(path(self.dir, f)) if path(self.dir, f).exists() else 0) for f in FUNCTIONS
        }

    def lines(self, function: str) -> Iterator[dict[str, Any]]:
        with open(path(self.dir, function), "rb") as f:
            f.seek(self.offsets.get(function, 0))
            for raw in f:
                if raw.startswith(b"{"):
                    try:
                        yield json.loads(raw)
                    except ValueError:
                        continue

    def process_delta(self, function: str, field: str) -> int:
        """How much a per-process running total grew since the mark, over all processes."""
        before: dict[int, int] = {}
        after: dict[int, int] = {}
        offset = self.offsets.get(function, 0)
        with open(path(self.dir, function), "rb") as f:
            position = 0
            for raw in f:
                position += len(raw)
                if not raw.startswith(b"{") or b'"handled"' not in raw:
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if field not in line:
                    continue
                side = before if position <= offset else after
                side[line["pid"]] = max(side.get(line["pid"], 0), int(line[field]))
        return sum(v - before.get(pid, 0) for pid, v in after.items())

    def invocations(self) -> dict[str, Any]:
        """Per function: invocations and the operations they counted, and their total."""
        per: dict[str, dict[str, float]] = {}
        for function in FUNCTIONS:
            totals = dict.fromkeys(("invocations", "ms", *metering.KINDS), 0.0)
            for line in self.lines(function):
                if line.get("message") not in ("handled", "push handled"):
                    continue
                totals["invocations"] += 1
                totals["ms"] += float(line.get("ms", 0))
                for kind in metering.KINDS:
                    totals[kind] += int(line.get(kind, 0))
            totals["kube_requests"] = self.process_delta(function, "kube_requests_total")
            per[function] = {k: round(v, 1) for k, v in totals.items()}
        total = {k: round(sum(p[k] for p in per.values()), 1) for k in next(iter(per.values()))}
        return {"per_function": per, "total": total}


@contextmanager
def log_level(level: str) -> Iterator[None]:
    """The log level functions started inside the block get (bench/__main__ quietens them)."""
    old = os.environ.get("GITOPS_LOG_LEVEL")
    os.environ["GITOPS_LOG_LEVEL"] = level
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("GITOPS_LOG_LEVEL", None)
        else:
            os.environ["GITOPS_LOG_LEVEL"] = old


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
