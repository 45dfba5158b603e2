"""The objects the benchmarks deploy: Deployments (0 replicas unless a benchmark wants pods on
the simulated nodes), the Services in front of them, and their ConfigMaps, ServiceAccounts
and Ingresses."""

from __future__ import annotations

from typing import Any

PORTS = [{"containerPort": 80, "protocol": "TCP"}]
LIMITS = {"limits": {"cpu": "100m", "memory": "64Mi"}}


def deployment(name: str, container: dict[str, Any] | None = None, **pod: Any) -> dict[str, Any]:
    """A Deployment of one nginx container `web` labelled app=name; `container` adds to the
    container (ports, resources, env), `pod` to the pod spec (serviceAccountName)."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {**pod, "containers": [{"name": "web", "image": "nginx:1.25", **(container or {})}]},
            },
        },
    }


def service(name: str, port: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Service selecting app=name on port 80 (TCP unless `port` says otherwise)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [port or {"port": 80, "protocol": "TCP"}]},
    }


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def service_account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}


def ingress(name: str) -> dict[str, Any]:
    """An Ingress routing {name}.example.com to the Service `name` on port 80."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
