"""The kube adapter's requests against a small HTTP server on 127.0.0.1 (no API server
needed): the impersonation header on every request, /version read once per TTL, and an
answer that is not JSON ("404 page not found" for a group no longer served, after its CRD
was deleted) becoming a KubeError the callers handle, not a crash; a kind the server does
not serve remembered as unknown, not looked up again for each object of it."""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from kubernetes import client as kclient

from shared.adapters import kube

CONFIGMAPS = {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["get", "list"]}
DISCOVERY = {
    "/version": {"major": "1", "minor": "29+", "gitVersion": "v1.29.4-gke.1"},
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [CONFIGMAPS]},
}


class Handler(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        Handler.seen.append((self.path, self.headers.get("Impersonate-User", "")))
        if self.path in DISCOVERY:
            body, status, kind = json.dumps(DISCOVERY[self.path]), 200, "json"
        else:
            body, status, kind = "404 page not found\n", 404, "plain"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"application/{kind}" if kind == "json" else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def connect(url: str, as_user: str = "") -> kube.Cluster:
    configuration = kclient.Configuration()
    configuration.host = url
    return kube.Cluster(kclient.ApiClient(configuration), as_user)


def test_the_version_is_read_once_and_requests_carry_the_impersonated_user(server):
    cluster = connect(server, "system:serviceaccount:gitops-projects:project-team-a")
    assert cluster.server_version() == "1.29.4"
    assert cluster.server_version() == "1.29.4"
    assert Handler.seen == [("/version", "system:serviceaccount:gitops-projects:project-team-a")]


def test_an_answer_that_is_not_json_is_a_kube_error(server):
    with pytest.raises(kube.KubeError) as exc:
        connect(server)._call("list", "GET", "/apis/gone.example.com/v1/widgets")
    assert exc.value.status == 404 and "404 page not found" in str(exc.value) and not exc.value.transient
    assert Handler.seen == [("/apis/gone.example.com/v1/widgets", "")]


def test_a_missing_kind_is_looked_up_once_not_once_per_object(server, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the discovery library's cache file
    cluster = connect(server)
    assert cluster.resource("v1", "ConfigMap").path("ns", "a") == "/api/v1/namespaces/ns/configmaps/a"
    assert cluster.plural("", "ConfigMap") == "configmaps"
    Handler.seen.clear()
    for _ in range(100):  # 100 custom resources whose CRD is not installed (yet)
        with pytest.raises(kube.UnknownKind):
            cluster.resource("example.com/v1", "Widget")
        assert cluster.plural("example.com", "Widget") is None
    once = len(Handler.seen)
    assert 0 < once <= 6, Handler.seen  # one refresh of discovery for each, not one per object
    assert cluster.resource("v1", "ConfigMap").plural == "configmaps"
    assert cluster.plural("", "ConfigMap") == "configmaps" and len(Handler.seen) == once
    cluster.forget_unknown_kinds()  # e.g. a wave installed an operator: look again
    with pytest.raises(kube.UnknownKind):
        cluster.resource("example.com/v1", "Widget")
    assert len(Handler.seen) > once


def test_a_missing_kind_is_looked_up_again_after_a_while(server, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cluster = connect(server)
    clock = [1000.0]
    monkeypatch.setattr(kube.time, "monotonic", lambda: clock[0])
    with pytest.raises(kube.UnknownKind):
        cluster.resource("example.com/v1", "Widget")
    Handler.seen.clear()
    with pytest.raises(kube.UnknownKind):
        cluster.resource("example.com/v1", "Widget")
    assert Handler.seen == []
    clock[0] += kube.UNKNOWN_TTL_S  # another application may have installed the CRD since
    with pytest.raises(kube.UnknownKind):
        cluster.resource("example.com/v1", "Widget")
    assert Handler.seen != []
