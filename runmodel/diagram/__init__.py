"""Lifecycle diagrams rendered from the model: DOT, SVG (laid out by Graphviz) and Mermaid.

The model is read into plain data (`extract` → `Diagram`), then rendered (`to_dot`, `svg`,
`mermaid`); `write_diagrams` writes files (the kit's ``runmodel diagram`` regenerates
``diagrams/`` with it). `render_coverage` draws how often each edge was taken.
"""

from __future__ import annotations

from ._dot import GraphvizNotFound, dot_source, svg, to_dot
from ._files import FORMATS, render_coverage, svg_available, write_diagrams
from ._mermaid import mermaid, readme_snippet
from ._model import Coverage, Diagram, DiagramEdge, DiagramNode, Legend, NodeKind, extract

__all__ = [
    "FORMATS",
    "Coverage",
    "Diagram",
    "DiagramEdge",
    "DiagramNode",
    "GraphvizNotFound",
    "Legend",
    "NodeKind",
    "dot_source",
    "extract",
    "mermaid",
    "readme_snippet",
    "render_coverage",
    "svg",
    "svg_available",
    "to_dot",
    "write_diagrams",
]
