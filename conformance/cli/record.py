"""``runmodel record``: a recording reverse proxy on loopback, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel record``'s arguments."""
    parser.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the API to forward to, with its path prefix, e.g. https://api.openai.com/v1",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="TRACE",
        help="the trace file to write (an existing trace is kept unless --force)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite the trace file if it already exists"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port (default 0: pick a free one and print it)"
    )
    parser.add_argument(
        "--redact",
        action="store_true",
        help="replace message text and tool-call arguments/outputs in the trace",
    )
    parser.add_argument(
        "--allow-remote-bind",
        action="store_true",
        help="allow listening on a non-loopback address (anyone who reaches it uses your key)",
    )


def run(args: argparse.Namespace) -> int:
    """Proxy and record until Ctrl-C or SIGTERM; exit 0 then, 2 on unusable arguments."""
    from ..proxy import RecordingProxy, UpstreamError, check_upstream
    from ..serving import is_loopback, raise_interrupt

    def fail(message: str) -> int:
        print(f"runmodel record: {message}", file=sys.stderr)
        return 2

    try:
        check_upstream(args.upstream)
    except UpstreamError as exc:
        return fail(f"--upstream {args.upstream!r}: {exc}")
    if not is_loopback(args.host) and not args.allow_remote_bind:
        return fail(
            f"--host {args.host} is not a loopback address; "
            "add --allow-remote-bind to listen there anyway"
        )
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port} is not a port number (0-65535)")
    output = Path(args.output)
    if output.is_file() and output.stat().st_size and not args.force:
        return fail(
            f"{args.output} already exists; choose another file, or add --force to overwrite it"
        )
    try:
        proxy = RecordingProxy(args.upstream, args.output, args.host, args.port, redact=args.redact)
    except OSError as exc:
        where = exc.filename if exc.filename else f"{args.host}:{args.port}"
        return fail(f"cannot use {where}: {exc.strerror or exc}")
    print(f"runmodel record: listening on {proxy.base_url}", flush=True)
    print(f"  forwarding to {proxy.upstream}, recording to {args.output}", flush=True)
    print(f"  export OPENAI_BASE_URL={proxy.base_url}", flush=True)
    print("  Ctrl-C stops", flush=True)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():  # SIGTERM stops as cleanly
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the footer off
            signal.signal(sig, signal.SIG_IGN)
        proxy.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    n = proxy.recorder.count
    print(
        f"runmodel record: stopped; {n} entr{'y' if n == 1 else 'ies'} in {args.output}"
        + (f" ({proxy.recorder.lost} lost)" if proxy.recorder.lost else ""),
        flush=True,
    )
    return 0
