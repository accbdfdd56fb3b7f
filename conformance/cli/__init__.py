"""The ``runmodel`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which provides ``configure(parser)`` to declare its
arguments and ``run(args) -> int`` to do the work; heavy imports stay inside ``run`` so that
``runmodel --help`` is instant. Exit codes: 0 success/conforms, 1 violations/counterexample,
2 unusable input or arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

# subcommand → module providing configure(parser) and run(args)
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("conformance.demo", "the whole kit on the embedded emulator, in seconds"),
    "model": ("runmodel._show", "print the model: statuses, edges, grades, sources, rules"),
    "diagram": ("runmodel.diagram", "render lifecycle diagrams (DOT, SVG, Mermaid) from the model"),
    "check": ("conformance.check_cli", "check recorded runs against the model"),
    "serve": ("conformance.emulator.server", "serve the emulator over loopback HTTP"),
    "record": ("conformance.proxy", "record any client's traffic through a loopback proxy"),
    "conform": (
        "conformance.conform",
        "check a server: a suite of scenarios, recorded and checked",
    ),
    "fuzz": ("conformance.fuzz_cli", "property-test a client function against the model"),
}


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="runmodel",
        description="A formal model of Assistants API runs, and a conformance kit built on it.",
    )
    parser.add_argument("--version", action="version", version=f"runmodel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by tests as ``main([...])``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
