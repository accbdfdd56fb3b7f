"""Writing diagrams to files: one file per lifecycle and format, named after the view."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

from .. import Lifecycle, Strictness
from ._dot import GraphvizNotFound, dot_source, svg
from ._mermaid import mermaid
from ._model import Coverage, Diagram, extract

__all__ = ["FORMATS", "render_coverage", "svg_available", "write_diagrams"]

FORMATS: tuple[str, ...] = ("dot", "mmd", "svg")
"""The file formats, in the order they are written (SVG last: it alone needs Graphviz)."""

_RENDER = {"dot": dot_source, "mmd": mermaid, "svg": svg}


def svg_available() -> bool:
    """Whether Graphviz's `dot` program, which lays out the SVG, is on PATH."""
    return shutil.which("dot") is not None


def _file_stem(diagram: Diagram) -> str:
    """The file name without extension: ``run``, ``run.strict``, ``run.coverage``, …"""
    strict = ".strict" if diagram.strictness is Strictness.STRICT else ""
    cover = ".coverage" if diagram.legend.coverage else ""
    return f"{diagram.name}{strict}{cover}"


def write_diagrams(
    lifecycle: Lifecycle,
    out_dir: Path,
    formats: Collection[str] = FORMATS,
    *,
    strictness: Strictness = Strictness.PERMISSIVE,
    coverage: Coverage | None = None,
) -> tuple[Path, ...]:
    """Write the lifecycle's diagram to `out_dir` in each format; return the paths written.

    Raises `GraphvizNotFound` before writing anything when SVG is asked for without `dot`.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(
            f"unknown diagram format(s): {', '.join(unknown)}; known: {', '.join(FORMATS)}"
        )
    if "svg" in formats and not svg_available():
        raise GraphvizNotFound()
    diagram = extract(lifecycle, strictness, coverage)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in FORMATS:
        if fmt in formats:
            path = out_dir / f"{_file_stem(diagram)}.{fmt}"
            path.write_text(_RENDER[fmt](diagram), encoding="utf-8", newline="\n")
            written.append(path)
    return tuple(written)


def render_coverage(
    lifecycle: Lifecycle,
    coverage: Coverage,
    out_dir: Path,
    formats: Collection[str] = FORMATS,
    *,
    strictness: Strictness = Strictness.PERMISSIVE,
) -> tuple[Path, ...]:
    """Write a coverage diagram (``<name>.coverage.<fmt>``): counts on edges, untaken ones grey.

    `coverage` maps (source, dest) to how often the move was seen; ("", initial) counts creations.
    """
    return write_diagrams(lifecycle, out_dir, formats, strictness=strictness, coverage=coverage)
