"""The simulated kubelet's convention and pod lifecycle, as pure functions of spec and time.

- which image names and annotations pick which fault;
- a healthy container: Waiting -> Running -> Ready after the readiness probe's delay;
- a Job's pod: Succeeded after its run; a failing one Failed;
- crash loops: back-off doubling, restart counts and the last run kept;
- an unpullable image: ErrImagePull, then ImagePullBackOff, the pod Pending;
- the status body: timestamps from the bind time, transition times kept while unchanged.
"""

import datetime as dt

import pytest

from shared.core import health
from stack.simnodes import convention, lifecycle
from stack.simnodes.convention import Fault

ORIGIN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def pod(image="nginx:1.27", policy="Always", probe_delay=None, **annotations):
    container = {"name": "web", "image": image}
    if probe_delay is not None:
        container["readinessProbe"] = {"initialDelaySeconds": probe_delay, "tcpSocket": {"port": 80}}
    return {
        "metadata": {
            "annotations": {convention.PREFIX + k.replace("_", "-"): str(v) for k, v in annotations.items()}
        },
        "spec": {"restartPolicy": policy, "containers": [container]},
    }


@pytest.mark.parametrize(
    ("image", "fault"),
    [
        ("nginx:1.27", Fault.NONE),
        ("nginx:1.27-crashloop", Fault.CRASHLOOP),
        ("busybox:fail", Fault.CRASHLOOP),
        ("example/unready:2", Fault.UNREADY),
        ("ghcr.io/acme/unpullable:1", Fault.UNPULLABLE),
        ("registry.invalid/app:1", Fault.UNPULLABLE),
        ("registry.invalid:5000/app", Fault.UNPULLABLE),
        ("invalid/app:1", Fault.NONE),  # a Docker Hub user, not a host
        ("failover/proxy:1", Fault.NONE),  # whole words only
        ("nginx:crashlooping", Fault.NONE),
    ],
)
def test_image_names_pick_the_fault(image, fault):
    assert convention.image_fault(image) is fault


def test_the_annotation_wins_over_the_image_and_sets_the_timing():
    plan = convention.plan(pod("nginx:crashloop", fault="none", run_seconds=3, start_seconds=0))
    assert plan.containers[0].fault is Fault.NONE and (plan.run_s, plan.start_s) == (3.0, 0.0)
    assert convention.plan(pod(fault="unready")).containers[0].fault is Fault.UNREADY
    assert convention.plan(pod(run_seconds="soon")).run_s == convention.DEFAULTS[convention.RUN_SECONDS]


def states(spec, times):
    plan = convention.plan(spec)
    return [lifecycle.snapshot(plan, t) for t in times]


def test_a_healthy_container_waits_runs_and_is_ready_after_the_probe_delay():
    creating, running, ready = states(pod(probe_delay=5), [0.1, 1.0, 5.2])
    assert creating.phase == "Pending" and creating.containers[0].waiting == ("ContainerCreating", "")
    assert creating.next_change == pytest.approx(0.2)
    assert running.phase == "Running" and not running.ready and running.next_change == pytest.approx(5.2)
    assert ready.ready and ready.next_change is None
    (at_once,) = states(pod(), [0.2])
    assert at_once.ready


def test_a_job_pod_succeeds_after_its_run_and_a_failing_one_fails():
    running, done = states(pod(policy="Never", run_seconds=2), [1.0, 2.2])
    assert running.phase == "Running" and running.next_change == pytest.approx(2.2)
    assert done.phase == "Succeeded" and done.final and done.next_change is None
    (failed,) = states(pod("busybox:fail", policy="Never"), [1.5])
    assert failed.phase == "Failed" and failed.containers[0].terminated.exit_code == 1


def test_a_crash_loop_backs_off_doubling_and_keeps_its_restart_count():
    spec = pod("app:crashloop", run_seconds=1, backoff_seconds=2)
    # runs [0.2, 1.2), backs off 2 s, runs [3.2, 4.2), backs off 4 s, runs [8.2, 9.2) ...
    first, backoff, second, backoff2, third = states(spec, [0.5, 2.0, 3.5, 6.0, 8.5])
    assert first.containers[0].running and first.containers[0].restarts == 0 and not first.ready
    assert backoff.containers[0].waiting[0] == "CrashLoopBackOff"
    assert backoff.containers[0].restarts == 0 and backoff.containers[0].last.exit_code == 1
    assert backoff.next_change == pytest.approx(3.2)
    assert second.containers[0].restarts == 1 and second.containers[0].last.end == pytest.approx(1.2)
    assert backoff2.next_change == pytest.approx(8.2)
    assert third.containers[0].restarts == 2 and third.phase == "Running"
    late = states(spec, [10_000.0])[0]
    assert late.containers[0].restarts > 30  # capped at 300 s, still counted


def test_an_unpullable_image_errs_then_backs_off_and_the_pod_stays_pending():
    err, backoff = states(pod("registry.invalid/app:1"), [0.5, 2.0])
    assert err.containers[0].waiting[0] == "ErrImagePull" and err.phase == "Pending"
    assert backoff.containers[0].waiting == (
        "ImagePullBackOff",
        'Back-off pulling image "registry.invalid/app:1"',
    )
    assert backoff.next_change is None and backoff.phase == "Pending"


def body(spec, t, previous=None, now=ORIGIN):
    plan = convention.plan(spec)
    return lifecycle.status_body(
        lifecycle.snapshot(plan, t),
        origin=ORIGIN,
        now=now,
        seed="uid-1",
        previous=previous,
        host_ip="10.240.0.1",
        pod_ip="10.244.0.2",
    )


def test_the_status_body_is_what_health_and_controllers_read():
    later = ORIGIN + dt.timedelta(seconds=9)
    running = body(pod(probe_delay=5), 1.0)
    ready = body(pod(probe_delay=5), 6.0, previous=running["conditions"], now=later)
    again = body(pod(probe_delay=5), 7.0, previous=ready["conditions"], now=later + dt.timedelta(seconds=5))
    assert again == ready  # nothing changed: nothing to write
    conditions = {c["type"]: c for c in ready["conditions"]}
    assert (
        conditions["Ready"]["status"] == "True"
        and conditions["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:09Z"
    )
    assert conditions["Initialized"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"  # kept
    (status,) = ready["containerStatuses"]
    assert status["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    assert status["containerID"].startswith("containerd://") and status["started"]
    full = {"kind": "Pod", "metadata": {}, "spec": {"restartPolicy": "Always"}}
    assert health.of({**full, "status": running}).status == "Progressing"
    assert health.of({**full, "status": ready}).status == "Healthy"
    crashing = body(pod("app:crashloop"), 5.0)
    assert health.of({**full, "status": crashing}).status == "Degraded"
    assert crashing["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


def test_a_shard_thread_stops_and_joins_cleanly():
    from stack.simnodes import pods

    shard = pods.Shard(0, None, {})  # no pod arrives: no API call is made
    shard.start()
    shard.stop()
    shard.join(5)  # Thread's own _stop and _delete must still be Thread's
    assert not shard.is_alive()
