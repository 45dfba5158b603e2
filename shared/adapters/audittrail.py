"""Who wrote an object: the API server's audit log (user, client, verb, subresource, time).

managedFields name the field manager that owns a changed field, but not the person, and
Kubernetes before 1.22 records no manager at all for writes through `/scale` (kubectl
scale). The audit log records every write with its user and client. Where one is
readable (`GITOPS_KUBE_AUDIT_LOG`: the local stack keeps one; on GKE the same events are
in Cloud Audit Logs), drift records name who wrote each drifted object since our sync.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from shared.core.manifests import ObjectId
from shared.platform import config

TAIL_BYTES = 8 * 1024 * 1024
WRITE_VERBS = ("create", "update", "patch", "delete")


@dataclass(frozen=True)
class Writer:
    user: str
    client: str  # the user agent, e.g. kubectl/v1.32.4 (...)
    verb: str
    subresource: str
    time: str

    def describe(self) -> str:
        what = f"{self.verb} {self.subresource}".strip()
        client = self.client.split(" ", 1)[0]
        return f"{self.user} ({client}, {what}) at {self.time}"


def writers(
    ids: list[ObjectId],
    resources: dict[ObjectId, str],
    since: str = "",
    exclude_agent: str = "gitops/",
    most: int = 5,
) -> dict[ObjectId, list[Writer]]:
    """The writes to each object by anyone but us after `since` (RFC 3339), oldest first
    (the last `most` of them)."""
    path = config.kube_audit_log()
    if not path or not os.path.exists(path) or not ids:
        return {}
    wanted = {(resources[i], i.namespace, i.name): i for i in ids if i in resources}
    found: dict[ObjectId, list[Writer]] = {}
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - TAIL_BYTES))
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            ref = event.get("objectRef") or {}
            key = (ref.get("resource"), ref.get("namespace", ""), ref.get("name"))
            if (
                key not in wanted
                or event.get("verb") not in WRITE_VERBS
                or ref.get("subresource") == "status"  # controllers reporting, not changing
                or event.get("userAgent", "").startswith(exclude_agent)
                or "dryRun" in event.get("requestURI", "")
                or (event.get("responseStatus") or {}).get("code", 200) >= 400
            ):
                continue
            at = event.get("stageTimestamp") or event.get("requestReceivedTimestamp", "")
            if since and at < since:
                continue
            found.setdefault(wanted[key], []).append(
                Writer(
                    (event.get("user") or {}).get("username", "?"),
                    event.get("userAgent", ""),
                    event["verb"],
                    ref.get("subresource", ""),
                    at,
                )
            )
    return {oid: ws[-most:] for oid, ws in found.items()}
