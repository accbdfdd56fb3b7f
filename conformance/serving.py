"""Serving a stdlib HTTP handler on loopback from a thread: what `runmodel serve` and
`runmodel record` share."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BackgroundServer", "LoopbackHTTPServer", "is_loopback", "raise_interrupt"]


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (a wider bind needs the user's explicit leave)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler: stop serving as Ctrl-C does, so the trace gets its footer."""
    raise KeyboardInterrupt


class LoopbackHTTPServer(ThreadingHTTPServer):
    """The threading server both use; `owner` is the `BackgroundServer` running it."""

    daemon_threads = True
    block_on_close = False
    owner: Any  # the BackgroundServer, for the handler to reach its state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (closing a kept-alive connection, or resetting it) is normal
        traffic, not an error worth a traceback; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Server6(LoopbackHTTPServer):
    address_family = socket.AF_INET6


class BackgroundServer:
    """A threading HTTP server on `host`:`port` (0: a free port), served in this thread
    (`serve_forever`) or from a daemon thread (`start`, or a ``with`` block); `close` stops it."""

    thread_name = "runmodel-server"

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        cls = _Server6 if ":" in host else LoopbackHTTPServer
        self.httpd = cls((host, port), handler)
        self.httpd.owner = self
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    def url(self, path: str = "") -> str:
        """``http://host:port`` followed by `path` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def serve_forever(self) -> None:
        """Serve in this thread until `stop` from another thread (or Ctrl-C)."""
        self.httpd.serve_forever(poll_interval=0.1)

    def start(self) -> Any:
        """Serve from a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self.serve_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def close(self) -> None:
        """Stop; subclasses also release what they hold."""
        self.stop()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
