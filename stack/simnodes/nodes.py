"""The simulated Node objects and their heartbeats.

Each node is created with its capacity (cpu, memory, pods) and a Ready condition, and kept
alive as the kubelet does: its Lease in `kube-node-lease` renewed every 10 s (the node
lifecycle controller's grace period is 40 s) and its Ready condition's heartbeat written every
minute. A node or lease that disappears (a wiped cluster) is created again.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from kubernetes import client as kclient
from kubernetes.client.rest import ApiException

from shared.platform import logs
from stack.simnodes import api

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_S = 40
RENEW_EVERY_S = 10.0
STATUS_EVERY_S = 60.0
LABEL = "node.gitops.dev/simulated"
KUBELET_VERSION = "v1.20.2"


@dataclass(frozen=True)
class NodeShape:
    count: int = 3
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110

    @classmethod
    def parse(cls, count: int, capacity: str) -> NodeShape:
        """`capacity` as `cpu=16,memory=64Gi,pods=110` (any subset)."""
        fields = dict(item.split("=", 1) for item in capacity.split(",") if "=" in item)
        base = cls()
        return cls(
            count=count,
            cpu=fields.get("cpu", base.cpu),
            memory=fields.get("memory", base.memory),
            pods=int(fields.get("pods", base.pods)),
        )


def node_names(count: int) -> list[str]:
    return [f"sim-node-{i}" for i in range(1, count + 1)]


def host_ip(index: int) -> str:
    return f"10.240.0.{index + 1}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _time(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_status(shape: NodeShape, index: int, at: dt.datetime, since: str) -> dict[str, Any]:
    resources = {
        "cpu": shape.cpu,
        "memory": shape.memory,
        "pods": str(shape.pods),
        "ephemeral-storage": "100Gi",
    }
    ok = [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ]
    conditions = [
        {
            "type": kind,
            "status": "False",
            "reason": reason,
            "lastHeartbeatTime": _time(at),
            "lastTransitionTime": since,
        }
        for kind, reason in ok
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status (simulated)",
            "lastHeartbeatTime": _time(at),
            "lastTransitionTime": since,
        }
    )
    return {
        "capacity": resources,
        "allocatable": resources,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": host_ip(index)},
            {"type": "Hostname", "address": node_names(shape.count)[index]},
        ],
        "nodeInfo": {
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
            "containerRuntimeVersion": "sim://1.0",
            "osImage": "simulated",
            "kernelVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }


def node_object(shape: NodeShape, index: int, at: dt.datetime) -> dict[str, Any]:
    name = node_names(shape.count)[index]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "simulated",
                LABEL: "true",
            },
        },
        "spec": {},
        "status": node_status(shape, index, at, _time(at)),
    }


class Heartbeats:
    """Creates the nodes, then renews their leases and Ready heartbeats until stopped."""

    def __init__(self, api_client: kclient.ApiClient, shape: NodeShape) -> None:
        self.core = kclient.CoreV1Api(api_client)
        self.coordination = kclient.CoordinationV1Api(api_client)
        self.shape = shape
        self.names = node_names(shape.count)
        self._stop = threading.Event()
        self._since: dict[str, str] = {}
        self._uids: dict[str, str] = {}

    def ensure_nodes(self) -> None:
        at = _now()
        for i, name in enumerate(self.names):
            try:
                node = self.core.read_node(name, _preload_content=False)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                node = self.core.create_node(node_object(self.shape, i, at), _preload_content=False)
                logs.info(
                    "node created",
                    node=name,
                    cpu=self.shape.cpu,
                    memory=self.shape.memory,
                    pods=self.shape.pods,
                )
            self._uids[name] = api.body(node)["metadata"]["uid"]
            self._since.setdefault(name, _time(at))
            self._write_status(i, at)
            self._renew(name, at)

    def _write_status(self, index: int, at: dt.datetime) -> None:
        name = self.names[index]
        api.body(
            self.core.patch_node_status(
                name,
                {"status": node_status(self.shape, index, at, self._since[name])},
                _content_type=api.STRATEGIC,
                _preload_content=False,
            )
        )

    def _renew(self, name: str, at: dt.datetime) -> None:
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        try:
            api.body(
                self.coordination.patch_namespaced_lease(
                    name, LEASE_NAMESPACE, {"spec": spec}, _content_type=api.MERGE, _preload_content=False
                )
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self._uids[name]}
            api.body(
                self.coordination.create_namespaced_lease(
                    LEASE_NAMESPACE,
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": name, "ownerReferences": [owner]},
                        "spec": spec,
                    },
                    _preload_content=False,
                )
            )

    def run(self) -> None:
        """Renew every RENEW_EVERY_S, write the Ready heartbeat every STATUS_EVERY_S; an API
        server away for a while (a fault test restarts it) is waited out, logged once."""
        last_status = 0.0
        failing = False
        while not self._stop.wait(RENEW_EVERY_S):
            at = _now()
            try:
                if at.timestamp() - last_status >= STATUS_EVERY_S:
                    self.ensure_nodes()
                    last_status = at.timestamp()
                else:
                    for name in self.names:
                        self._renew(name, at)
                if failing:
                    logs.info("node heartbeats resumed")
                failing = False
            except Exception as exc:  # the API server restarting: try again next period
                if not failing:
                    logs.warning("node heartbeat failed", error=str(exc)[:300])
                failing = True

    def stop(self) -> None:
        self._stop.set()
