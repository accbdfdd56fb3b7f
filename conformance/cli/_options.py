"""Options more than one subcommand declares, declared once."""

from __future__ import annotations

import argparse

from runmodel import Strictness

__all__ = ["STRICTNESS_CHOICES", "add_strictness"]

STRICTNESS_CHOICES = tuple(s.value for s in Strictness)
"""The values ``--strictness`` accepts: the model's strictness levels, strictest first."""


def add_strictness(
    parser: argparse.ArgumentParser,
    default: Strictness = Strictness.STRICT,
    help: str | None = None,
) -> None:
    """Declare ``--strictness`` with the model's levels as its choices."""
    parser.add_argument(
        "--strictness", choices=STRICTNESS_CHOICES, default=default.value, help=help
    )
