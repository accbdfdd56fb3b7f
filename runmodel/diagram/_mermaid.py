"""Mermaid renderer: a `Diagram` as ``stateDiagram-v2`` text, which GitHub draws inside Markdown.

Mermaid's state diagrams cannot style single transitions, so each label carries the grade
(``submit_tool_outputs · client · D``) and a legend note explains the letters; terminal statuses
lead to ``[*]`` and are bold; a settled status is filled and says "(settled)" in its box. Under
coverage, labels end in the count and statuses never reached are grey and dashed.
"""

from __future__ import annotations

from .. import Lifecycle, Strictness
from ._model import Diagram, NodeKind, extract

__all__ = ["mermaid", "readme_snippet"]

_UNREACHED = "unreached"
_UNREACHED_STYLE = "fill:#f4f4f4,color:#9a9a9a,stroke:#9a9a9a,stroke-dasharray:4 3"

_CLASS_DEF = {
    NodeKind.SETTLED: "fill:#fff1b0,stroke:#8a6d00,stroke-width:2px",
    NodeKind.TERMINAL: "fill:#ececec,stroke:#333,stroke-width:3px,font-weight:bold",
}


def mermaid(diagram: Diagram) -> str:
    """The diagram as Mermaid ``stateDiagram-v2`` source, ending in a newline."""
    lines = [
        "stateDiagram-v2",
        f"    %% {diagram.title}",
        "    %% Generated from the runmodel model by `runmodel diagram`; do not edit by hand.",
    ]
    kinds = [kind for kind in _CLASS_DEF if kind in diagram.legend.kinds]
    lines += [f"    classDef {kind.value} {_CLASS_DEF[kind]}" for kind in kinds]
    unreached = _unreached(diagram)
    if unreached:
        lines.append(f"    classDef {_UNREACHED} {_UNREACHED_STYLE}")
    for node in diagram.nodes:
        if node.kind is NodeKind.SETTLED:
            lines.append(f'    state "{node.name} ({node.kind.value})" as {node.name}')
    lines.append(f"    [*] --> {diagram.created_by.dest} : {diagram.created_by.label}")
    lines += [f"    {e.source} --> {e.dest} : {e.label}" for e in diagram.edges]
    lines += [f"    {n.name} --> [*]" for n in diagram.nodes if n.kind is NodeKind.TERMINAL]
    for kind in kinds:
        names = ",".join(
            n.name for n in diagram.nodes if n.kind is kind and n.name not in unreached
        )
        if names:
            lines.append(f"    class {names} {kind.value}")
    if unreached:
        names = ",".join(n.name for n in diagram.nodes if n.name in unreached)
        lines.append(f"    class {names} {_UNREACHED}")
    lines += [f"    note right of {diagram.created_by.dest}", *_legend(diagram), "    end note"]
    return "\n".join(lines) + "\n"


def _unreached(diagram: Diagram) -> set[str]:
    """Under coverage, the statuses no taken edge touches: Mermaid cannot grey a transition, so
    it greys these, and each untaken edge's label ends in ``0×``."""
    if not diagram.legend.coverage:
        return set()
    taken = [e for e in (diagram.created_by, *diagram.edges) if e.exercised]
    touched = {e.dest for e in taken} | {e.source for e in taken}
    return {n.name for n in diagram.nodes if n.name not in touched}


def readme_snippet(lifecycle: Lifecycle, strictness: Strictness = Strictness.PERMISSIVE) -> str:
    """The lifecycle's Mermaid diagram as a fenced ```` ```mermaid ```` block, for Markdown.

    At the default strictness its body is the committed ``diagrams/<name>.mmd``, so a pasted
    copy can be checked against it.
    """
    return f"```mermaid\n{mermaid(extract(lifecycle, strictness))}```\n"


def _legend(diagram: Diagram) -> list[str]:
    legend = diagram.legend
    grades = ", ".join(f"{g.letter} {g.value}" for g in legend.grades)
    lines = [
        "legend",
        "edge label: trigger · actor · grades",
        f"grades: {grades}",
        f"actors: {', '.join(a.value for a in legend.actors)}",
    ]
    if diagram.strictness is Strictness.PERMISSIVE:
        if not all(g.trusted for g in legend.grades):
            lines.append("I and X edges are admitted by permissive checks only")
    elif legend.coverage:
        lines.append("strict view: I and X edges shown only when taken")
    else:
        lines.append("strict view: I and X edges hidden")
    if NodeKind.TERMINAL in legend.kinds:
        lines.append(f"bold, arrow to the end dot: terminal ({legend.describe(NodeKind.TERMINAL)})")
    if NodeKind.SETTLED in legend.kinds:
        lines.append(f"filled: settled ({NodeKind.SETTLED.description})")
    if legend.coverage:
        lines.append("N× after a label: times taken, 0× never taken")
        lines.append("grey dashed box: a status no taken edge reached")
    return lines
