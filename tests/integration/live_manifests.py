"""Workloads whose pods really run on the local stack's simulated nodes (stack/simnodes):
the fault and timing conventions ride on the image name and pod annotations."""

from __future__ import annotations

from typing import Any

import yaml

from stack.simnodes import convention


def container(image: str, ready_delay: int | None = None, cpu: str = "100m") -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": "app",
        "image": image,
        "ports": [{"containerPort": 80}],
        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    }
    if ready_delay is not None:
        c["readinessProbe"] = {
            "tcpSocket": {"port": 80},
            "initialDelaySeconds": ready_delay,
            "periodSeconds": 1,
        }
    return c


def template(name: str, image: str, ready_delay: int | None = None, **sim: float | str) -> dict[str, Any]:
    """A pod template labelled app=name; `sim` sets the agent's annotations (backoff_seconds=1)."""
    annotations = {convention.PREFIX + k.replace("_", "-"): str(v) for k, v in sim.items()}
    return {
        "metadata": {"labels": {"app": name}, **({"annotations": annotations} if annotations else {})},
        "spec": {"containers": [container(image, ready_delay)]},
    }


def _workload(kind: str, name: str, pods: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {**spec, "selector": {"matchLabels": {"app": name}}, "template": pods},
    }


def deployment(
    name: str,
    image: str,
    replicas: int = 2,
    ready_delay: int | None = None,
    deadline: int = 600,
    **sim: float | str,
) -> dict[str, Any]:
    return _workload(
        "Deployment",
        name,
        template(name, image, ready_delay, **sim),
        replicas=replicas,
        progressDeadlineSeconds=deadline,
    )


def statefulset(name: str, image: str, replicas: int = 2, ready_delay: int | None = None) -> dict[str, Any]:
    return _workload(
        "StatefulSet", name, template(name, image, ready_delay), replicas=replicas, serviceName=name
    )


def daemonset(name: str, image: str, ready_delay: int | None = None) -> dict[str, Any]:
    return _workload("DaemonSet", name, template(name, image, ready_delay))


def job(name: str, image: str, backoff_limit: int = 0, **sim: float | str) -> dict[str, Any]:
    pod = template(name, image, **sim)
    pod["spec"]["restartPolicy"] = "Never"
    pod["metadata"]["labels"] = {"job": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": pod},
    }


def pod(
    name: str, image: str, ready_delay: int | None = None, cpu: str = "100m", **sim: float | str
) -> dict[str, Any]:
    t = template(name, image, ready_delay, **sim)
    t["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **t["metadata"]}, "spec": t["spec"]}


def text(*objs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False)
