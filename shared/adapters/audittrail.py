"""Who wrote an object: the API server's audit records (user, client, verb, subresource, time).

managedFields name the field manager that owns a changed field, but not the person, and
Kubernetes before 1.22 records no manager at all for writes through `/scale` (kubectl
scale). The audit records name every write's user and client. Where they come from is
configuration (`GITOPS_KUBE_AUDIT_SOURCE`, shared/platform/config):

- `file`: the API server's audit log file, `GITOPS_KUBE_AUDIT_LOG` (the local stack keeps one);
- `cloud-logging`: GKE's Cloud Audit Logs, read with the Cloud Logging client. Kubernetes
  writes are Admin Activity entries, which `roles/logging.viewer` reads
  (`roles/logging.privateLogViewer` is for Data Access logs, which hold no writes); infra/
  grants it to the audit function only. A destination names its GKE cluster in
  GITOPS_CLUSTERS (`gke`: project, location, name), which infra/ fills.

Both are parsed and merged by the same pure code (shared/core/auditlog), so a drift record
names a writer the same way from either. Attribution is best effort: a source that cannot
be read leaves the drift record without `writtenBy`, and the audit goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from shared.adapters import kube
from shared.core import auditlog
from shared.core.auditlog import Writer
from shared.core.manifests import ObjectId
from shared.platform import config, logs

__all__ = ["Writer", "writers"]

TAIL_BYTES = 8 * 1024 * 1024
LOOKBACK = dt.timedelta(days=1)  # how far back Cloud Logging is read when the sync time is unknown
TARGETS_PER_QUERY = 40  # objects named in one filter (a filter is at most 20,000 characters)
MAX_ENTRIES = 2000  # entries read per query: the newest writes matter, a flood is cut short


def writers(
    destination: str,
    ids: list[ObjectId],
    resources: dict[ObjectId, str],
    since: str = "",
    most: int = 5,
) -> dict[ObjectId, list[Writer]]:
    """The writes to each object on `destination` by anyone but us after `since` (RFC 3339),
    oldest first (the last `most` of them)."""
    wanted = {auditlog.target_of(i, resources[i]): i for i in ids if i in resources}
    source = config.kube_audit_source()
    if not wanted or not source:
        return {}
    if source == "cloud-logging":
        writes: Iterator[auditlog.Write | None] = _cloud_logging(destination, list(wanted), since)
    else:
        writes = _file()
    try:
        return auditlog.merge(writes, wanted, since, most=most)
    except Exception as exc:  # best effort: the drift is recorded, without who
        logs.warning("audit records unreadable: drift not attributed", source=source, reason=str(exc)[:300])
        return {}


def _file() -> Iterator[auditlog.Write | None]:
    """The last TAIL_BYTES of the API server's audit log (JSON lines, audit.k8s.io/v1 Events)."""
    path = config.kube_audit_log()
    if not path or not os.path.exists(path):
        return
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - TAIL_BYTES))
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            yield auditlog.from_k8s_event(event)


def _cloud_logging(
    destination: str, targets: list[auditlog.Target], since: str
) -> Iterator[auditlog.Write | None]:
    gke: dict[str, str] = (kube.registered_clusters().get(destination) or {}).get("gke") or {}  # type: ignore[assignment]
    if not all(gke.get(k) for k in ("project", "location", "name")):
        logs.warning(
            "no GKE cluster registered for this destination: drift not attributed",
            cluster=destination,
        )
        return
    now = dt.datetime.now(dt.UTC)
    until = (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    start = since or (now - LOOKBACK).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client = _logging_client(gke["project"])
    for i in range(0, len(targets), TARGETS_PER_QUERY):
        query = auditlog.gke_filter(
            project=gke["project"],
            location=gke["location"],
            cluster=gke["name"],
            since=start,
            until=until,
            targets=targets[i : i + TARGETS_PER_QUERY],
        )
        entries = client.list_entries(
            resource_names=[f"projects/{gke['project']}"],
            filter_=query,
            order_by="timestamp asc",
            page_size=1000,
            max_results=MAX_ENTRIES,
        )
        for entry in entries:
            yield auditlog.from_gke_entry(entry.to_api_repr())


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _logging_client(project: str) -> Any:
    """One Cloud Logging client per project, kept for the process (its channel is reused)."""
    from google.cloud import logging as cloud_logging  # the audit function on GKE only

    with _clients_lock:
        if project not in _clients:
            _clients[project] = cloud_logging.Client(project=project)
        return _clients[project]
