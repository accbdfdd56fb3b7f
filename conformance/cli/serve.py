"""``runmodel serve``: the emulator over loopback HTTP (Assistants runs and Responses API
responses), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ._options import add_strictness

__all__ = ["configure", "run"]


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
        "--response-script",
        metavar="SCRIPT",
        help='every response\'s script (POST /v1/responses), e.g. "start+1, complete(2)+3", '
        '"start+1, fail(server_error)+2" or "start+1, stop_incomplete(max_output_tokens)+2" '
        "(default: a plain reply, or one function call when the response has a function tool "
        "and answers no earlier round)",
    )
    add_strictness(parser, help="which model edges scripts may use (default: strict)")
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
        help='random faults, e.g. "rate_limit=0.1,server_error=0.05,disconnect=0.01,slow=0.1"; '
        "stream_drop=P breaks a stream off after 3 events; lost_reply=P acts on a request but "
        "loses its reply",
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
        help="print each request on stderr: method, path, status, the run's or response's status",
    )


def _options(args: argparse.Namespace) -> str:
    """The options the emulator runs with, for the banner: what a user may want to check."""
    script = args.script or "default (a plain reply; one function round with a function tool)"
    response = args.response_script or "default (a plain reply; one call with a function tool)"
    return (
        f"script: {script}; faults: {args.faults or 'none'}; speed: {args.speed:g}x; "
        f"latency: {args.latency:g} s; poll-after-ms: {args.poll_after_ms}; "
        f"strictness: {args.strictness}; seed: {args.seed}; response script: {response}"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; exit 0 then, 2 on unusable arguments."""
    from ..emulator import Clock, Emulator
    from ..emulator.faults import parse_faults
    from ..emulator.response_script import parse_response_script
    from ..emulator.script import ScriptError, parse_script
    from ..emulator.server import EmulatorServer
    from ..serving import is_loopback, raise_interrupt

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
        response_script = (
            None
            if args.response_script is None
            else parse_response_script(args.response_script, strictness=args.strictness)
        )
    except ScriptError as exc:
        return fail(f"--response-script: {exc}")
    try:
        rates = parse_faults(args.faults) if args.faults else {}
    except ValueError as exc:
        return fail(f"--faults: {exc}")
    emulator = Emulator(
        strictness=args.strictness,
        script=script,
        response_script=response_script,
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
