"""Fetching charts outside the sandbox, against HTTP servers on 127.0.0.1: a redirect never
carries the credential to another origin, a token realm must be the registry's own origin,
an index too large to parse is refused before parsing, and constraints are bounded."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator

import pytest

from shared.adapters import charts
from shared.core import versions


class _Server:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (path, Authorization)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("Authorization", "")))
                status, headers, body = owner.routes.get(self.path.split("?")[0], (404, {}, b""))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def servers(monkeypatch) -> Iterator[tuple[_Server, _Server]]:
    good, evil = _Server(), _Server()
    creds = {good.url + "/": {"username": "victim", "password": "S3CRET"}}
    monkeypatch.setenv("GITOPS_REPO_CREDENTIALS", json.dumps(creds))
    yield good, evil
    good.httpd.shutdown()
    evil.httpd.shutdown()


def test_an_index_redirected_to_another_host_is_refused_and_the_credential_stays(servers):
    good, evil = servers
    good.routes["/repo/index.yaml"] = (302, {"Location": f"{evil.url}/steal/index.yaml"}, b"")
    with pytest.raises(charts.ChartError, match="redirected to another host"):
        charts.resolve(f"{good.url}/repo", "web", "*")
    assert good.seen[0][1].startswith("Basic ")  # the credential goes to its own repository
    assert evil.seen == []


def test_a_redirect_to_cloud_metadata_is_refused(servers):
    good, _ = servers
    good.routes["/repo/index.yaml"] = (302, {"Location": "http://169.254.169.254/computeMetadata/v1/"}, b"")
    with pytest.raises(charts.ChartError, match="refused"):
        charts.resolve(f"{good.url}/repo", "web", "*")


def test_an_oci_blob_may_move_to_a_storage_host_but_without_the_credential(servers, monkeypatch, tmp_path):
    good, evil = servers
    monkeypatch.setenv("GITOPS_CHART_CACHE", str(tmp_path))
    evil.routes["/blob"] = (200, {}, b"chart bytes")
    good.routes["/v2/charts/web/blobs/sha256:x"] = (307, {"Location": f"{evil.url}/blob"}, b"")
    data = charts._get(f"{good.url}/v2/charts/web/blobs/sha256:x", f"oci://{good.url[7:]}/charts", 1024,
                       foreign_redirects=True)  # fmt: skip
    assert data == b"chart bytes"
    assert evil.seen == [("/blob", "")]


def test_a_token_realm_on_another_port_is_refused(servers):
    good, evil = servers
    with pytest.raises(charts.ChartError, match="another origin"):
        charts._token({"realm": f"{evil.url}/token", "service": "x"}, f"oci://{good.url[7:]}/charts")
    assert evil.seen == []


def test_an_index_with_too_many_nodes_is_refused_before_parsing(servers):
    good, _ = servers
    body = b"entries:\n  web: [" + b"{}," * (charts.MAX_INDEX_NODES + 1) + b"{}]\n"
    good.routes["/repo/index.yaml"] = (200, {}, body)
    with pytest.raises(charts.ChartError, match="YAML nodes"):
        charts.resolve(f"{good.url}/repo", "web", "*")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (">1.0.0||" * 20 + ">1.0.0", "more than 16 alternatives"),
        ("^" + "9" * 300, "longer than 256 characters"),
        ("1" * 40, "is not a version"),
    ],
)
def test_constraints_are_bounded(text, error):
    with pytest.raises(versions.ConstraintError, match=error):
        versions.constraint(text)


def test_an_index_listing_too_many_versions_is_refused():
    with pytest.raises(versions.ConstraintError, match="versions"):
        versions.resolve("*", [f"1.0.{i}" for i in range(versions.MAX_VERSIONS + 1)])


def test_the_archive_cache_keeps_the_most_recently_used_within_its_bound(monkeypatch, tmp_path):
    monkeypatch.setenv("GITOPS_CHART_CACHE", str(tmp_path))
    monkeypatch.setattr(charts, "MAX_CACHE_BYTES", 3500)
    digests = []
    for i, when in enumerate((100, 200, 300)):
        data = bytes([i]) * 1000
        digest = hashlib.sha256(data).hexdigest()
        charts._keep(digest, data)
        os.utime(tmp_path / f"{digest}.tgz", (when, when))
        digests.append(digest)
    assert charts.archive(digests[0]) is not None  # used now: the most recent
    charts._keep(hashlib.sha256(b"x" * 1000).hexdigest(), b"x" * 1000)
    kept = {p.stem for p in tmp_path.glob("*.tgz")}
    assert digests[0] in kept and digests[1] not in kept and len(kept) == 3
