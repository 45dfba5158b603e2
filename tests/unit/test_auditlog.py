"""Drift attribution from audit records, pure parts and the adapter's choice of source:

- GKE's Cloud Audit Logs entries (fixtures shaped exactly as GKE writes them: a LogEntry of
  resource type k8s_cluster, an AuditLog protoPayload) decoded by the Cloud Logging client
  library as its list_entries does, then parsed and merged by shared/core/auditlog;
- the API server's own audit log lines through the same merge;
- the resource names, the Cloud Logging filter, and the merge's rules (who, since, ours,
  refused, status);
- the adapter reading one source or the other by configuration, and the drift record naming
  the writers as it does for the local file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import logging as cloud_logging
from google.cloud.audit import audit_log_pb2  # noqa: F401  (registers the AuditLog payload type)
from google.cloud.logging_v2 import _gapic
from google.cloud.logging_v2._helpers import entry_from_resource
from google.cloud.logging_v2.types import LogEntry as LogEntryPB
from google.protobuf.json_format import ParseDict

from shared.adapters import audittrail
from shared.core import auditlog
from shared.core.auditlog import Target, Writer
from shared.core.manifests import ObjectId
from shared.steps import audit

FIXTURES = json.loads((Path(__file__).parent / "data" / "gke-audit-entries.json").read_text())
WEB = ObjectId("apps", "Deployment", "shop", "web")
SETTINGS = ObjectId("", "ConfigMap", "shop", "settings")
READER = ObjectId("rbac.authorization.k8s.io", "ClusterRole", "", "shop-reader")
SERVICE = ObjectId("", "Service", "shop", "web")
RESOURCES = {WEB: "deployments", SETTINGS: "configmaps", READER: "clusterroles", SERVICE: "services"}
SINCE = "2026-11-30T05:59:00.000000Z"  # our last sync
# a client that never calls out (anonymous, constructed only): the entries' owner
CLIENT = cloud_logging.Client(project="acme-prod", credentials=AnonymousCredentials(), _use_grpc=False)


def as_listed(entry: dict) -> object:
    """A fixture as Client.list_entries yields it: the LogEntry protobuf off the wire, decoded
    by the library (AuditLog payload and all) into its entry class."""
    pb = ParseDict(entry, LogEntryPB.pb(LogEntryPB()))
    return entry_from_resource(_gapic._parse_log_entry(pb), CLIENT, {})


def wanted() -> dict[Target, ObjectId]:
    return {auditlog.target_of(oid, plural): oid for oid, plural in RESOURCES.items()}


def test_gke_entries_decoded_by_the_client_library_name_who_wrote_each_object():
    writes = [auditlog.from_gke_entry(as_listed(e).to_api_repr()) for e in FIXTURES]
    found = auditlog.merge(writes, wanted(), SINCE)
    kubectl = "kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9"
    assert found == {
        WEB: [
            Writer("dana@example.com", kubectl, "patch", "", "2026-11-30T06:05:00.200000Z"),
            Writer("dana@example.com", kubectl, "patch", "scale", "2026-11-30T06:06:00.300000Z"),
        ],
        SETTINGS: [
            Writer(
                "system:serviceaccount:shop:config-bot",
                "config-bot/2.1",
                "update",
                "",
                "2026-11-30T06:08:00.500000Z",
            )
        ],
        READER: [Writer("lee@example.com", kubectl, "patch", "", "2026-11-30T06:09:00.600000Z")],
        SERVICE: [Writer("lee@example.com", kubectl, "delete", "", "2026-11-30T06:11:00.800000Z")],
    }
    assert (
        found[WEB][1].describe()
        == "dana@example.com (kubectl/v1.29.1, patch scale) at 2026-11-30T06:06:00.300000Z"
    )


def test_the_json_form_parses_as_the_library_form():
    """`gcloud logging read --format=json` prints the same fields the library hands back."""
    for entry in FIXTURES:
        direct, listed = (
            auditlog.from_gke_entry(entry),
            auditlog.from_gke_entry(as_listed(entry).to_api_repr()),
        )
        assert (direct is None) == (listed is None)
        if direct and listed:
            assert (direct.target, direct.writer.user, direct.writer.verb) == (
                listed.target,
                listed.writer.user,
                listed.writer.verb,
            )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("apps/v1/namespaces/shop/deployments/web", (Target("deployments", "shop", "web"), "")),
        ("apps/v1/namespaces/shop/deployments/web/scale", (Target("deployments", "shop", "web"), "scale")),
        ("core/v1/namespaces/shop/configmaps/settings", (Target("configmaps", "shop", "settings"), "")),
        ("core/v1/namespaces/shop", (Target("namespaces", "", "shop"), "")),
        ("core/v1/namespaces/shop/status", (Target("namespaces", "", "shop"), "status")),
        ("rbac.authorization.k8s.io/v1/clusterroles/view", (Target("clusterroles", "", "view"), "")),
        ("core/v1/namespaces/shop/configmaps", None),  # a collection (a create by POST)
        ("apps/v1", None),
        ("", None),
    ],
)
def test_resource_names(name, expected):
    assert auditlog.parse_resource_name(name) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"protoPayload": {"methodName": "io.k8s.apps.v1.deployments.get"}},  # a read
        {"protoPayload": {"methodName": "io.k8s.apps.v1.deployments.watch"}},
        {"protoPayload": {"methodName": "google.container.v1.ClusterManager.SetLabels"}},  # not Kubernetes
        {"protoPayload": {"status": {"code": 10, "message": "ABORTED"}}},  # a conflict: nothing written
        {"protoPayload": "text"},
        {"jsonPayload": {}},
    ],
)
def test_entries_that_are_no_write(change):
    entry = json.loads(json.dumps(FIXTURES[1]))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key].update(value)
        else:
            entry.pop("protoPayload")
            entry[key] = value
    assert auditlog.from_gke_entry(entry) is None


def test_the_filter_reads_the_clusters_admin_activity_for_the_objects_only():
    text = auditlog.gke_filter(
        project="acme-prod",
        location="europe-west1",
        cluster="prod",
        since=SINCE,
        until="2026-11-30T07:00:00.000000Z",
        targets=[Target("deployments", "shop", "web"), Target("clusterroles", "", 'odd"name')],
    )
    assert text.splitlines() == [
        'resource.type="k8s_cluster"',
        'resource.labels.project_id="acme-prod"',
        'resource.labels.location="europe-west1"',
        'resource.labels.cluster_name="prod"',
        'logName="projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity"',
        f'timestamp>="{SINCE}"',
        'timestamp<"2026-11-30T07:00:00.000000Z"',
        'protoPayload.resourceName:("clusterroles/odd\\"name" OR "namespaces/shop/deployments/web")',
    ]


def test_the_api_servers_own_log_merges_the_same_way():
    events = [
        {
            "verb": "patch",
            "user": {"username": "dana"},
            "userAgent": "kubectl/v1.32.4 (linux/amd64)",
            "objectRef": {"resource": "deployments", "namespace": "shop", "name": "web", "apiGroup": "apps"},
            "requestURI": "/apis/apps/v1/namespaces/shop/deployments/web",
            "responseStatus": {"code": 200},
            "stageTimestamp": "2026-11-30T06:05:00.200000Z",
        },
        {  # a dry-run by someone: no change
            "verb": "patch",
            "user": {"username": "lee"},
            "userAgent": "kubectl/v1.32.4",
            "objectRef": {"resource": "deployments", "namespace": "shop", "name": "web"},
            "requestURI": "/apis/apps/v1/namespaces/shop/deployments/web?dryRun=All",
            "stageTimestamp": "2026-11-30T06:06:00Z",
        },
        {  # refused
            "verb": "delete",
            "user": {"username": "eve"},
            "objectRef": {"resource": "deployments", "namespace": "shop", "name": "web"},
            "responseStatus": {"code": 403},
            "stageTimestamp": "2026-11-30T06:07:00Z",
        },
    ]
    found = auditlog.merge((auditlog.from_k8s_event(e) for e in events), wanted(), SINCE)
    assert found == {
        WEB: [Writer("dana", "kubectl/v1.32.4 (linux/amd64)", "patch", "", "2026-11-30T06:05:00.200000Z")]
    }


def test_merge_keeps_the_newest_few():
    write = auditlog.Write(Target("deployments", "shop", "web"), Writer("a", "k", "patch", "", "t"))
    found = auditlog.merge([write] * 9, wanted(), most=3)
    assert len(found[WEB]) == 3


class FakeLogging:
    """Stands in for google.cloud.logging.Client: hands back the fixtures as the library
    decodes them, and keeps the queries."""

    def __init__(self) -> None:
        self.queries: list[dict] = []

    def list_entries(self, **kwargs):
        self.queries.append(kwargs)
        return [as_listed(e) for e in FIXTURES]


class Plurals:
    def plural(self, group: str, kind: str) -> str | None:
        return {o.kind: p for o, p in RESOURCES.items()}.get(kind)


def test_the_drift_record_names_gke_writers_as_it_does_the_local_files(monkeypatch):
    fake = FakeLogging()
    monkeypatch.setenv("GITOPS_KUBE_AUDIT_SOURCE", "cloud-logging")
    monkeypatch.setenv(
        "GITOPS_CLUSTERS",
        json.dumps(
            {
                "prod": {
                    "endpoint": "https://x",
                    "gke": {"project": "acme-prod", "location": "europe-west1", "name": "prod"},
                }
            }
        ),
    )
    monkeypatch.delenv("GITOPS_CLUSTERS_FILE", raising=False)
    monkeypatch.setattr(audittrail, "_logging_client", lambda project: fake)
    drifted = [audit.ObjectDrift(WEB, "modified"), audit.ObjectDrift(SETTINGS, "modified")]
    import datetime as dt

    audit._name_writers("prod", Plurals(), drifted, dt.datetime(2026, 11, 30, 5, 59, tzinfo=dt.UTC))  # type: ignore[arg-type]
    assert drifted[0].to_doc()["writtenBy"] == (
        "dana@example.com (kubectl/v1.29.1, patch) at 2026-11-30T06:05:00.200000Z; "
        "dana@example.com (kubectl/v1.29.1, patch scale) at 2026-11-30T06:06:00.300000Z"
    )
    assert (
        drifted[1]
        .to_doc()["writtenBy"]
        .startswith("system:serviceaccount:shop:config-bot (config-bot/2.1, update)")
    )
    (query,) = fake.queries
    assert query["resource_names"] == ["projects/acme-prod"] and query["order_by"] == "timestamp asc"
    assert 'resource.labels.cluster_name="prod"' in query["filter_"]
    assert 'timestamp>="2026-11-30T05:59:00.000000Z"' in query["filter_"]


def test_the_source_is_chosen_by_configuration(monkeypatch, tmp_path):
    log = tmp_path / "audit.log"
    log.write_text(
        json.dumps(
            {
                "verb": "patch",
                "user": {"username": "dana"},
                "userAgent": "kubectl/v1.32.4",
                "objectRef": {"resource": "deployments", "namespace": "shop", "name": "web"},
                "stageTimestamp": "2026-11-30T06:05:00Z",
            }
        )
        + "\nnot json\n"
    )
    monkeypatch.setenv("GITOPS_KUBE_AUDIT_LOG", str(log))
    monkeypatch.delenv("GITOPS_KUBE_AUDIT_SOURCE", raising=False)
    assert [w.user for w in audittrail.writers("in-cluster", [WEB], RESOURCES)[WEB]] == [
        "dana"
    ]  # file by default
    monkeypatch.setenv("GITOPS_KUBE_AUDIT_SOURCE", "off")
    assert audittrail.writers("in-cluster", [WEB], RESOURCES) == {}
    monkeypatch.setenv("GITOPS_KUBE_AUDIT_SOURCE", "cloud-logging")  # no GKE cluster registered
    monkeypatch.setenv("GITOPS_CLUSTERS", "{}")
    monkeypatch.delenv("GITOPS_CLUSTERS_FILE", raising=False)
    assert audittrail.writers("in-cluster", [WEB], RESOURCES) == {}
    monkeypatch.setenv("GITOPS_KUBE_AUDIT_SOURCE", "splunk")
    with pytest.raises(ValueError, match="GITOPS_KUBE_AUDIT_SOURCE"):
        audittrail.writers("in-cluster", [WEB], RESOURCES)
