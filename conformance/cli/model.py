"""``runmodel model``: print the model — statuses, edges, field rules and links, with grades."""

from __future__ import annotations

import argparse
import sys

from runmodel import LIFECYCLES, Strictness

from ._options import add_strictness

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``model`` subcommand's arguments."""
    parser.add_argument(
        "--lifecycle",
        choices=[*LIFECYCLES, "all"],
        default="all",
        help="which lifecycle to print (default: all)",
    )
    add_strictness(
        parser,
        Strictness.PERMISSIVE,
        "permissive prints every fact with its grade (default); strict only D and O facts",
    )
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="text (default) or json"
    )


def run(args: argparse.Namespace) -> int:
    """Print the chosen lifecycles at the chosen strictness; always 0."""
    from runmodel.show import model_json, model_text

    names = list(LIFECYCLES) if args.lifecycle == "all" else [args.lifecycle]
    strictness = Strictness(args.strictness)
    if args.format == "json":
        sys.stdout.write(model_json(names, strictness))
    else:
        sys.stdout.write(model_text(names, strictness))
    return 0
