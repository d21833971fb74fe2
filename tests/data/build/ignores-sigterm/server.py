"""A model server as many are written: the standard library's HTTP server and no signal
handling at all. As a container's PID 1 it ignores SIGTERM (the kernel drops signals that PID 1
has no handler for), so only the image's stop signal decides how fast it stops."""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}' if self.path == "/healthz" else b"{}"
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"serving on :{port}", flush=True)
    HTTPServer(("0.0.0.0", port), Handler).serve_forever()  # noqa: S104
