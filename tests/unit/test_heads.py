"""Target heads: one ref listing per repository, however many applications share it, and a
render request at a head (a small git HTTP server on 127.0.0.1 serves the listings)."""

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator

import pytest

from shared.adapters import git
from shared.core.model import AppSpec
from shared.steps import heads

MAIN, TAG = "a" * 40, "b" * 40


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def _advertisement() -> bytes:
    refs = [(MAIN, b"HEAD"), (MAIN, b"refs/heads/main"), (TAG, b"refs/tags/v1")]
    out = _pkt(b"# service=git-upload-pack\n") + b"0000"
    for i, (sha, ref) in enumerate(refs):
        out += _pkt(sha.encode() + b" " + ref + (b"\0side-band-64k ofs-delta\n" if i == 0 else b"\n"))
    return out + b"0000"


class _Server:
    def __init__(self, status: int) -> None:
        self.listings = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.listings += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(_advertisement() if status == 200 else b"")

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/x.git"


@pytest.fixture
def server() -> Iterator[Callable[..., _Server]]:
    started: list[_Server] = []

    def start(status: int = 200) -> _Server:
        started.append(_Server(status))
        return started[-1]

    yield start
    for s in started:
        s.http.shutdown()
        s.http.server_close()


def test_one_listing_per_repository_however_many_apps_share_it(server):
    repo = server()
    listed = heads.Heads()
    assert listed.of(AppSpec(name="a", repoURL=repo.url)) == ("", MAIN)
    assert listed.of(AppSpec(name="b", repoURL=repo.url, targetRevision="main")) == ("refs/heads/main", MAIN)
    assert listed.of(AppSpec(name="c", repoURL=repo.url, targetRevision="v1")) == ("refs/tags/v1", TAG)
    assert listed.of(AppSpec(name="d", repoURL=repo.url, targetRevision="gone")) is None
    assert repo.listings == 1


def test_a_failed_listing_raises_and_is_tried_again_or_is_no_head_said_once(server, capsys):
    broken = server(404)
    spec = AppSpec(name="a", repoURL=broken.url)
    listed = heads.Heads()
    for _ in range(2):
        with pytest.raises(git.FetchError):
            listed.of(spec)
    assert broken.listings == 2
    quiet = heads.Heads()
    assert quiet.of_or_none(spec) is None and quiet.of_or_none(spec) is None
    assert broken.listings == 3
    logged = capsys.readouterr()
    assert (logged.out + logged.err).count("cannot list refs") == 1


def test_a_render_at_a_head_follows_the_target():
    req = heads.render_at("a", ("refs/heads/main", MAIN), operation="op", triggered_by="sweep:op")
    assert (req.app, req.commit, req.ref, req.initiator) == ("a", MAIN, "refs/heads/main", "sweep")
    assert (req.operation, req.triggered_by, req.prune, req.before) == ("op", "sweep:op", False, "")
