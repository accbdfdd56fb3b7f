"""``runmodel fuzz FILE.py:FUNCTION``: property-test a client function from the command line.

Exit codes: 0 every property held, 1 a counterexample (printed), 2 unusable arguments (a file
that cannot be loaded, a missing function, a script that is not one).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["configure", "load_function", "run"]


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


def run(args: argparse.Namespace) -> int:
    """Fuzz the function; print a counterexample or a summary."""
    from .emulator import ScriptError
    from .harness import ClientCheckFailed, check_client

    try:
        fn = load_function(args.target)
        if args.max_examples < 1:
            raise _Unusable("--max-examples must be at least 1")
    except _Unusable as exc:
        print(f"runmodel fuzz: {exc}", file=sys.stderr)
        return 2
    reproduce = (
        f"runmodel fuzz {args.target} --contract {args.contract} --strictness {args.strictness}"
    )
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
                reproduce=reproduce + ' --scenario "{scenario}"',
            )
    except ScriptError as exc:
        print(f"runmodel fuzz: --scenario: {exc}", file=sys.stderr)
        return 2
    except ClientCheckFailed as failed:
        if args.format == "json":
            print(
                json.dumps(
                    {"result": "counterexample", **failed.counterexample.as_dict()}, indent=2
                )
            )
        else:
            print(failed)
        return 1
    if args.format == "json":
        print(json.dumps({"result": "passed", **summary.as_dict()}, indent=2))
    else:
        print(summary.render())
    return 0
