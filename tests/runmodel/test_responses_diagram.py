"""The response lifecycle's diagrams: the disputed cancelled→completed edge is drawn as the other
untrusted edges are (dotted, permissive view only), and the legend says what a terminal box means
when an untrusted edge leaves one."""

from __future__ import annotations

import re

from runmodel import RESPONSE, RUN, Actor, Edge, Evidence, Lifecycle, Status, Strictness
from runmodel.diagram import NodeKind, dot_source, extract, mermaid


def _dot_edge(dot: str, source: str, dest: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if re.match(rf"\s*{source} -> {dest} \[", ln)]
    return line


def test_the_disputed_edge_is_dotted_and_permissive_only() -> None:
    edge = RESPONSE.edge("cancelled", "completed", Strictness.PERMISSIVE)
    assert edge is not None
    assert edge.evidence.label == "X"
    dot = dot_source(extract(RESPONSE, Strictness.PERMISSIVE))
    assert "style=dotted" in _dot_edge(dot, "cancelled", "completed")
    assert "cancelled --> completed : complete · server · X" in mermaid(extract(RESPONSE))
    strict = extract(RESPONSE, Strictness.STRICT)
    assert ("cancelled", "completed") not in {(d.source, d.dest) for d in strict.edges}
    assert "cancelled -> completed" not in dot_source(strict)


def test_the_legend_says_only_an_untrusted_edge_leaves_a_terminal_box() -> None:
    permissive, strict = extract(RESPONSE), extract(RESPONSE, Strictness.STRICT)
    assert permissive.legend.terminal_exits
    assert permissive.legend.describe(NodeKind.TERMINAL) == "nothing trusted leaves it"
    assert "terminal: nothing trusted leaves it" in dot_source(permissive)
    assert "terminal (nothing trusted leaves it)" in mermaid(permissive)
    assert not strict.legend.terminal_exits
    assert "terminal: nothing leaves it" in dot_source(strict)
    assert not extract(RUN).legend.terminal_exits


def test_a_terminal_exit_is_found_in_any_lifecycle() -> None:
    ev = Evidence.of("D", "spec")
    lc = Lifecycle(
        "toy",
        statuses=[
            Status("open", "open", ev),
            Status("shut", "shut", ev, terminal=True),
            Status("done", "done", ev, terminal=True),
        ],
        initial="open",
        created_by=Edge("", "open", "make", Actor.CLIENT, ev),
        edges=[
            Edge("open", "shut", "shut", Actor.CLIENT, ev),
            Edge("open", "done", "finish", Actor.SERVER, ev),
            Edge("shut", "done", "finish", Actor.SERVER, Evidence.of("X", "a report")),
        ],
    )
    assert extract(lc).legend.terminal_exits
    assert not extract(lc, Strictness.STRICT).legend.terminal_exits


def test_the_colour_legend_names_the_lifecycle() -> None:
    assert "line colour: who moves the response" in dot_source(extract(RESPONSE))
    assert "line colour: who moves the run<" in dot_source(extract(RUN))
