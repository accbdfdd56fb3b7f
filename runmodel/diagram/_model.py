"""What a lifecycle diagram shows, as plain data, and its extraction from the model.

`extract` reads a `Lifecycle` at a strictness (and, optionally, edge coverage) into a `Diagram`;
the renderers only decide how each fact looks, so DOT and Mermaid can never disagree on content.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from .. import Actor, Edge, Grade, Lifecycle, Status, Strictness

__all__ = ["Diagram", "DiagramEdge", "DiagramNode", "EdgeCounts", "Legend", "NodeKind", "extract"]

EdgeCounts = Mapping[tuple[str, str], int]
"""How often each move was seen: (source, dest) → count; the creating move is ("", initial)."""


class NodeKind(str, enum.Enum):
    """How a status is drawn: unsettled (a poller waits on), settled but not terminal, terminal."""

    UNSETTLED = "unsettled"
    SETTLED = "settled"
    TERMINAL = "terminal"

    @property
    def description(self) -> str:
        """What the kind means to a reader, for legends."""
        return _KIND_TEXT[self]


_KIND_TEXT = {
    NodeKind.UNSETTLED: "a poller waits on",
    NodeKind.SETTLED: "a poller stops here, but it is not the end",
    NodeKind.TERMINAL: "nothing leaves it",
}


@dataclass(frozen=True, slots=True)
class DiagramNode:
    """One status, with the kind that sets its style and whether the lifecycle starts there."""

    status: Status
    kind: NodeKind
    initial: bool

    @property
    def name(self) -> str:
        return self.status.name


@dataclass(frozen=True, slots=True)
class DiagramEdge:
    """One edge of the model, with its coverage count when coverage was given (else None)."""

    edge: Edge
    count: int | None = None

    @property
    def source(self) -> str:
        """The source status; "" for the creating edge, drawn from the initial pseudo-node."""
        return self.edge.source

    @property
    def dest(self) -> str:
        return self.edge.dest

    @property
    def grade(self) -> Grade:
        """The primary grade, which sets the line style."""
        return self.edge.grade

    @property
    def actor(self) -> Actor:
        return self.edge.actor

    @property
    def exercised(self) -> bool:
        """False only when coverage was given and this edge was never taken."""
        return self.count is None or self.count > 0

    @property
    def label(self) -> str:
        """``trigger · actor · grades``, then the count under coverage (e.g. ``· 3×``)."""
        e = self.edge
        text = f"{e.trigger} · {e.actor.value} · {e.evidence.label}"
        if self.count is None:
            return text
        return f"{text} · {self.count}×"

    def tooltip(self) -> str:
        """Grades, sources and note, for renderers that can show a hover text."""
        ev = self.edge.evidence
        return f"{ev.cite()} — {ev.note}" if ev.note else ev.cite()


@dataclass(frozen=True, slots=True)
class Legend:
    """Which styles a diagram uses (in model order), so a renderer draws only those keys; `grades`
    are every letter a label shows (``D/O`` brings O), not only the primary grades."""

    grades: tuple[Grade, ...]
    actors: tuple[Actor, ...]
    kinds: tuple[NodeKind, ...]
    coverage: bool
    terminal_exits: bool = False
    """Whether a shown edge leaves a terminal status (only an untrusted one can)."""

    def describe(self, kind: NodeKind) -> str:
        """What a kind of status means in this diagram, for its legend."""
        if kind is NodeKind.TERMINAL and self.terminal_exits:
            return "nothing trusted leaves it"
        return kind.description


@dataclass(frozen=True, slots=True)
class Diagram:
    """A lifecycle at a strictness: nodes, the creating edge, the shown edges, and the legend."""

    name: str
    strictness: Strictness
    nodes: tuple[DiagramNode, ...]
    created_by: DiagramEdge
    edges: tuple[DiagramEdge, ...]
    legend: Legend

    @property
    def title(self) -> str:
        """A one-line caption saying which view this is."""
        if self.strictness is Strictness.PERMISSIVE:
            view = "permissive view: every edge, with its grade"
        elif self.legend.coverage:
            view = "strict view: documented and observed edges, and any other edge taken"
        else:
            view = "strict view: documented and observed edges only"
        cover = "; coverage counts" if self.legend.coverage else ""
        return f"{self.name} lifecycle ({view}{cover})"


def extract(
    lifecycle: Lifecycle,
    strictness: Strictness = Strictness.PERMISSIVE,
    coverage: EdgeCounts | None = None,
) -> Diagram:
    """Read a lifecycle into a `Diagram`: the edges `strictness` admits, in declaration order.

    With `coverage`, every edge carries its count (0 when absent), and an edge the strictness
    hides is shown anyway if it was taken. A count for a move the model lacks is a ValueError.
    """
    if coverage is not None:
        _check_coverage(lifecycle, coverage)

    def count(e: Edge) -> int | None:
        return None if coverage is None else coverage.get((e.source, e.dest), 0)

    edges = tuple(
        DiagramEdge(e, count(e))
        for e in lifecycle.all_edges
        if strictness.admits(e.evidence) or (count(e) or 0) > 0
    )
    created_by = DiagramEdge(lifecycle.created_by, count(lifecycle.created_by))
    nodes = tuple(
        DiagramNode(lifecycle.status(name), _kind(lifecycle, name), name == lifecycle.initial)
        for name in lifecycle.statuses
    )
    drawn = (created_by, *edges)
    legend = Legend(
        grades=tuple(g for g in Grade if any(g in d.edge.evidence.grades for d in drawn)),
        actors=tuple(a for a in Actor if any(d.actor is a for d in drawn)),
        kinds=tuple(k for k in NodeKind if any(n.kind is k for n in nodes)),
        coverage=coverage is not None,
        terminal_exits=any(d.source in lifecycle.terminal for d in edges),
    )
    return Diagram(lifecycle.name, strictness, nodes, created_by, edges, legend)


def _kind(lifecycle: Lifecycle, name: str) -> NodeKind:
    if name in lifecycle.terminal:
        return NodeKind.TERMINAL
    if name in lifecycle.settled:
        return NodeKind.SETTLED
    return NodeKind.UNSETTLED


def _check_coverage(lifecycle: Lifecycle, coverage: EdgeCounts) -> None:
    known = {(e.source, e.dest) for e in (lifecycle.created_by, *lifecycle.all_edges)}
    unknown = sorted(key for key in coverage if key not in known)
    if unknown:
        moves = ", ".join(f"{a or '(new)'} → {b}" for a, b in unknown)
        raise ValueError(
            f"{lifecycle.name}: coverage counts moves the model does not have: {moves}"
        )
    negative = sorted(key for key, n in coverage.items() if n < 0)
    if negative:
        moves = ", ".join(f"{a or '(new)'} → {b}" for a, b in negative)
        raise ValueError(f"{lifecycle.name}: negative coverage counts for: {moves}")
