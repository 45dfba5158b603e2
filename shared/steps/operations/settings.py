"""Projects, destination clusters, repository credentials, and the drift sweep.

Clusters and repository credentials registered by hand live in local JSON stores on the
local stack (GITOPS_CLUSTERS_FILE, GITOPS_REPO_CREDENTIALS_FILE); in Google Cloud they come
from infra/ (variable clusters, the secret gitops-repo-credentials) and cannot be changed
here. A repository's secret is never answered back: only whether one is set.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

from shared.adapters import bus, store
from shared.core import argocd, healthcel, names, orphans, topology
from shared.core.messages import SweepRequest
from shared.core.model import SpecError
from shared.platform import config
from shared.steps.operations import Refused


def create_projects(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """AppProject manifests, checked (roles included) before any is stored: [{name, warnings}]."""
    parsed = []
    for i, doc in enumerate(manifests):
        try:
            parsed.append(argocd.project(doc))
        except SpecError as exc:
            raise Refused(400, f"document {i + 1}: {exc}") from exc
    for name, project, _ in parsed:
        store.put_project(name, project)
    return [{"name": name, "warnings": warnings} for name, _, warnings in parsed]


def get_project(name: str) -> dict[str, Any]:
    project = store.get_project(name)
    if project is None:
        raise Refused(404, f"project {name!r} not found")
    return {"name": name, **project}


def set_project(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Replace fields of a project (sourceRepos, destinations, kind rules); creates it if new."""
    problem = names.project_name_problem(name)
    if problem:
        raise Refused(400, f"project {name!r} {problem}")
    project = store.get_project(name) or {}
    project.pop("updatedAt", None)
    allowed = {*argocd.PROJECT_LISTS, "description", "orphanedResources", "healthChecks"}
    unknown = set(changes) - allowed
    if unknown:
        raise Refused(400, f"project fields {sorted(unknown)} cannot be set here (roles: in the AppProject)")
    try:
        if changes.get("orphanedResources") is not None:
            orphans.validate(changes["orphanedResources"])
        if changes.get("healthChecks") is not None:
            healthcel.parse(changes["healthChecks"], "healthChecks")
    except SpecError as exc:
        raise Refused(400, str(exc)) from None
    for key, value in changes.items():
        if value is None:  # removed (e.g. orphanedResources: off)
            project.pop(key, None)
        else:
            project[key] = value
    store.put_project(name, project)
    return {"name": name, **project}


# ---- the local stores -----------------------------------------------------------------------


def _local(variable: str, what: str, instead: str) -> tuple[Path, dict[str, Any]]:
    path = config.variable(variable)
    if not path:
        raise Refused(400, f"no local {what} ({variable}); in Google Cloud {instead}")
    p = Path(path)
    return p, (json.loads(p.read_text() or "{}") if p.exists() else {})


def _save(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)


def _clusters() -> tuple[Path, dict[str, Any]]:
    return _local(
        "GITOPS_CLUSTERS_FILE", "cluster registry", "destinations come from infra/ (variable clusters)"
    )


def _credentials() -> tuple[Path, dict[str, Any]]:
    return _local(
        "GITOPS_REPO_CREDENTIALS_FILE",
        "credential store",
        "add a version of the secret gitops-repo-credentials instead",
    )


def token_file(given: str) -> str:
    """A cluster's tokenFile, only inside GITOPS_CLUSTER_TOKEN_DIR (else any file the server
    can read would be sent to the endpoint as a Bearer token)."""
    folder = config.cluster_token_dir()
    if not folder:
        raise Refused(400, "tokenFile: no GITOPS_CLUSTER_TOKEN_DIR is configured; use a context")
    path, root = Path(given).resolve(), Path(folder).resolve()
    if not path.is_relative_to(root) or path == root:
        raise Refused(400, f"tokenFile: must be a file in {root} (GITOPS_CLUSTER_TOKEN_DIR)")
    return str(path)


def has_cluster(name: str) -> bool:
    return any(c["name"] == name for c in list_clusters())


def has_repository(url: str) -> bool:
    try:
        return any(r["url"] == url for r in list_repositories())
    except Refused:  # no local credential store: nothing exists (adding one is refused)
        return False


def add_cluster(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Register a destination: {"context"} or {"endpoint", "caCertificate" (PEM), "tokenFile"}."""
    if entry.get("context"):
        kept: dict[str, Any] = {"context": str(entry["context"])}
    elif entry.get("endpoint") and entry.get("caCertificate") and entry.get("tokenFile"):
        kept = {
            "endpoint": str(entry["endpoint"]),
            "tokenFile": token_file(str(entry["tokenFile"])),
            "caCertificate": base64.b64encode(str(entry["caCertificate"]).encode()).decode(),
        }
    else:
        raise Refused(400, "cluster add needs --context, or --server with --ca-file and --token-file")
    path, data = _clusters()
    data[name] = kept
    _save(path, data)
    return {"name": name, **{k: v for k, v in kept.items() if k != "caCertificate"}}


def list_clusters() -> list[dict[str, Any]]:
    from shared.adapters import kube

    return [
        {
            "name": n,
            "server": c.get("endpoint", ""),
            "context": c.get("context", ""),
            "token": "file"
            if c.get("tokenFile")
            else "env"
            if c.get("tokenEnv")
            else "google"
            if c.get("endpoint")
            else "",
        }
        for n, c in sorted(kube.registered_clusters().items())
    ]


def remove_cluster(name: str) -> None:
    path, data = _clusters()
    if data.pop(name, None) is None:
        raise Refused(404, f"no cluster {name!r} in the local registry")
    _save(path, data)


def add_repository(url: str, username: str, password: str) -> dict[str, Any]:
    path, data = _credentials()
    data[url] = {"username": username, "password": password}
    _save(path, data)
    return {"url": url, "username": username, "password": "set" if password else ""}


def list_repositories() -> list[dict[str, Any]]:
    _, data = _credentials()
    return [
        {
            "url": url,
            "username": c.get("username", ""),
            "password": "set" if c.get("password") or c.get("sshPrivateKey") else "",
        }
        for url, c in sorted(data.items())
    ]


def remove_repository(url: str) -> None:
    path, data = _credentials()
    if data.pop(url, None) is None:
        raise Refused(404, f"no credentials registered for {url}")
    _save(path, data)


def sweep(apps: list[str]) -> dict[str, Any]:
    """Run the drift sweep now (of APPS, or of every application)."""
    started = store.now()
    op = f"sweep-{uuid.uuid4().hex[:12]}"
    bus.publish(topology.SWEEP, [SweepRequest(apps=tuple(apps), operation=op)])
    return {"operation": op, "startedAt": started.isoformat()}
