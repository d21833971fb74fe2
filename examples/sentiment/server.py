"""Serve the sentiment model over HTTP (standard library server, Prometheus metrics).

    GET  /healthz  -> 200 {"status": "ok"} once the weights are loaded
    POST /predict  {"text": "..."} -> {"label": "positive", "score": 0.97}
    GET  /metrics  -> Prometheus text: http_requests_total{status}, model_latency_seconds

PORT (default 8080), MODEL_WEIGHTS (default model/weights.json) and METRICS_PATH (default
/metrics; empty: no metrics endpoint at all, an app that exports nothing) come from the
environment. SIGTERM and SIGINT stop it at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from model import Model
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("http_requests", "HTTP requests to the model API by status code",
                   ["status"])
LATENCY = Histogram("model_latency_seconds", "Time spent in model prediction",
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                             1.0, 2.5))
MAX_BODY = 64 * 1024
METRICS_PATH = os.environ.get("METRICS_PATH", "/metrics")


class Fault(Exception):
    """Raised by a fault hook to make a request fail with 500 (see sentiment-flaky)."""


Hook = Callable[[dict[str, Any]], None]


def make_handler(model: Model, hook: Hook | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sentiment/1"

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  count: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if count:
                REQUESTS.labels(status=str(status)).inc()

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode())

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, b'{"status": "ok"}', count=False)
            elif METRICS_PATH and self.path == METRICS_PATH:
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST, count=False)
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/predict":
                self._json(404, {"error": f"no route {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._json(413, {"error": f"body larger than {MAX_BODY} bytes"})
                    return
                payload = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
                    raise ValueError('expected a JSON object {"text": "..."}')
            except ValueError as e:
                self._json(400, {"error": str(e)})
                return
            try:
                started = time.perf_counter()  # a hook's delay is the model's (sentiment-flaky)
                if hook is not None:
                    hook(payload)
                label, score = model.predict(payload["text"])
                LATENCY.observe(time.perf_counter() - started)
            except Fault as e:
                self._json(500, {"error": str(e)})
                return
            self._json(200, {"label": label, "score": round(score, 4)})

    return Handler


def main(hook: Hook | None = None) -> None:
    port = int(os.environ.get("PORT", "8080"))
    weights = Path(os.environ.get("MODEL_WEIGHTS", "model/weights.json"))
    model = Model.load(weights)
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(model, hook))  # noqa: S104
    # SIGTERM (docker stop, pod deletion) stops the server as Ctrl-C does. As PID 1 in a
    # container a signal without a handler is ignored, and the stop would wait out the grace
    # period before SIGKILL.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print(f"serving {weights} ({len(model.vocab)} features) on :{port}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
