"""Who wrote an object, from the API server's audit records: parsing and merging, pure.

Two sources hold the same facts in two shapes, and both end here as `Write`s:

- the API server's own audit log (`audit.k8s.io/v1` Event, one JSON line each: the local
  stack keeps one): `user.username`, `userAgent`, `verb`, `objectRef`, `stageTimestamp`;
- GKE's Cloud Audit Logs (a Cloud Logging `LogEntry` of resource type `k8s_cluster` in the
  `cloudaudit.googleapis.com/activity` log; every Kubernetes write is Admin Activity):
  `protoPayload.authenticationInfo.principalEmail`,
  `protoPayload.requestMetadata.callerSuppliedUserAgent`, `protoPayload.methodName`
  (`io.k8s.apps.v1.deployments.patch`, `io.k8s.apps.v1.deployments.scale.update`),
  `protoPayload.resourceName` (`apps/v1/namespaces/shop/deployments/web[/scale]`, the core
  group spelled `core`), `protoPayload.status` (a google.rpc.Status: a code other than 0 is
  a refusal) and `timestamp`.

`merge` keeps the writes to the wanted objects by anyone but us since our sync (writes that
failed, dry-runs and status reports by controllers are no change), the newest few of each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.core.manifests import ObjectId

WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
OUR_AGENT = "gitops/"  # the user agent our kube client sends (shared/adapters/kube.USER_AGENT)


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


@dataclass(frozen=True)
class Target:
    """An object as audit records name it: resource (plural), namespace ('' when
    cluster-scoped), name. The API group is left out as the audit log's reader always did: an
    object written through an older group (extensions/v1beta1 Deployments) is the same one."""

    resource: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Write:
    """One write an audit record saw (refused, dry-run and read requests are parsed to None)."""

    target: Target
    writer: Writer


def target_of(oid: ObjectId, resource: str) -> Target:
    return Target(resource, oid.namespace, oid.name)


# ---- the API server's audit log (audit.k8s.io/v1 Event) --------------------------------


def from_k8s_event(event: Any) -> Write | None:
    if not isinstance(event, dict):
        return None
    ref = event.get("objectRef") or {}
    status = (event.get("responseStatus") or {}).get("code", 200)
    if (
        event.get("verb") not in WRITE_VERBS
        or not ref.get("name")
        or "dryRun" in str(event.get("requestURI", ""))
        or not isinstance(status, int)
        or status >= 400
    ):
        return None
    return Write(
        Target(ref.get("resource", ""), ref.get("namespace", ""), ref["name"]),
        Writer(
            (event.get("user") or {}).get("username", "?"),
            event.get("userAgent", ""),
            event["verb"],
            ref.get("subresource", ""),
            event.get("stageTimestamp") or event.get("requestReceivedTimestamp", ""),
        ),
    )


# ---- GKE's Cloud Audit Logs (LogEntry with an AuditLog protoPayload) -------------------


def parse_resource_name(text: str) -> tuple[Target, str] | None:
    """(target, subresource) of a GKE audit resourceName; None for a collection or another
    shape. `apps/v1/namespaces/shop/deployments/web/scale`, `core/v1/namespaces/shop`,
    `rbac.authorization.k8s.io/v1/clusterroles/view`."""
    parts = text.strip("/").split("/")
    if len(parts) < 4:
        return None
    rest = parts[2:]  # after the group ("core" for the core group) and the version
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 4:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 3 and rest[2] not in NAMESPACE_SUBRESOURCES:
        return None  # a collection in a namespace (namespaces/shop/configmaps), not a Namespace
    if len(rest) < 2 or len(rest) > 3 or not rest[1]:
        return None
    return Target(rest[0], namespace, rest[1]), (rest[2] if len(rest) == 3 else "")


def from_gke_entry(entry: Any) -> Write | None:
    """A write from one Cloud Logging LogEntry (its JSON form, as the Logging API returns and
    `gcloud logging read --format=json` prints it)."""
    if not isinstance(entry, dict):
        return None
    payload = entry.get("protoPayload")
    if not isinstance(payload, dict):
        return None
    method = str(payload.get("methodName") or "")
    verb = method.rsplit(".", 1)[-1]
    status = payload.get("status") or {}
    parsed = parse_resource_name(str(payload.get("resourceName") or ""))
    if (
        not method.startswith("io.k8s.")
        or verb not in WRITE_VERBS
        or parsed is None
        or (isinstance(status, dict) and status.get("code", 0) not in (0, None))
    ):
        return None
    target, subresource = parsed
    return Write(
        target,
        Writer(
            str((payload.get("authenticationInfo") or {}).get("principalEmail") or "?"),
            str((payload.get("requestMetadata") or {}).get("callerSuppliedUserAgent") or ""),
            verb,
            subresource,
            str(entry.get("timestamp") or entry.get("receiveTimestamp") or ""),
        ),
    )


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gke_filter(
    *, project: str, location: str, cluster: str, since: str, until: str, targets: Iterable[Target]
) -> str:
    """The Cloud Logging filter for the Kubernetes writes to `targets` on one GKE cluster in
    [since, until): the Admin Activity audit log of the cluster's project, `k8s_cluster`
    resource, and a resourceName holding each object's path (`:` is "has": the object and its
    subresources, under any API version; from_gke_entry then keeps exact matches)."""
    names = " OR ".join(
        _quoted(("namespaces/" + t.namespace + "/" if t.namespace else "") + f"{t.resource}/{t.name}")
        for t in sorted(set(targets), key=lambda t: (t.namespace, t.resource, t.name))
    )
    clauses = [
        'resource.type="k8s_cluster"',
        f"resource.labels.project_id={_quoted(project)}",
        f"resource.labels.location={_quoted(location)}",
        f"resource.labels.cluster_name={_quoted(cluster)}",
        f"logName={_quoted(f'projects/{project}/logs/cloudaudit.googleapis.com%2Factivity')}",
        f"timestamp>={_quoted(since)}",
        f"timestamp<{_quoted(until)}",
    ]
    if names:
        clauses.append(f"protoPayload.resourceName:({names})")
    return "\n".join(clauses)


# ---- merging ----------------------------------------------------------------------------


def merge(
    writes: Iterable[Write | None],
    wanted: dict[Target, ObjectId],
    since: str = "",
    exclude_agent: str = OUR_AGENT,
    most: int = 5,
) -> dict[ObjectId, list[Writer]]:
    """The writes to each wanted object by anyone but us after `since` (RFC 3339), in the
    order given (oldest first), the last `most` of each. Status subresource writes are
    controllers reporting, not changing: left out."""
    found: dict[ObjectId, list[Writer]] = {}
    for write in writes:
        if write is None or write.target not in wanted:
            continue
        w = write.writer
        if w.subresource == "status" or w.client.startswith(exclude_agent) or (since and w.time < since):
            continue
        found.setdefault(wanted[write.target], []).append(w)
    return {oid: ws[-most:] for oid, ws in found.items()}
