"""The kubelet's part for pods bound to the simulated nodes, through the API alone.

One watch on pods bound to any node feeds a few shards (a pod always goes to the same one, so
its writes stay in order); each shard keeps its pods' plans and a timer heap, and at each
moment a pod's status changes (see `lifecycle`) patches the pod's `status` subresource, only
when the status differs from what it wrote last. A pod given a deletionTimestamp is deleted
with grace 0 (preconditioned on its uid) once its containers have stopped: after its
`stop-seconds`, or when its grace period ends if that is sooner, as the kubelet does.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as kclient
from kubernetes import watch
from kubernetes.client.rest import ApiException

from shared.platform import logs
from stack.simnodes import api, convention, lifecycle

BOUND = "spec.nodeName!="  # field selector: pods the scheduler has bound to some node
WATCH_TIMEOUT_S = 240
RETRY_S = 1.0

_ips = itertools.count(1)


def next_pod_ip() -> str:
    n = next(_ips)
    return f"10.244.{(n // 254) % 256}.{n % 254 + 1}"


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


@dataclass
class Tracked:
    namespace: str
    name: str
    uid: str
    host_ip: str
    plan: convention.PodPlan
    origin: dt.datetime  # when the pod reached its node (status.startTime)
    t0: float  # the same moment on the monotonic clock
    pod_ip: str
    written: dict[str, Any] | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    delete_at: float | None = None
    final: bool = False
    due: float = 0.0


def track(pod: dict[str, Any], host_ip: str, now: float) -> Tracked:
    """A newly seen bound pod; one the agent handled before it restarted keeps its start time."""
    meta, status = pod["metadata"], pod.get("status") or {}
    wall = dt.datetime.now(dt.UTC)
    origin = _parse_time(status["startTime"]) if status.get("startTime") else wall
    return Tracked(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        host_ip=host_ip,
        plan=convention.plan(pod),
        origin=origin,
        t0=now - (wall - origin).total_seconds(),
        pod_ip=status.get("podIP") or next_pod_ip(),
        conditions=list(status.get("conditions") or []),
    )


class Shard(threading.Thread):
    """The pods whose uid hashes here: their events in, their status writes out, in order.
    (Its own names keep clear of Thread's internals `_stop` and `_delete`.)"""

    def __init__(self, index: int, core: kclient.CoreV1Api, host_ips: dict[str, str]) -> None:
        super().__init__(name=f"pods-{index}", daemon=True)
        self.core, self.host_ips = core, host_ips
        self.pods: dict[str, Tracked] = {}
        self._events: deque[tuple[str, dict[str, Any]]] = deque()
        self._heap: list[tuple[float, str]] = []
        self._wake = threading.Condition()
        self._stopping = False

    # -- from the watch thread ------------------------------------------------------

    def offer(self, kind: str, pod: dict[str, Any]) -> None:
        with self._wake:
            self._events.append((kind, pod))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()

    # -- the shard's own thread -----------------------------------------------------

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._events and not self._due():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopping:
                    return
                events = list(self._events)
                self._events.clear()
            for kind, pod in events:
                self._handle(kind, pod)
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                due, uid = heapq.heappop(self._heap)
                tracked = self.pods.get(uid)
                if tracked is not None and tracked.due == due:
                    self._act(tracked)

    def _due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()

    def _schedule(self, tracked: Tracked, at: float) -> None:
        tracked.due = at
        heapq.heappush(self._heap, (at, tracked.uid))

    def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        host_ip = self.host_ips.get((pod.get("spec") or {}).get("nodeName", ""))
        if kind == "DELETED" or host_ip is None:
            self.pods.pop(uid, None)
            return
        tracked = self.pods.get(uid)
        now = time.monotonic()
        if tracked is None:
            tracked = self.pods[uid] = track(pod, host_ip, now)
            self._schedule(tracked, now)
        if meta.get("deletionTimestamp") and tracked.delete_at is None:
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            tracked.delete_at = now + min(tracked.plan.stop_s, grace)
            self._schedule(tracked, tracked.delete_at)

    def _act(self, tracked: Tracked) -> None:
        try:
            if tracked.delete_at is not None:
                if time.monotonic() >= tracked.delete_at:
                    self._delete_pod(tracked)
                else:
                    self._schedule(tracked, tracked.delete_at)
                return
            if not tracked.final:
                self._write_status(tracked)
        except ApiException as exc:
            if exc.status == 404:  # gone already
                self.pods.pop(tracked.uid, None)
                return
            logs.warning(
                "pod update failed; retrying",
                pod=f"{tracked.namespace}/{tracked.name}",
                status=exc.status,
                error=str(exc.reason)[:200],
            )
            self._schedule(tracked, time.monotonic() + RETRY_S)
        except Exception as exc:  # the API server restarting
            logs.warning(
                "pod update failed; retrying", pod=f"{tracked.namespace}/{tracked.name}", error=str(exc)[:200]
            )
            self._schedule(tracked, time.monotonic() + RETRY_S)

    def _write_status(self, tracked: Tracked) -> None:
        snap = lifecycle.snapshot(tracked.plan, time.monotonic() - tracked.t0)
        body = lifecycle.status_body(
            snap,
            origin=tracked.origin,
            now=dt.datetime.now(dt.UTC),
            seed=tracked.uid,
            previous=tracked.conditions,
            host_ip=tracked.host_ip,
            pod_ip=tracked.pod_ip,
        )
        if body != tracked.written:
            api.body(
                self.core.patch_namespaced_pod_status(
                    tracked.name,
                    tracked.namespace,
                    {"status": body},
                    _content_type=api.STRATEGIC,
                    _preload_content=False,
                )
            )
            tracked.written, tracked.conditions = body, body["conditions"]
        tracked.final = snap.final
        if snap.next_change is not None:
            self._schedule(tracked, tracked.t0 + snap.next_change)

    def _delete_pod(self, tracked: Tracked) -> None:
        try:
            api.body(
                self.core.delete_namespaced_pod(
                    tracked.name,
                    tracked.namespace,
                    body={"gracePeriodSeconds": 0, "preconditions": {"uid": tracked.uid}},
                    _preload_content=False,
                )
            )
        except ApiException as exc:
            if exc.status not in (404, 409):  # 409: a new pod of the same name (a StatefulSet's)
                raise
        self.pods.pop(tracked.uid, None)


class PodWatch:
    """Lists the bound pods, then watches them, and hands every event to its pod's shard."""

    def __init__(self, core: kclient.CoreV1Api, shards: list[Shard]) -> None:
        self.core, self.shards = core, shards
        self._stop = threading.Event()

    def _shard(self, uid: str) -> Shard:
        return self.shards[zlib.crc32(uid.encode()) % len(self.shards)]

    def _dispatch(self, kind: str, pod: dict[str, Any]) -> None:
        self._shard(pod["metadata"]["uid"]).offer(kind, pod)

    def _list(self) -> str:
        listing = api.body(
            self.core.list_pod_for_all_namespaces(field_selector=BOUND, _preload_content=False)
        )
        alive = set()
        for pod in listing.get("items") or []:
            alive.add(pod["metadata"]["uid"])
            self._dispatch("ADDED", pod)
        for shard in self.shards:  # deleted while nobody watched
            for uid in [u for u in list(shard.pods) if u not in alive]:
                shard.offer("DELETED", {"metadata": {"uid": uid}})
        return str(listing["metadata"]["resourceVersion"])

    def run(self) -> None:
        version = ""
        failing = False
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list()
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    field_selector=BOUND,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=WATCH_TIMEOUT_S,
                    deserialize=False,
                )
                for event in stream:
                    obj = event["object"]
                    version = obj["metadata"].get("resourceVersion") or version
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._dispatch(event["type"], obj)
                    if self._stop.is_set():
                        break
                if failing:
                    logs.info("pod watch resumed")
                failing = False
            except ApiException as exc:
                if exc.status == 410:  # too old a version: list again
                    version = ""
                    continue
                failing = self._failed(failing, exc)
            except Exception as exc:  # the API server restarting: list again when it is back
                version = ""
                failing = self._failed(failing, exc)

    def _failed(self, failing: bool, exc: BaseException) -> bool:
        if not failing:
            logs.warning("pod watch failed; retrying", error=str(exc)[:300])
        self._stop.wait(RETRY_S)
        return True

    def stop(self) -> None:
        self._stop.set()
