"""``runmodel diagram``: regenerate the lifecycle diagrams (DOT, Mermaid, SVG) into a folder.

With no options it rewrites the committed ``diagrams/`` folder: every lifecycle, permissive
view, every format. Without Graphviz's `dot` the DOT and Mermaid files are still written and
the missing SVG is reported on stderr; that is an error (exit 2) only when SVG was asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._options import add_strictness

__all__ = ["configure", "run"]

_NAMES = {"dot": "DOT", "mmd": "Mermaid", "svg": "SVG"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``diagram`` subcommand's arguments."""
    from runmodel import LIFECYCLES, Strictness
    from runmodel.diagram import FORMATS

    parser.add_argument(
        "--lifecycle",
        choices=[*LIFECYCLES, "all"],
        default="all",
        help="which lifecycle to draw (default: all)",
    )
    add_strictness(
        parser,
        Strictness.PERMISSIVE,
        "permissive draws every edge, styled by grade (default); strict only D and O edges",
    )
    parser.add_argument(
        "--format",
        type=_formats,
        default=None,
        metavar="LIST",
        help=f"comma-separated formats among {','.join(FORMATS)} (default: all of them)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder to write into (default: diagrams, or coverage with --coverage)",
    )
    parser.add_argument(
        "--coverage",
        nargs="+",
        type=Path,
        default=None,
        metavar="TRACE",
        help="draw how often recorded traffic took each edge (any format `runmodel check` reads)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the diagrams; print each path written; 2 if an asked-for format could not be made."""
    from runmodel import LIFECYCLES, Strictness
    from runmodel.diagram import FORMATS, GraphvizNotFound, svg_available, write_diagrams

    chosen = list(LIFECYCLES.values()) if args.lifecycle == "all" else [LIFECYCLES[args.lifecycle]]
    if args.output is None:
        args.output = Path("coverage" if args.coverage else "diagrams")
    counts: dict[str, dict[tuple[str, str], int]] = {}
    if args.coverage:
        missing = [str(p) for p in args.coverage if not p.is_file()]
        if missing:
            what = "not a file" if all(Path(m).exists() for m in missing) else "no such file"
            print(f"runmodel diagram: {what}: {', '.join(missing)}", file=sys.stderr)
            return 2
        counts, usable = _coverage(args.coverage, Strictness(args.strictness))
        if not usable:
            names = ", ".join(map(str, args.coverage))
            print(
                f"runmodel diagram: nothing to draw coverage from: {names} held no run, "
                "step or message (`runmodel check` says why); nothing written",
                file=sys.stderr,
            )
            return 2
    asked: tuple[str, ...] | None = args.format
    formats = asked if asked is not None else FORMATS
    no_svg = "svg" in formats and not svg_available()
    if no_svg:
        formats = tuple(f for f in formats if f != "svg")
    try:
        for lifecycle in chosen if formats else ():
            coverage = counts.get(lifecycle.name, {}) if args.coverage else None
            for path in write_diagrams(
                lifecycle,
                args.output,
                formats,
                strictness=Strictness(args.strictness),
                coverage=coverage,
            ):
                print(f"wrote {path}")
    except OSError as exc:
        print(f"runmodel diagram: cannot write to {args.output}: {exc}", file=sys.stderr)
        return 2
    if no_svg:
        others = " and ".join(_NAMES[f] for f in formats)
        done = f" The {others} files were written." if others else ""
        print(f"runmodel diagram: no SVG written. {GraphvizNotFound()}{done}", file=sys.stderr)
        return 2 if asked is not None else 0
    return 0


def _formats(text: str) -> tuple[str, ...]:
    from runmodel.diagram import FORMATS

    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or '(none)'}; choose from {','.join(FORMATS)}"
        )
    return names


def _coverage(
    paths: list[Path], strictness: Any
) -> tuple[dict[str, dict[tuple[str, str], int]], int]:
    """Edge counts over every trace, and how many observations were read (0: unusable input);
    input problems are counted and left to `runmodel check`."""
    from ..check import edge_coverage
    from ..observations import Exchange, InputProblem, Snapshot, StreamEvent
    from ..readers import read

    problems = usable = 0

    def items() -> Iterator[Any]:
        nonlocal problems, usable
        for path in paths:
            for item in read(path):
                if isinstance(item, InputProblem):
                    problems += 1
                elif isinstance(item, (Exchange, Snapshot, StreamEvent)):
                    usable += 1
                yield item

    counts = edge_coverage(items(), strictness)
    if problems:
        print(
            f"runmodel diagram: {problems} input problem(s) skipped; `runmodel check` locates them",
            file=sys.stderr,
        )
    return counts, usable
