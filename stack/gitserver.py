"""A git server speaking the smart HTTP protocol (dulwich), for the local stack and tests.

Serves every repository under ROOT at http://127.0.0.1:PORT/<name>, fetch and push.
Usage: python -m stack.gitserver ROOT PORT
"""

from __future__ import annotations

import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich.server import BackendRepo, FileSystemBackend
from dulwich.web import make_wsgi_chain


class _RootBackend(FileSystemBackend):
    """Repositories under one folder; URL paths arrive with a leading slash."""

    def open_repository(self, path: str | bytes) -> BackendRepo:
        if isinstance(path, bytes):
            path = path.decode()
        return super().open_repository(path.lstrip("/"))


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("gitserver: " + (format % args) + "\n")


def serve(root: str, port: int) -> None:
    app = make_wsgi_chain(_RootBackend(root))
    server = make_server("127.0.0.1", port, app, server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
