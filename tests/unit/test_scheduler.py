"""The local Cloud Scheduler (stack/scheduler.py) runs infra/scheduler.tf's job: the same
message byte for byte, the same topic, the same cron in the same time zone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from shared.core import messages, topology
from stack import scheduler
from tests.unit.terraform import INFRA, TFVARS, blocks


def test_the_job_is_read_from_infra():
    job = scheduler.job()
    variables = {n: b for n, _, b in blocks("variable")}
    assert job.schedule == variables["sweep_schedule"]["default"].strip('"') == "*/5 * * * *"
    assert job.time_zone == variables["sweep_time_zone"]["default"].strip('"')
    assert job.topic == TFVARS["sweep_topic"] == topology.SWEEP
    # what Terraform's jsonencode writes: keys sorted, no whitespace
    assert job.data == b'{"apps":[],"kind":"sweep","operation":"","schema":1}'
    assert messages.decode(job.data, messages.SweepRequest) == messages.SweepRequest()


def test_a_changed_job_is_noticed(tmp_path):
    for name in ("scheduler.tf", "variables.tf"):
        (tmp_path / name).write_text((INFRA / name).read_text())
    tf = tmp_path / "scheduler.tf"
    tf.write_text(tf.read_text().replace("apps = []", 'apps = ["a"]'))
    assert json.loads(scheduler.job(tmp_path).data)["apps"] == ["a"]
    tf.write_text(re.sub(r"schedule\s*=\s*var.sweep_schedule", 'schedule = "0 * * * *"', tf.read_text()))
    with pytest.raises(ValueError, match=re.escape("schedule = var.sweep_schedule")):
        scheduler.job(tmp_path)


def test_cron_fire_times_in_the_jobs_time_zone():
    job = scheduler.Job("*/5 * * * *", "Etc/UTC", topology.SWEEP, b"{}")
    start = datetime(2026, 11, 30, 10, 3, 20, tzinfo=UTC)
    times = scheduler.fire_times(job, None, start)
    assert [next(times).strftime("%H:%M:%S") for _ in range(3)] == ["10:05:00", "10:10:00", "10:15:00"]
    berlin = scheduler.Job("0 9 * * *", "Europe/Berlin", topology.SWEEP, b"{}")
    assert next(scheduler.fire_times(berlin, None, start)).astimezone(UTC).hour == 8  # 09:00 CET


def test_an_interval_replaces_the_cron_and_each_run_publishes_the_message():
    job = scheduler.job()
    now = [1_000.0]
    published = []

    def sleep(seconds):
        now[0] += seconds

    scheduler.run(
        job,
        2.5,
        lambda topic, data: published.append((now[0], topic, data)) or "id",
        clock=lambda: now[0],
        sleep=sleep,
        runs=3,
    )
    assert published == [
        (1_002.5, job.topic, job.data),
        (1_005.0, job.topic, job.data),
        (1_007.5, job.topic, job.data),
    ]


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GITOPS_SWEEP_INTERVAL", "3")
    assert scheduler.interval_from_env() == 3.0
    monkeypatch.setenv("GITOPS_SWEEP_INTERVAL", "off")
    assert scheduler.interval_from_env() is None
    monkeypatch.delenv("GITOPS_SWEEP_INTERVAL")
    assert scheduler.interval_from_env() is None
