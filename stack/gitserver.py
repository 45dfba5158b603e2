"""A git server speaking the smart HTTP protocol (dulwich), for the local stack and tests.

Serves every repository under ROOT at http://127.0.0.1:PORT/<name>, fetch and push.
Repositories under ROOT/private/ need HTTP basic auth with the user:password in the
environment variable GITOPS_GIT_AUTH (a private repository, for the credential tests).
Usage: python -m stack.gitserver ROOT PORT
"""

from __future__ import annotations

import base64
import hmac
import os
import socketserver
import sys
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich import web
from dulwich.server import BackendRepo, FileSystemBackend
from dulwich.web import make_wsgi_chain

# dulwich's client sends a whole pack as one HTTP chunk, and its server refuses chunks
# over 1 MiB: allow pushes of big test repositories (GitHub takes pushes up to 2 GiB).
MAX_CHUNK_BYTES = 256 * 1024 * 1024


class _RootBackend(FileSystemBackend):
    """Repositories under one folder; URL paths arrive with a leading slash."""

    def open_repository(self, path: str | bytes) -> BackendRepo:
        if isinstance(path, bytes):
            path = path.decode()
        path = path.strip("/")
        if not path.endswith(".git") and os.path.isdir(os.path.join(self.root, path + ".git")):
            path += ".git"  # like GitHub, answer for the repository with or without .git
        return super().open_repository(path)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("gitserver: " + (format % args) + "\n")


def _basic_auth(app: Callable, credential: str) -> Callable:
    expected = "Basic " + base64.b64encode(credential.encode()).decode()

    def guarded(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/private/") and not hmac.compare_digest(
            environ.get("HTTP_AUTHORIZATION", ""), expected
        ):
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Type", "text/plain")],
            )
            return [b"authentication required\n"]
        return app(environ, start_response)

    return guarded


def serve(root: str, port: int) -> None:
    web._chunk_iter.__defaults__ = (MAX_CHUNK_BYTES, max(web.MAX_REQUEST_SIZE, MAX_CHUNK_BYTES))
    app = make_wsgi_chain(_RootBackend(root))
    if os.environ.get("GITOPS_GIT_AUTH"):
        app = _basic_auth(app, os.environ["GITOPS_GIT_AUTH"])
    server = make_server(
        "127.0.0.1", port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
