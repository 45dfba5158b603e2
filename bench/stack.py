"""The local stack for benchmarks, and write requests counted from the API server's audit log."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stack import local


@contextmanager
def running() -> Iterator[local.Stack]:
    """The stack named by GITOPS_BENCH_STACK_DIR if it is up, else a fresh one (stopped after)."""
    reuse = os.environ.get("GITOPS_BENCH_STACK_DIR")
    directory = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="bench-stack-"))
    st = local.up(directory)
    os.environ.update(st.env)
    _forget_clients()  # an earlier group's stack had other ports
    try:
        yield st
    finally:
        if not reuse:
            local.down(directory)


def _forget_clients() -> None:
    from shared.adapters import bus, kube, store

    for module in (store, bus, kube):
        module.forget_clients()


class WriteCounter:
    """Counts write requests (create/update/patch/delete, not dry-runs) per client since a mark."""

    def __init__(self, audit_log: str) -> None:
        self.path = audit_log
        self.offset = 0

    def mark(self) -> None:
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def spans_since_mark(self, user_agent_prefix: str, namespace: str) -> dict[str, tuple[str, str]]:
        """Per resource (configmaps, services...): the first and last time it was written since
        the mark (requestReceivedTimestamp, ISO strings that sort as times)."""
        spans: dict[str, tuple[str, str]] = {}
        for event in self._writes(user_agent_prefix, namespace):
            resource, at = event["objectRef"].get("resource", ""), event.get("requestReceivedTimestamp", "")
            first, last = spans.get(resource, (at, at))
            spans[resource] = (min(first, at), max(last, at))
        return spans

    def since_mark(self, user_agent_prefix: str, namespace: str) -> int:
        return sum(1 for _ in self._writes(user_agent_prefix, namespace))

    def _writes(self, user_agent_prefix: str, namespace: str) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if (
                    event.get("userAgent", "").startswith(user_agent_prefix)
                    and (event.get("objectRef") or {}).get("namespace") == namespace
                    and "dryRun" not in event.get("requestURI", "")
                ):
                    yield event
