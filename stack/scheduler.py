"""The local stack's Cloud Scheduler: publishes exactly the message infra/scheduler.tf's job
publishes, to the same topic, on the same cron, so continuous reconciliation runs locally as
deployed, with nobody calling `gitops sweep`.

    python -m stack.scheduler       # started by `python -m stack.local up`

The job is read from infra/ (scheduler.tf's payload; sweep_schedule and sweep_time_zone's
defaults in variables.tf), not restated. GITOPS_SWEEP_INTERVAL=SECONDS replaces the cron with a
fixed interval (tests); GITOPS_SWEEP_INTERVAL=off starts no scheduler at all.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cronsim import CronSim

INFRA = Path(__file__).resolve().parent.parent / "infra"


@dataclass(frozen=True)
class Job:
    """The Terraform job, as Cloud Scheduler runs it."""

    schedule: str  # unix-cron, Cloud Scheduler's format
    time_zone: str
    topic: str
    data: bytes  # the message body, byte for byte


def job(infra: Path = INFRA) -> Job:
    from shared.core import topology

    tf = (infra / "scheduler.tf").read_text()
    variables = (infra / "variables.tf").read_text()
    # the job's fields must be the variables read below; a change in scheduler.tf fails here
    for field, value in (
        ("schedule", "var.sweep_schedule"),
        ("time_zone", "var.sweep_time_zone"),
        ("topic_name", "google_pubsub_topic.topics[var.sweep_topic].id"),
    ):
        if not re.search(rf"\b{field}\s*=\s*{re.escape(value)}\s*$", tf, re.M):
            raise ValueError(f"infra/scheduler.tf: expected {field} = {value}")
    payload = re.search(r"data\s*=\s*base64encode\(jsonencode\((\{[^)]*\})\)\)", tf)
    if not payload:
        raise ValueError("infra/scheduler.tf: expected data = base64encode(jsonencode({...}))")
    body = json.loads(re.sub(r"(\w+)\s*=", r'"\1":', payload.group(1)))
    return Job(
        schedule=_default(variables, "sweep_schedule"),
        time_zone=_default(variables, "sweep_time_zone"),
        topic=topology.SWEEP,  # var.sweep_topic, generated from the topology
        # Terraform's jsonencode: keys sorted, no spaces
        data=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
    )


def _default(variables_tf: str, name: str) -> str:
    match = re.search(rf'variable "{name}" \{{[^}}]*?default\s*=\s*"([^"]*)"', variables_tf, re.S)
    if not match:
        raise ValueError(f"infra/variables.tf: no default for {name}")
    return match.group(1)


def fire_times(j: Job, interval: float | None, start: datetime) -> Iterator[datetime]:
    """When the job runs from `start` on: the cron in its time zone, or every `interval` seconds."""
    if interval:
        t = start.timestamp()
        while True:
            t += interval
            yield datetime.fromtimestamp(t, start.tzinfo)
    else:
        yield from CronSim(j.schedule, start.astimezone(ZoneInfo(j.time_zone)))


def run(
    j: Job,
    interval: float | None,
    publish: Callable[[str, bytes], str],
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    runs: int | None = None,
) -> None:
    """Publish the job's message at each fire time (`runs` of them, or forever)."""
    start = datetime.fromtimestamp(clock()).astimezone()
    for n, at in enumerate(fire_times(j, interval, start)):
        if runs is not None and n >= runs:
            return
        sleep(max(0.0, at.timestamp() - clock()))
        try:
            message_id = publish(j.topic, j.data)
            print(
                f"[scheduler] {at.isoformat()} published {j.data.decode()} to {j.topic} ({message_id})",
                flush=True,
            )
        except Exception as exc:  # Cloud Scheduler retries on the next run; so does this
            print(f"[scheduler] {at.isoformat()} publish failed: {exc!r}", flush=True)


def interval_from_env() -> float | None:
    """GITOPS_SWEEP_INTERVAL in seconds, or None for the cron ('off' is handled by stack.local)."""
    value = os.environ.get("GITOPS_SWEEP_INTERVAL", "").strip()
    return float(value) if value and value != "off" else None


def main() -> int:
    from shared.adapters import bus

    j = job()
    interval = interval_from_env()
    every = f"every {interval:g}s" if interval else f"on {j.schedule!r} ({j.time_zone})"
    print(f"[scheduler] publishing {j.data.decode()} to {j.topic} {every}", flush=True)
    run(j, interval, bus.publish_raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
