"""A simulated pod's status as a pure function of its plan and the seconds since it was bound.

`snapshot(plan, t)` says what the kubelet would report `t` seconds after the pod reached its
node, and when that next changes; `status_body` turns a snapshot into the pod's `status`
(timestamps from the bind time, condition transition times kept from the previous status).
The agent only decides when to look: the same plan and time always give the same status.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from stack.simnodes.convention import ContainerPlan, Fault, PodPlan

PULL_ERROR_S = 1.0  # ErrImagePull is shown this long before ImagePullBackOff


@dataclass(frozen=True)
class Run:
    """One run of a container: from `start` (seconds after the bind) to `end` with `exit_code`."""

    start: float
    end: float | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class ContainerAt:
    plan: ContainerPlan
    waiting: tuple[str, str] | None = None  # (reason, message)
    running: Run | None = None
    terminated: Run | None = None  # the current state, when the container has exited
    last: Run | None = None  # the previous run, after a restart or during a back-off
    restarts: int = 0
    ready: bool = False
    final: bool = False  # exited and will not be restarted
    next_change: float | None = None

    @property
    def started(self) -> bool:
        return self.running is not None or self.terminated is not None or self.last is not None


@dataclass(frozen=True)
class Snapshot:
    phase: str
    initialized: bool
    containers: tuple[ContainerAt, ...]
    init_containers: tuple[ContainerAt, ...] = field(default_factory=tuple)
    next_change: float | None = None

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.ready for c in self.containers)

    @property
    def final(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _crashing(c: ContainerPlan, plan: PodPlan, t: float) -> ContainerAt:
    start, restarts, last = plan.start_s, 0, None
    while True:
        end = start + plan.run_s
        if t < end:
            return ContainerAt(c, running=Run(start), last=last, restarts=restarts, next_change=end)
        run = Run(start, end, 1)
        if plan.restart_policy == "Never":
            return ContainerAt(c, terminated=run, restarts=restarts, final=True)
        backoff = plan.backoff(restarts)
        if t < end + backoff:
            message = f"back-off {backoff:g}s restarting failed container={c.name}"
            return ContainerAt(
                c,
                waiting=("CrashLoopBackOff", message),
                last=run,
                restarts=restarts,
                next_change=end + backoff,
            )
        start, restarts, last = end + backoff, restarts + 1, run


def container_at(c: ContainerPlan, plan: PodPlan, t: float) -> ContainerAt:
    """The state of one container `t` seconds after its pod was bound."""
    start = plan.start_s
    if t < start:
        return ContainerAt(c, waiting=("ContainerCreating", ""), next_change=start)
    if c.fault is Fault.UNPULLABLE:
        if t < start + PULL_ERROR_S:
            return ContainerAt(
                c,
                waiting=("ErrImagePull", f'failed to pull image "{c.image}": not found (simulated)'),
                next_change=start + PULL_ERROR_S,
            )
        return ContainerAt(c, waiting=("ImagePullBackOff", f'Back-off pulling image "{c.image}"'))
    if c.fault is Fault.CRASHLOOP:
        return _crashing(c, plan, t)
    ready_at = start + c.ready_delay_s if c.fault is Fault.NONE else None
    end = start + plan.run_s if plan.restart_policy != "Always" else None
    if end is not None and t >= end:
        return ContainerAt(c, terminated=Run(start, end, 0), final=True)
    ready = ready_at is not None and t >= ready_at
    changes = [x for x in (ready_at, end) if x is not None and x > t]
    return ContainerAt(c, running=Run(start), ready=ready, next_change=min(changes, default=None))


def _phase(containers: tuple[ContainerAt, ...]) -> str:
    if containers and all(c.final for c in containers):
        return (
            "Succeeded" if all(c.terminated and c.terminated.exit_code == 0 for c in containers) else "Failed"
        )
    if any(not c.started for c in containers):
        return "Pending"
    return "Running"


def snapshot(plan: PodPlan, t: float) -> Snapshot:
    """What the kubelet reports `t` seconds after the pod was bound, and when it next changes."""
    containers = tuple(container_at(c, plan, t) for c in plan.containers)
    initialized = t >= plan.start_s or not plan.init_containers
    inits = tuple(
        ContainerAt(c, terminated=Run(plan.start_s, plan.start_s, 0), final=True)
        if initialized
        else ContainerAt(c, waiting=("PodInitializing", ""))
        for c in plan.init_containers
    )
    phase = _phase(containers)
    changes = [c.next_change for c in containers if c.next_change is not None]
    return Snapshot(
        phase,
        initialized,
        containers,
        inits,
        None if phase in ("Succeeded", "Failed") else min(changes, default=None),
    )


# ---- the status body ----------------------------------------------------------------


def timestamp(origin: dt.datetime, offset: float = 0.0) -> str:
    return (origin + dt.timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _state(run: Run, origin: dt.datetime, seed: str, name: str, restarts: int) -> dict[str, Any]:
    if run.end is None:
        return {"running": {"startedAt": timestamp(origin, run.start)}}
    reason = "Completed" if run.exit_code == 0 else "Error"
    return {
        "terminated": {
            "exitCode": run.exit_code,
            "reason": reason,
            "startedAt": timestamp(origin, run.start),
            "finishedAt": timestamp(origin, run.end),
            "containerID": f"containerd://{_digest(seed, name, str(restarts))}",
        }
    }


def container_status(c: ContainerAt, origin: dt.datetime, seed: str) -> dict[str, Any]:
    """The containerStatuses entry of one container; `seed` (the pod's uid) names its runs."""
    name, restarts = c.plan.name, c.restarts
    if c.waiting:
        state: dict[str, Any] = {
            "waiting": {"reason": c.waiting[0], **({"message": c.waiting[1]} if c.waiting[1] else {})}
        }
    else:
        run = c.running or c.terminated
        assert run is not None
        state = _state(run, origin, seed, name, restarts)
    status: dict[str, Any] = {
        "name": name,
        "image": c.plan.image,
        "imageID": "",
        "ready": c.ready,
        "restartCount": restarts,
        "started": c.running is not None,
        "state": state,
        "lastState": _state(c.last, origin, seed, name, restarts - (0 if c.waiting else 1)) if c.last else {},
    }
    if c.started:
        status["imageID"] = f"sim://{c.plan.image}@sha256:{_digest(c.plan.image)}"
        status["containerID"] = f"containerd://{_digest(seed, name, str(restarts))}"
    return status


def _conditions(snap: Snapshot) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message), as the kubelet sets them."""
    unready = [c.plan.name for c in snap.containers if not c.ready]
    if snap.final:
        ready = ("False", "PodCompleted", "")
    elif snap.ready:
        ready = ("True", "", "")
    else:
        ready = ("False", "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
    return {
        "Initialized": ("True", "PodCompleted" if snap.final else "", "")
        if snap.initialized
        else ("False", "ContainersNotInitialized", "containers with incomplete status"),
        "Ready": ready,
        "ContainersReady": ready,
    }


def status_body(
    snap: Snapshot,
    *,
    origin: dt.datetime,
    now: dt.datetime,
    seed: str,
    previous: list[dict[str, Any]] | None,
    host_ip: str,
    pod_ip: str,
) -> dict[str, Any]:
    """The pod's `status` for a status-subresource patch; conditions keep their transition
    time from `previous` (the pod's current conditions) while their status is unchanged."""
    before = {c.get("type"): c for c in previous or []}
    conditions = []
    for kind, (status, reason, message) in _conditions(snap).items():
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        conditions.append(
            {
                "type": kind,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": since or timestamp(now),
                **({"reason": reason} if reason else {}),
                **({"message": message} if message else {}),
            }
        )
    body: dict[str, Any] = {
        "phase": snap.phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": timestamp(origin),
        "containerStatuses": [container_status(c, origin, seed) for c in snap.containers],
    }
    if snap.init_containers:
        body["initContainerStatuses"] = [container_status(c, origin, seed) for c in snap.init_containers]
    return body
