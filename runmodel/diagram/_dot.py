"""DOT and SVG renderers: a `Diagram` as a `graphviz.Digraph`, and its SVG through Graphviz's `dot`.

Style carries the facts: line style and weight show the grade, colour shows the actor, a double
border marks a terminal status, a yellow fill a settled one; a legend under the drawing names them.
The DOT text is deterministic (model order, no timestamps), so generated files diff cleanly.
"""

from __future__ import annotations

from typing import Any

from .. import Actor, Grade, RunmodelError
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
    Grade.DOCUMENTED: "thick line",
    Grade.OBSERVED: "thin line",
    Grade.INFERRED: "dashed, permissive only",
    Grade.DISPUTED: "dotted, permissive only",
}
_UNEXERCISED = "#9a9a9a"
_NODE_STYLE = {
    NodeKind.UNSETTLED: {"style": "rounded"},
    NodeKind.SETTLED: {"style": "rounded,filled,bold", "fillcolor": "#fff1b0"},
    NodeKind.TERMINAL: {"style": "rounded,filled", "fillcolor": "#ececec", "peripheries": "2"},
}


class GraphvizNotFound(RunmodelError, RuntimeError):
    """SVG was asked for but Graphviz's `dot` program is not on PATH."""

    def __init__(self) -> None:
        super().__init__(
            "SVG needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "others: https://graphviz.org/download/) and run again."
        )


def to_dot(diagram: Diagram) -> Any:
    """The diagram as a `graphviz.Digraph` (typed Any: the graphviz package ships no types).

    The title and a compact legend form the graph's label, under the drawing and as wide as it,
    so the layout keeps the whole width and its labels stay legible at a docs page's width.
    """
    import graphviz

    g = graphviz.Digraph(diagram.name)
    g.attr(rankdir="LR", fontname=_FONT, fontsize="15", nodesep="0.45", ranksep="0.35")
    g.attr(label=_legend(diagram), labelloc="b", labeljust="c")
    g.attr("node", shape="box", fontname=_FONT, fontsize="16", margin="0.12,0.05")
    g.attr("edge", fontname=_FONT, fontsize="14")
    g.node(_INITIAL, "", shape="point", width="0.18", tooltip="created")
    for node in diagram.nodes:
        g.node(node.name, _node_label(node), tooltip=node.status.meaning, **_NODE_STYLE[node.kind])
    for edge in (diagram.created_by, *diagram.edges):
        g.edge(
            edge.source or _INITIAL, edge.dest, edge.label, tooltip=edge.tooltip(), **_look(edge)
        )
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


def _legend(diagram: Diagram) -> str:
    """The title and one legend row per kind of key (grades, actors, statuses), as an HTML
    label: every letter the edge labels use, each actor in its colour, each kind of status."""
    legend = diagram.legend

    def cell(text: str, **attrs: str) -> str:
        extra = "".join(f' {k.upper()}="{v}"' for k, v in attrs.items())
        return f"<TD{extra}>{text}</TD>"

    grades = [cell(f"<B>{g.letter}</B> {g.value}: {_GRADE_LOOK[g]}") for g in legend.grades]
    actors = [
        cell(f'<FONT COLOR="{_ACTOR_COLOUR[a]}"><B>{a.value}</B></FONT>') for a in legend.actors
    ]
    if legend.coverage:
        actors.append(
            cell(f'<FONT COLOR="{_UNEXERCISED}"><B>grey</B></FONT>: count 0, never taken')
        )
    kinds = [
        cell(
            f"{kind.value}: {legend.describe(kind)}",
            border="2" if kind is NodeKind.TERMINAL else "1",
            bgcolor=_NODE_STYLE[kind].get("fillcolor", "white"),
            style="rounded",
        )
        for kind in legend.kinds
    ]
    rows = [
        ("edge label: trigger · actor · grades", grades),
        (f"line colour: who moves the {diagram.name.replace('_', ' ')}", actors),
        ("box: the status", kinds),
    ]
    body = "".join(
        f'<TR><TD ALIGN="RIGHT">{head}</TD>{"".join(cells)}</TR>' for head, cells in rows
    )
    title = _html(diagram.title)
    return (
        f'<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="2">'
        f'<TR><TD COLSPAN="6"><FONT POINT-SIZE="17"><B>{title}</B></FONT></TD></TR>'
        f'<TR><TD COLSPAN="6"><TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3">{body}'
        "</TABLE></TD></TR>"
        "</TABLE>>"
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _coloured(colour: str) -> dict[str, str]:
    return {"color": colour, "fontcolor": colour}
