"""The ``runmodel`` command: one entry point, one subcommand per job, one module per subcommand.

The command line is the kit's top layer: the model (`runmodel`) knows nothing of it. Each
subcommand lives in its own module of this package, named after it, which provides
``configure(parser)`` to declare its arguments and ``run(args) -> int`` to do the work; heavy
imports stay inside ``run`` so that ``runmodel --help`` is instant. Exit codes: 0
success/conforms, 1 violations/counterexample, 2 unusable input or arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from ..compiled import stale

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, str] = {
    "demo": "the whole kit on the embedded emulator, in seconds",
    "model": "print the model: statuses, edges, grades, sources, rules",
    "diagram": "render lifecycle diagrams (DOT, SVG, Mermaid) from the model",
    "check": "check recorded runs against the model",
    "serve": "serve the emulator over loopback HTTP",
    "record": "record any client's traffic through a loopback proxy",
    "conform": "check a server: a suite of scenarios, recorded and checked",
    "fuzz": "property-test a client function against the model",
}
"""Each subcommand and its one-line help; its module is ``conformance.cli.<subcommand>``, which
provides ``configure(parser)`` and ``run(args)``."""


def build_parser() -> argparse.ArgumentParser:
    """The ``runmodel`` parser with every subcommand (each module imported, not yet run)."""
    from runmodel import __version__

    parser = argparse.ArgumentParser(
        prog="runmodel",
        description="A formal model of Assistants API runs, and a conformance kit built on it.",
    )
    parser.add_argument("--version", action="version", version=f"runmodel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"{__name__}.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by tests as ``main([...])``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    old = stale()
    if old:
        print(
            f"runmodel: warning: compiled modules older than the sources run in their place "
            f"({', '.join(old)}); rebuild them with `make compiled`",
            file=sys.stderr,
        )
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
