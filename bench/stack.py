"""The local stack for benchmarks, and write requests counted from the API server's audit log."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

    def since_mark(self, user_agent_prefix: str, namespace: str) -> int:
        count = 0
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
                    count += 1
        return count
