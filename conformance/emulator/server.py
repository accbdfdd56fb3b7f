"""``runmodel serve``: the emulator over real HTTP, for clients in other processes or languages.

A standard-library ``ThreadingHTTPServer`` (loopback by default) in front of `Emulator.handle`;
keep-alive HTTP/1.1, streams sent with chunked transfer encoding. The clock is real (optionally
sped up with ``--speed``), so a client that sleeps between polls sees the script unfold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..serving import BackgroundServer, LoopbackHTTPServer, is_loopback, raise_interrupt
from .api import Emulator
from .clock import ClientInterrupted

__all__ = ["EmulatorServer", "configure", "run"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator keeps its own request log (``--verbose`` prints one line each)."""

    def _log(self, status: str, run_status: str | None) -> None:
        if self.server.owner.verbose:
            run = f" (run {run_status})" if run_status else ""
            print(f"  {self.command} {self.path} → {status}{run}", file=sys.stderr, flush=True)

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
        """Print one line per request on stderr: method, path, status, the run's status."""

    @property
    def base_url(self) -> str:
        """The URL to give an SDK client as ``base_url``."""
        return self.url("/v1")


def _run_status(body: bytes) -> str | None:
    """The run status a JSON reply shows, if it is a run."""
    if b'"thread.run"' not in body:
        return None
    with contextlib.suppress(ValueError):
        obj = json.loads(body)
        if isinstance(obj, dict) and obj.get("object") == "thread.run":
            return str(obj.get("status"))
    return None


def _streamed_status(chunk: bytes) -> str | None:
    """The run status an SSE chunk announces (``event: thread.run.<status>``), if any."""
    if not chunk.startswith(b"event: thread.run."):
        return None
    name = chunk.split(b"\n", 1)[0].removeprefix(b"event: thread.run.").decode(errors="replace")
    return None if name.startswith("step") else name


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel serve``'s arguments."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port (default 0: pick a free one and print it)"
    )
    parser.add_argument(
        "--script",
        metavar="SCRIPT",
        help='every run\'s script, e.g. "start+1, require_action(2)+3, start+1, complete+1" '
        "(default: a plain reply, or one function round when the run has a function tool)",
    )
    parser.add_argument(
        "--strictness",
        choices=["strict", "permissive"],
        default="strict",
        help="which model edges scripts may use (default: strict)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="extra clock seconds each request takes (default: 0)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="clock seconds per real second, to run scripts faster (default: 1)",
    )
    parser.add_argument(
        "--poll-after-ms",
        type=int,
        default=1000,
        metavar="MS",
        help="openai-poll-after-ms header on run replies (default: 1000)",
    )
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help='random faults, e.g. "rate_limit=0.1,server_error=0.05,disconnect=0.01,slow=0.1"',
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for ids and random faults (default: 0)"
    )
    parser.add_argument(
        "--allow-remote-bind",
        action="store_true",
        help="allow listening on a non-loopback address (anyone who reaches it can use it)",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="print each request on stderr: method, path, status, the run's status",
    )


def _options(args: argparse.Namespace) -> str:
    """The options the emulator runs with, for the banner: what a user may want to check."""
    script = args.script or "default (a plain reply; one function round with a function tool)"
    return (
        f"script: {script}; faults: {args.faults or 'none'}; speed: {args.speed:g}x; "
        f"latency: {args.latency:g} s; poll-after-ms: {args.poll_after_ms}; "
        f"strictness: {args.strictness}; seed: {args.seed}"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; exit 0 then, 2 on unusable arguments."""
    from .clock import Clock
    from .faults import parse_faults
    from .script import ScriptError, parse_script

    def fail(message: str) -> int:
        print(f"runmodel serve: {message}", file=sys.stderr)
        return 2

    if args.speed <= 0:
        return fail("--speed must be positive")
    if args.latency < 0:
        return fail("--latency must not be negative")
    if args.poll_after_ms < 0:
        return fail(f"--poll-after-ms {args.poll_after_ms} must not be negative")
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port} is not a port number (0-65535)")
    if not is_loopback(args.host) and not args.allow_remote_bind:
        return fail(
            f"--host {args.host} is not a loopback address; "
            "add --allow-remote-bind to listen there anyway"
        )
    try:
        script = (
            None if args.script is None else parse_script(args.script, strictness=args.strictness)
        )
    except ScriptError as exc:
        return fail(f"--script: {exc}")
    try:
        rates = parse_faults(args.faults) if args.faults else {}
    except ValueError as exc:
        return fail(f"--faults: {exc}")
    emulator = Emulator(
        strictness=args.strictness,
        script=script,
        clock=Clock(real=True, speed=args.speed),
        latency=args.latency,
        poll_after_ms=args.poll_after_ms,
        seed=args.seed,
    )
    if rates:
        emulator.faults.random(**rates, seed=args.seed)
    try:
        server = EmulatorServer(emulator, args.host, args.port, verbose=args.verbose)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        return fail(f"cannot listen on {args.host}:{args.port}: {reason}")
    print(f"runmodel serve: listening on {server.base_url}", flush=True)
    print(f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=sk-emulator", flush=True)
    print(f"  {_options(args)}", flush=True)
    if not is_loopback(args.host):
        print(
            f"  warning: listening on {args.host}, not loopback: anyone who reaches it can use it",
            flush=True,
        )
    log = "; each request is printed on stderr" if args.verbose else ""
    print(f"  Ctrl-C stops{log}", flush=True)
    previous = None
    if threading.current_thread() is threading.main_thread():  # SIGTERM stops as cleanly
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    n = len(emulator.requests)
    print(f"runmodel serve: stopped after {n} request{'' if n == 1 else 's'}", flush=True)
    return 0
