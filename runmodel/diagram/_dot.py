"""DOT and SVG renderers: a `Diagram` as a `graphviz.Digraph`, and its SVG through Graphviz's `dot`.

Style carries the facts: line style and weight show the grade, colour shows the actor, a double
border marks a terminal status, a yellow fill a settled one; a legend cluster names each style.
The DOT text is deterministic (model order, no timestamps), so generated files diff cleanly.
"""

from __future__ import annotations

from typing import Any

from .._core import Actor, Grade
from ._model import Diagram, DiagramEdge, DiagramNode, NodeKind

__all__ = ["GraphvizNotFound", "dot_source", "svg", "to_dot"]

_FONT = "Helvetica,Arial,sans-serif"
_INITIAL = "_initial"  # the pseudo-node the creating edge starts from

_ACTOR_COLOUR = {Actor.SERVER: "#1f5fa8", Actor.CLIENT: "#c05600", Actor.CLOCK: "#7a3b9e"}
_GRADE_STYLE = {
    Grade.DOCUMENTED: {"style": "solid", "penwidth": "2.2"},
    Grade.OBSERVED: {"style": "solid", "penwidth": "1"},
    Grade.INFERRED: {"style": "dashed", "penwidth": "1.4"},
    Grade.DISPUTED: {"style": "dotted", "penwidth": "1.8"},
}
_GRADE_LOOK = {
    Grade.DOCUMENTED: "thick solid",
    Grade.OBSERVED: "thin solid",
    Grade.INFERRED: "dashed; permissive only",
    Grade.DISPUTED: "dotted; permissive only",
}
_UNEXERCISED = "#9a9a9a"
_NODE_STYLE = {
    NodeKind.UNSETTLED: {"style": "rounded"},
    NodeKind.SETTLED: {"style": "rounded,filled,bold", "fillcolor": "#fff1b0"},
    NodeKind.TERMINAL: {"style": "rounded,filled", "fillcolor": "#ececec", "peripheries": "2"},
}


class GraphvizNotFound(RuntimeError):
    """SVG was asked for but Graphviz's `dot` program is not on PATH."""

    def __init__(self) -> None:
        super().__init__(
            "SVG needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "others: https://graphviz.org/download/) and run again."
        )


def to_dot(diagram: Diagram) -> Any:
    """The diagram as a `graphviz.Digraph` (typed Any: the graphviz package ships no types)."""
    import graphviz

    g = graphviz.Digraph(diagram.name)
    g.attr(rankdir="LR", label=diagram.title, labelloc="t", fontname=_FONT, fontsize="16")
    g.attr("node", shape="box", fontname=_FONT, fontsize="12")
    g.attr("edge", fontname=_FONT, fontsize="10")
    g.node(_INITIAL, "", shape="point", width="0.18", tooltip="created")
    for node in diagram.nodes:
        g.node(node.name, _node_label(node), tooltip=node.status.meaning, **_NODE_STYLE[node.kind])
    for edge in (diagram.created_by, *diagram.edges):
        g.edge(
            edge.source or _INITIAL, edge.dest, edge.label, tooltip=edge.tooltip(), **_look(edge)
        )
    with g.subgraph(name="cluster_legend") as legend:
        _legend(legend, diagram)
    return g


def dot_source(diagram: Diagram) -> str:
    """The DOT text of the diagram, ending in a newline."""
    source: str = to_dot(diagram).source
    return source if source.endswith("\n") else source + "\n"


def svg(diagram: Diagram) -> str:
    """The diagram as SVG text, laid out by Graphviz's `dot`; raises `GraphvizNotFound`."""
    import graphviz

    try:
        out: str = to_dot(diagram).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFound() from exc
    return out


def _node_label(node: DiagramNode) -> str:
    return f"{node.name}\\n(settled)" if node.kind is NodeKind.SETTLED else node.name


def _look(edge: DiagramEdge) -> dict[str, str]:
    colour = _ACTOR_COLOUR[edge.actor] if edge.exercised else _UNEXERCISED
    return {**_coloured(colour), **_GRADE_STYLE[edge.grade]}


def _legend(g: Any, diagram: Diagram) -> None:
    """Draw one sample per style the diagram uses: grades, actors, status kinds, coverage."""
    legend = diagram.legend
    g.attr(label="legend", style="rounded", color="#bbbbbb", fontsize="12")
    g.attr("node", shape="plaintext", fontsize="10", height="0.3")
    samples = [
        (gr.letter, f"{gr.letter} {gr.value} ({_GRADE_LOOK[gr]})", _GRADE_STYLE[gr])
        for gr in legend.grades
    ]
    samples += [(a.value, a.value, _coloured(_ACTOR_COLOUR[a])) for a in legend.actors]
    if legend.coverage:
        samples.append(("unexercised", "count 0: never taken", _coloured(_UNEXERCISED)))
    for key, text, look in samples:
        g.node(f"_legend_{key}", text)
        g.node(f"_legend_{key}_end", "", shape="point", width="0.05")
        g.edge(f"_legend_{key}", f"_legend_{key}_end", **look)
    for kind in legend.kinds:
        text = f"{kind.value}: {kind.description}"
        g.node(f"_legend_{kind.value}", text, shape="box", **_NODE_STYLE[kind])


def _coloured(colour: str) -> dict[str, str]:
    return {"color": colour, "fontcolor": colour}
