"""The former home of the ``runmodel`` command, kept so that ``from runmodel.cli import main``
and ``python -m runmodel`` keep working. The command line is the kit's, in `conformance.cli`;
this is the model's one reference to the kit, imported only when called."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``runmodel`` command line (`conformance.cli.main`); returns the exit code."""
    from conformance.cli import main as kit_main

    return kit_main(argv)
