"""What a simulated container does: deterministic, chosen by image name or pod annotation.

A container behaves like a healthy one unless its image reference or the pod names a fault:

- `unpullable` (or an image whose registry host ends in `.invalid`): the container never
  starts: `ErrImagePull`, then `ImagePullBackOff`; the pod stays Pending.
- `crashloop` or `fail`: the container runs `run-seconds`, never Ready, and exits 1. Under
  `restartPolicy` Always or OnFailure it is restarted with back-off (`CrashLoopBackOff`,
  restart count kept); under Never the pod Fails (a failing Job).
- `unready`: Running, never Ready.

The word is looked for in the image reference, or given for every container of the pod by
the annotation `sim.gitops.dev/fault` (which also takes `none`, to ignore the image's word).
A word counts when it is a whole part of the reference split at `/ : @ . - _`
(`nginx:1.27-crashloop`, `registry.invalid/app:1`, `example/unready:2`).

Timing (seconds; pod annotations, else the defaults):

- `sim.gitops.dev/start-seconds` (0.2): Waiting (`ContainerCreating`) before Running.
- Ready follows Running after the readiness probe's `initialDelaySeconds` (at once without a
  probe).
- `sim.gitops.dev/run-seconds` (1): how long a container of a pod with `restartPolicy`
  Never or OnFailure (a Job's) runs before it exits 0 (the pod Succeeds), and how long a
  crashing container runs before it exits 1.
- `sim.gitops.dev/backoff-seconds` (10, the kubelet's): the first restart back-off, doubled
  each restart up to 300.
- `sim.gitops.dev/stop-seconds` (0): how long containers take to exit on SIGTERM when the pod
  is deleted; the pod is removed then, or when its grace period ends if that is sooner.

Init containers complete (exit 0) when the pod's containers start; the convention applies to
the pod's containers.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

PREFIX = "sim.gitops.dev/"
FAULT = PREFIX + "fault"
START_SECONDS = PREFIX + "start-seconds"
RUN_SECONDS = PREFIX + "run-seconds"
BACKOFF_SECONDS = PREFIX + "backoff-seconds"
STOP_SECONDS = PREFIX + "stop-seconds"

DEFAULTS = {START_SECONDS: 0.2, RUN_SECONDS: 1.0, BACKOFF_SECONDS: 10.0, STOP_SECONDS: 0.0}
BACKOFF_CAP_S = 300.0  # the kubelet's MaxContainerBackOff


class Fault(enum.Enum):
    NONE = "none"
    UNPULLABLE = "unpullable"
    CRASHLOOP = "crashloop"
    UNREADY = "unready"


WORDS = {
    "unpullable": Fault.UNPULLABLE,
    "crashloop": Fault.CRASHLOOP,
    "fail": Fault.CRASHLOOP,
    "unready": Fault.UNREADY,
}
_SEPARATORS = re.compile(r"[/:@._-]")


def image_fault(image: str) -> Fault:
    """The fault an image reference names, by a whole word or a `.invalid` registry host."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first) and first.split(":")[0].endswith(".invalid"):
        return Fault.UNPULLABLE
    for word in _SEPARATORS.split(image.lower()):
        if word in WORDS:
            return WORDS[word]
    return Fault.NONE


@dataclass(frozen=True)
class ContainerPlan:
    name: str
    image: str
    fault: Fault
    ready_delay_s: float  # after Running: the readiness probe's initialDelaySeconds, or 0


@dataclass(frozen=True)
class PodPlan:
    containers: tuple[ContainerPlan, ...]
    init_containers: tuple[ContainerPlan, ...]
    restart_policy: str  # Always, OnFailure, Never
    start_s: float
    run_s: float
    backoff_s: float
    stop_s: float

    def backoff(self, restart: int) -> float:
        """The wait before restart number `restart` + 1 (the kubelet doubles it up to a cap)."""
        return min(self.backoff_s * 2**restart, BACKOFF_CAP_S)


def _seconds(annotations: dict[str, str], key: str) -> float:
    try:
        value = float(annotations.get(key, DEFAULTS[key]))
    except ValueError:
        return DEFAULTS[key]
    return value if value >= 0 else DEFAULTS[key]


def _container(spec: dict[str, Any], pod_fault: Fault | None) -> ContainerPlan:
    image = str(spec.get("image") or "")
    probe = spec.get("readinessProbe") or {}
    return ContainerPlan(
        name=spec["name"],
        image=image,
        fault=pod_fault if pod_fault is not None else image_fault(image),
        ready_delay_s=float(probe.get("initialDelaySeconds") or 0),
    )


def plan(pod: dict[str, Any]) -> PodPlan:
    """How every container of this pod behaves, from its spec and annotations alone."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    fault_word = str(annotations.get(FAULT, "")).strip().lower()
    pod_fault = WORDS.get(fault_word) or (Fault.NONE if fault_word == "none" else None)
    spec = pod.get("spec") or {}
    return PodPlan(
        containers=tuple(_container(c, pod_fault) for c in spec.get("containers") or []),
        init_containers=tuple(_container(c, Fault.NONE) for c in spec.get("initContainers") or []),
        restart_policy=spec.get("restartPolicy") or "Always",
        start_s=_seconds(annotations, START_SECONDS),
        run_s=_seconds(annotations, RUN_SECONDS),
        backoff_s=_seconds(annotations, BACKOFF_SECONDS),
        stop_s=_seconds(annotations, STOP_SECONDS),
    )
