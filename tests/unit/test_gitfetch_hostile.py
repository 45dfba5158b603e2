"""A hostile git server on 127.0.0.1: what a ref listing takes is bounded in bytes and time,
odd ref names are left out, and only network repositories are fetched at all."""

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from shared.adapters import git

SHA = b"a" * 40


def pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def advertisement(*refs: bytes) -> bytes:
    out = pkt(b"# service=git-upload-pack\n") + b"0000"
    for i, ref in enumerate(refs):
        out += pkt(SHA + b" " + ref + (b"\0multi_ack side-band-64k ofs-delta\n" if i == 0 else b"\n"))
    return out + b"0000"


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[http.server.BaseHTTPRequestHandler], None]], str]]:
    servers = []

    def start(respond: Callable[[http.server.BaseHTTPRequestHandler], None]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    respond(self)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/x.git"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_endless_ref_advertisement_is_cut_at_the_byte_limit(serve, monkeypatch):
    monkeypatch.setattr(git, "MAX_REFS_BYTES", 1 << 20)
    stop = threading.Event()

    def endless(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.wfile.write(pkt(b"# service=git-upload-pack\n") + b"0000")
        handler.wfile.write(pkt(SHA + b" refs/heads/a\0side-band-64k\n"))
        n = 0
        while not stop.is_set():
            n += 1
            handler.wfile.write(pkt(SHA + b" refs/heads/" + b"x" * 60_000 + str(n).encode() + b"\n"))

    url = serve(endless)
    t0 = time.monotonic()
    with pytest.raises(git.FetchError, match="more than 1,048,576 bytes"):
        git.ls_remote(url)
    stop.set()
    assert time.monotonic() - t0 < 20


def test_a_drip_feed_ends_at_the_deadline(serve, monkeypatch):
    monkeypatch.setattr(git, "LIST_SECONDS", 1.0)
    stop = threading.Event()

    def drip(handler: http.server.BaseHTTPRequestHandler) -> None:
        for byte in advertisement(b"refs/heads/main"):
            if stop.is_set():
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.3)

    url = serve(drip)
    t0 = time.monotonic()
    with pytest.raises(git.FetchError, match=r"took longer than 1s \(limit\)"):
        git.ls_remote(url)
    stop.set()
    assert time.monotonic() - t0 < 5


def test_ref_names_that_are_not_utf8_are_left_out(serve):
    url = serve(lambda h: h.wfile.write(advertisement(b"refs/heads/main", b"refs/heads/\xff\xfe")))
    assert git.ls_remote(url) == {"refs/heads/main": SHA.decode()}


@pytest.mark.parametrize(
    "url",
    ["/work/main", "file:///work/main", "../other/repo", "ext::sh -c id", "http://127.0.0.1:1/a/../b.git"],
)
def test_only_network_repositories_are_listed_or_fetched(url):
    with pytest.raises(git.Refused, match="repository URL"):
        git.ls_remote(url)
    with pytest.raises(git.Refused, match="repository URL"):
        git.fetch(url, "a" * 40)
