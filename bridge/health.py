"""Liveness, readiness and metrics over HTTP for the container's probes and scrapers.

* ``/healthz``: 200 while the process serves requests (liveness).
* ``/readyz``: 200 only while connected and subscribed to the broker *and* able to
  publish to Pub/Sub; 503 with the reason otherwise.
* ``/metrics``: the counters as Prometheus text.

A stdlib server on its own daemon thread: no web framework for three GET routes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bridge.metrics import BridgeMetrics

__all__ = ["HealthServer"]


class HealthServer:
    """Serves the three routes until :meth:`close`."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: BridgeMetrics,
        not_ready_reason: Callable[[], str | None],
    ) -> None:
        handler = _handler_class(metrics, not_ready_reason)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bridge-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_class(
    metrics: BridgeMetrics, not_ready_reason: Callable[[], str | None]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, "ok\n")
            elif self.path == "/readyz":
                reason = not_ready_reason()
                if reason is None:
                    self._answer(200, "ready\n")
                else:
                    self._answer(503, f"not ready: {reason}\n")
            elif self.path == "/metrics":
                self._answer(200, metrics.prometheus_text(), "text/plain; version=0.0.4")
            else:
                self._answer(404, "not found\n")

        def _answer(self, status: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Probes hit these routes every few seconds: keep them out of the logs."""

    return Handler
