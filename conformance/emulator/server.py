"""``runmodel serve``: the emulator over real HTTP, for clients in other processes or languages.

A standard-library ``ThreadingHTTPServer`` (loopback by default) in front of `Emulator.handle`;
keep-alive HTTP/1.1, streams sent with chunked transfer encoding. The clock is real (optionally
sped up with ``--speed``), so a client that sleeps between polls sees the script unfold.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler
from typing import Any

from runmodel import RESPONSE

from ..serving import BackgroundServer, LoopbackHTTPServer
from .api import Emulator
from .clock import ClientInterrupted
from .wire import StreamDropped

__all__ = ["EmulatorServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator keeps its own request log (``--verbose`` prints one line each)."""

    def _log(self, status: str, run_status: str | None) -> None:
        if self.server.owner.verbose:
            run = f" ({self._kind()} {run_status})" if run_status else ""
            print(f"  {self.command} {self.path} → {status}{run}", file=sys.stderr, flush=True)

    def _kind(self) -> str:
        return "response" if self.path.startswith("/v1/responses") else "run"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        try:
            emulator: Emulator = self.server.owner.emulator
            reply = emulator.handle(self.command, path, query, self.headers, body)  # type: ignore[arg-type]
        except ClientInterrupted:  # a budget or a hook stopped this client: hang up on it
            reply = None
        except Exception:  # an emulator bug: say so, and answer 500
            traceback.print_exc()
            self.send_error(500, "emulator error")
            self._log("500 (emulator error)", None)
            return
        if reply is None or reply.drop:
            self._log("connection dropped" if reply else "hung up (client stopped)", None)
            self.close_connection = True
            with contextlib.suppress(OSError):  # already gone
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        # `send_response` without its Date header by the wall clock: the reply has the emulator's
        self.log_request(reply.status)
        self.send_response_only(reply.status)
        self.send_header("Server", self.version_string())
        for key, value in reply.headers:
            self.send_header(key, value)
        if reply.stream is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self._log(str(reply.status), _run_status(reply.body))  # before the client has it
            self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        last: str | None = None
        try:
            for chunk in reply.stream:
                last = _streamed_status(chunk) or last
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away mid-stream
            self.close_connection = True
            self._log(f"{reply.status} stream, cut by the client", last)
            return
        except StreamDropped:  # an injected fault: close without the body's last chunk
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            self._log(f"{reply.status} stream, dropped mid-way", last)
            return
        self._log(f"{reply.status} stream", last)

    do_GET = do_POST = do_DELETE = _answer


class EmulatorServer(BackgroundServer):
    """An `Emulator` served over HTTP on `host`:`port` (0: a free port; see `base_url`).

    Use as a context manager to serve from a background thread, or call `serve_forever`.
    """

    thread_name = "runmodel-serve"

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
    ) -> None:
        super().__init__(_Handler, host, port)
        self.emulator = emulator
        self.verbose = verbose
        """Print one line per request on stderr: method, path, status, the run's or response's
        status."""

    @property
    def base_url(self) -> str:
        """The URL to give an SDK client as ``base_url``."""
        return self.url("/v1")


def _run_status(body: bytes) -> str | None:
    """The status a JSON reply shows, if it is a run or a response."""
    if b'"thread.run"' not in body and b'"response"' not in body:
        return None
    with contextlib.suppress(ValueError):
        obj = json.loads(body)
        if isinstance(obj, dict) and obj.get("object") in ("thread.run", "response"):
            return None if obj.get("status") is None else str(obj["status"])
    return None


def _streamed_status(chunk: bytes) -> str | None:
    """The status an SSE chunk announces (``event: thread.run.<status>`` or a response's
    lifecycle event), if any."""
    line = chunk.split(b"\n", 1)[0]
    if line.startswith(b"event: thread.run."):
        name = line.removeprefix(b"event: thread.run.").decode(errors="replace")
        return None if name.startswith("step") else name
    name = line.removeprefix(b"event: response.").decode(errors="replace")
    return name if line.startswith(b"event: response.") and name in RESPONSE.statuses else None
