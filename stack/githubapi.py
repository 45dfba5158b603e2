"""A stand-in for GitHub's REST API on 127.0.0.1 that records every request (for the local
stack and tests): answers 201 to POST /repos/OWNER/REPO/statuses/SHA and writes one JSON
line per request to FILE. Usage: python -m stack.githubapi FILE PORT"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(record_file: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with open(record_file, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "method": "POST",
                            "path": self.path,
                            "authorization": self.headers.get("Authorization", ""),
                            "body": json.loads(body or b"{}"),
                        }
                    )
                    + "\n"
                )
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
