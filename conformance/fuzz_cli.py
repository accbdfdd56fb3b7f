"""``runmodel fuzz FILE.py:FUNCTION``: property-test a client function from the command line.

Exit codes: 0 every property held, 1 a counterexample (printed), 2 unusable arguments (a file
that cannot be loaded, a missing function, a function the contract cannot call, an openai SDK
the kit cannot drive, a script that is not one), 130 interrupted (what was found so far is
printed). On a terminal, a progress line on stderr says how far the search is.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["ProgressLine", "configure", "load_function", "reproduce_command", "run"]


class _Unusable(Exception):
    """An argument the command cannot use; the message says which and why."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel fuzz``'s arguments."""
    parser.add_argument("target", metavar="FILE.py:FUNCTION", help="the client function to test")
    parser.add_argument(
        "--contract",
        choices=("waiter", "driver"),
        default="waiter",
        help="waiter: returns a settled run; driver: answers every round, returns when terminal",
    )
    parser.add_argument("--max-examples", type=int, default=100, metavar="N")
    parser.add_argument("--seed", type=int, default=None, metavar="S")
    parser.add_argument("--strictness", choices=("strict", "permissive"), default="strict")
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
    parser.add_argument("--format", choices=("text", "json"), default="text")


def load_function(target: str) -> Callable[..., Any]:
    """Import ``FILE.py:FUNCTION`` (the user's own code, by path) and return the function."""
    file, sep, name = target.rpartition(":")
    if not sep or not file or not name:
        raise _Unusable(f"{target!r}: expected FILE.py:FUNCTION")
    path = Path(file)
    if not path.is_file():
        raise _Unusable(f"{file}: no such file")
    spec = importlib.util.spec_from_file_location(f"_runmodel_fuzz_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise _Unusable(f"{file}: not a Python file")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise _Unusable(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise _Unusable(f"{file}: importing it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    fn = getattr(module, name, None)
    if not callable(fn):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise _Unusable(
            f"{file}: no function {name!r}; functions there: {', '.join(found) or 'none'}"
        )
    return fn  # type: ignore[no-any-return]


def reproduce_command(args: argparse.Namespace) -> str:
    """The command that replays a counterexample: every option that shaped the run, and
    ``{scenario}`` for the lifecycle (the search options do not matter for one replay)."""
    words = [
        f"runmodel fuzz {args.target}",
        f"--contract {args.contract}",
        f"--strictness {args.strictness}",
    ]
    if args.future_status:
        words.append("--future-status")
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
    from .emulator import ScriptError
    from .harness import CannotCheck, CheckInterrupted, ClientCheckFailed, check_client

    try:
        fn = load_function(args.target)
        if args.max_examples < 1:
            raise _Unusable("--max-examples must be at least 1")
        if args.hang_after is not None and not args.hang_after > 0:
            raise _Unusable("--hang-after must be a positive number of seconds")
    except _Unusable as exc:
        print(f"runmodel fuzz: {exc}", file=sys.stderr)
        return 2
    progress = ProgressLine(sys.stderr)
    options: dict[str, Any] = {}
    if args.hang_after is not None:
        options["hang_after"] = args.hang_after
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the client's own prints, per example
            summary = check_client(
                fn,
                args.contract,
                strictness=args.strictness,
                max_examples=args.max_examples,
                seed=args.seed,
                scenario=args.scenario,
                future_status=args.future_status,
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
    except ClientCheckFailed as failed:
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
        print(json.dumps({"result": "counterexample", **failed.counterexample.as_dict()}, indent=2))
    else:
        print(failed)
