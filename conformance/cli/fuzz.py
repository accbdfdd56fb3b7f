"""``runmodel fuzz FILE.py:FUNCTION``: property-test a client function from the command line.

``--contract poller|poller-app|stream|tool-loop`` checks a client of background responses (the
Responses API) instead of runs: a poller ``f(client, response_id)`` (or ``f(client)`` that
creates its own), a stream consumer ``f(client)``, a tool loop ``f(client, tools)``.

Exit codes: 0 every property held, 1 a counterexample (printed), 2 unusable arguments (a file
that cannot be loaded, a missing function, a function the contract cannot call, an openai SDK
the kit cannot drive, a script that is not one), 130 interrupted (what was found so far is
printed). On a terminal, a progress line on stderr says how far the search is.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from runmodel import RunmodelError

from ._options import add_strictness

__all__ = [
    "RESPONSE_CONTRACTS",
    "ProgressLine",
    "configure",
    "load_function",
    "reproduce_command",
    "run",
]

RESPONSE_CONTRACTS = ("poller", "poller-app", "stream", "tool-loop")
"""The contracts of a background-responses client (the others are a run's)."""
_RUN_ONLY = ("setup", "assistant", "future_status")


class _Unusable(RunmodelError):
    """An argument the command cannot use; the message says which and why."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel fuzz``'s arguments."""
    parser.add_argument(
        "target",
        metavar="FILE.py:FUNCTION",
        help="the client function to test; also package.module:FUNCTION, and …:Class.method "
        "with --setup",
    )
    parser.add_argument(
        "--contract",
        choices=("waiter", "driver", "app", *RESPONSE_CONTRACTS),
        default="waiter",
        help="waiter: returns a settled run; driver: answers every round, returns when "
        "terminal; app: creates its own runs (on the thread and assistant it is given) and "
        "leaves none active. Background responses: poller: f(client, response_id) returns the "
        "response terminal, at the pace given, cancelling what it gives up on; poller-app: "
        "f(client) creates its own background response and polls it so; stream: f(client) "
        "creates a background stream and resumes it after a drop from the last event received; "
        "tool-loop: f(client, tools) answers every round of function calls with a chained "
        "background response",
    )
    parser.add_argument(
        "--setup",
        default=None,
        metavar="HOOK",
        help="FILE.py:FUNCTION or package.module:FUNCTION that builds the object whose method "
        "is the target, as hook(client) or hook(client, thread_id, run_or_assistant_id)",
    )
    parser.add_argument("--max-examples", type=int, default=100, metavar="N")
    parser.add_argument("--seed", type=int, default=None, metavar="S")
    add_strictness(parser)
    parser.add_argument(
        "--scenario",
        default=None,
        metavar="SCRIPT",
        help="replay one lifecycle instead of searching",
    )
    parser.add_argument(
        "--future-status",
        action="store_true",
        help="also check the client survives a status the model does not know yet",
    )
    parser.add_argument(
        "--hang-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="real seconds one lifecycle may take before the client is reported as blocked "
        "(default 10)",
    )
    parser.add_argument(
        "--raises-on-failure",
        action="store_true",
        help="the client may raise once its run or response has ended unsuccessfully (as many "
        "libraries do)",
    )
    parser.add_argument(
        "--no-cancel",
        action="store_true",
        help="no other party cancels the run",
    )
    parser.add_argument(
        "--no-stay",
        action="store_true",
        help="(responses) the server moves every response to its end: leave out a response "
        "left queued or in progress for good",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="the least sleep between two polls the client is configured with "
        "(default: the server's openai-poll-after-ms, 1 s; for responses, which send no "
        "hint, 1 s)",
    )
    parser.add_argument(
        "--assistant",
        default=None,
        metavar="FILE.json",
        help="the create body of the assistant the client is given (name, model, tools, …)",
    )
    parser.add_argument(
        "--tools",
        default=None,
        metavar="FILE.json",
        help="the client's tools (a JSON list, or an object with a 'tools' list); each round "
        "calls them with arguments drawn from their JSON Schemas",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


def load_function(target: str, setup: str | None = None, contract: str = "waiter") -> Any:
    """Import the target (the user's own code, by path or module name) and return the client
    function; with `setup`, one that builds the object with the hook and calls its method."""
    from ..targets import TargetError, load_target

    try:
        return load_target(target, setup, contract)
    except TargetError as exc:
        raise _Unusable(str(exc)) from None


def _load_json(option: str, file: str) -> Any:
    try:
        return json.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _Unusable(f"{option} {file}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise _Unusable(f"{option} {file}:{exc.lineno}: not JSON: {exc.msg}") from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """check_client's options from the command line (`_Unusable` for files it cannot use)."""
    from ..tools import ToolsError, load_tools

    options: dict[str, Any] = {}
    if args.raises_on_failure:
        options["raises_on_failure"] = True
    if args.no_cancel:
        options["cancel"] = False
    if args.poll_interval is not None:
        if not args.poll_interval >= 0:
            raise _Unusable("--poll-interval must be a number of seconds, 0 or more")
        options["poll_interval"] = args.poll_interval
    if args.assistant is not None:
        body = _load_json("--assistant", args.assistant)
        if not isinstance(body, dict) or not isinstance(body.get("model", "gpt-4o"), str):
            raise _Unusable(f"--assistant {args.assistant}: expected an assistant's create body")
        body.setdefault("model", "gpt-4o")
        options["assistant"] = body
    if args.tools is not None:
        try:
            options["tools"] = load_tools(args.tools)
        except ToolsError as exc:
            raise _Unusable(f"--tools {exc}") from None
    return options


def reproduce_command(args: argparse.Namespace) -> str:
    """The command that replays a counterexample: every option that shaped the run, and
    ``{scenario}`` for the lifecycle (the search options do not matter for one replay)."""
    words = [
        f"runmodel fuzz {args.target}",
        f"--contract {args.contract}",
        f"--strictness {args.strictness}",
    ]
    if getattr(args, "setup", None):
        words.append(f"--setup {args.setup}")
    for flag in ("raises_on_failure", "no_cancel", "no_stay", "future_status"):
        if getattr(args, flag, False):
            words.append("--" + flag.replace("_", "-"))
    if getattr(args, "poll_interval", None) is not None:
        words.append(f"--poll-interval {args.poll_interval:g}")
    for option in ("assistant", "tools"):
        if getattr(args, option, None) is not None:
            words.append(f"--{option} {getattr(args, option)}")
    if args.hang_after is not None:
        words.append(f"--hang-after {args.hang_after:g}")
    return " ".join([*words, '--scenario "{scenario}"'])


class ProgressLine:
    """A one-line progress report on a terminal, rewritten in place at most ten times a second;
    nothing at all when the stream is not a terminal (piped output stays plain)."""

    def __init__(self, stream: Any, prefix: str = "") -> None:
        self.stream = stream
        self.prefix = prefix
        self.on = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        self.width = 0

    def __call__(self, state: Any) -> None:
        """Show a search's `conformance.harness.Progress` (lifecycles tried, the phase)."""
        found = f", {state.failures} failing" if state.failures else ""
        self.show(f"{state.phase}: {state.lifecycles} lifecycles tried{found}")

    def show(self, text: str, *, now: bool = False) -> None:
        if not self.on:
            return
        clock = time.perf_counter()
        if not now and clock - self.last < 0.1:
            return
        self.last = clock
        text = self.prefix + text
        self.stream.write("\r" + text.ljust(self.width))
        self.width = len(text)
        self.stream.flush()

    def clear(self) -> None:
        if self.on and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def run(args: argparse.Namespace) -> int:
    """Fuzz the function; print a counterexample or a summary."""
    if args.contract in RESPONSE_CONTRACTS:
        return _run_responses(args)
    if getattr(args, "no_stay", False):
        print("runmodel fuzz: --no-stay is for the response contracts", file=sys.stderr)
        return 2
    from ..harness import ClientCheckFailed, check_client

    try:
        fn = load_function(args.target, args.setup, args.contract)
        options = _options(args)
        if args.max_examples < 1:
            raise _Unusable("--max-examples must be at least 1")
        if args.hang_after is not None and not args.hang_after > 0:
            raise _Unusable("--hang-after must be a positive number of seconds")
    except _Unusable as exc:
        print(f"runmodel fuzz: {exc}", file=sys.stderr)
        return 2
    if args.hang_after is not None:
        options["hang_after"] = args.hang_after
    return _search(
        args, check_client, ClientCheckFailed, fn, future_status=args.future_status, **options
    )


def _search(
    args: argparse.Namespace,
    check: Any,
    failed_type: type[Exception],
    fn: Any,
    **options: Any,
) -> int:
    """Search with `check` (a run's or a response's); print a counterexample or a summary, and
    answer the exit code: 0 passed, 1 a counterexample, 2 unusable, 130 interrupted."""
    from ..emulator import ScriptError
    from ..harness import CannotCheck, CheckInterrupted

    progress = ProgressLine(sys.stderr)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the client's own prints, per example
            summary = check(
                fn,
                args.contract,
                strictness=args.strictness,
                max_examples=args.max_examples,
                seed=args.seed,
                scenario=args.scenario,
                reproduce=reproduce_command(args),
                progress=progress,
                **options,
            )
    except CannotCheck as exc:
        progress.clear()
        print(f"runmodel fuzz: {args.target}: {exc}", file=sys.stderr)
        return 2
    except ScriptError as exc:
        progress.clear()
        print(f"runmodel fuzz: --scenario: {exc}", file=sys.stderr)
        return 2
    except failed_type as failed:
        progress.clear()
        _print_failure(failed, args.format)
        return 1
    except CheckInterrupted as stopped:
        progress.clear()
        tried = stopped.summary.examples
        print(
            f"runmodel fuzz: interrupted after {tried} lifecycle{'s' * (tried != 1)}",
            file=sys.stderr,
        )
        if stopped.found is not None:
            _print_failure(stopped.found, args.format)
        elif args.format == "json":
            print(json.dumps({"result": "interrupted", **stopped.summary.as_dict()}, indent=2))
        else:
            print(f"interrupted: nothing failed so far\n{stopped.summary.render()}")
        return 130
    progress.clear()
    if args.format == "json":
        print(json.dumps({"result": "passed", **summary.as_dict()}, indent=2))
    else:
        print(summary.render())
    return 0


def _print_failure(failed: Any, form: str) -> None:
    if form == "json":
        every = [c.as_dict() for c in failed.counterexamples]
        first = failed.counterexample.as_dict()
        print(json.dumps({"result": "counterexample", **first, "counterexamples": every}, indent=2))
    else:
        print(failed)


def _response_options(args: argparse.Namespace) -> dict[str, Any]:
    """check_response_client's options from the command line (`_Unusable` for the run's own
    options and for files it cannot use)."""
    from ..harness.response_runner import response_tools
    from ..tools import ToolsError, load_tools

    for name in _RUN_ONLY:
        if getattr(args, name, None):
            flag = "--" + name.replace("_", "-")
            raise _Unusable(f"{flag} is for the run contracts, not --contract {args.contract}")
    options: dict[str, Any] = {
        "cancel": not args.no_cancel,
        "stay": not args.no_stay,
        "raises_on_failure": args.raises_on_failure,
    }
    if args.poll_interval is not None:
        if not args.poll_interval >= 0:
            raise _Unusable("--poll-interval must be a number of seconds, 0 or more")
        options["poll_interval"] = args.poll_interval
    if args.tools is not None:
        if args.contract != "tool-loop":
            raise _Unusable(f"--tools is for --contract tool-loop, not {args.contract}")
        try:
            options["tools"] = response_tools(load_tools(args.tools))
        except ToolsError as exc:
            raise _Unusable(f"--tools {exc}") from None
        if not options["tools"]:
            raise _Unusable(f"--tools {args.tools}: no function tool")
    if args.max_examples < 1:
        raise _Unusable("--max-examples must be at least 1")
    if args.hang_after is not None:
        if not args.hang_after > 0:
            raise _Unusable("--hang-after must be a positive number of seconds")
        options["hang_after"] = args.hang_after
    return options


def _run_responses(args: argparse.Namespace) -> int:
    """Fuzz a background-responses client; print a counterexample or a summary."""
    from ..harness.response_results import ResponseCheckFailed
    from ..harness.response_search import check_response_client

    try:
        options = _response_options(args)
        fn = load_function(args.target, None, args.contract)
    except _Unusable as exc:
        print(f"runmodel fuzz: {exc}", file=sys.stderr)
        return 2
    return _search(args, check_response_client, ResponseCheckFailed, fn, **options)
