"""The kube adapter's requests against a small HTTP server on 127.0.0.1 (no API server
needed): the impersonation header on every request, /version read once per TTL, and an
answer that is not JSON ("404 page not found" for a group no longer served, after its CRD
was deleted) becoming a KubeError the callers handle, not a crash."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from kubernetes import client as kclient

from shared.adapters import kube


class Handler(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        Handler.seen.append((self.path, self.headers.get("Impersonate-User", "")))
        if self.path == "/version":
            body, status, kind = (
                json.dumps({"major": "1", "minor": "29+", "gitVersion": "v1.29.4-gke.1"}),
                200,
                "json",
            )
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
