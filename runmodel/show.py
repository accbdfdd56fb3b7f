"""The model as text and as JSON: statuses, edges, field rules, protocol facts and links, with
grades.

``runmodel model`` prints these.
Text is for people (aligned columns, wrapped to 100 characters); JSON is for programs (stable
keys, model order, sets sorted). Both are read from the model, so they cannot drift from it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

from . import FACTS, LIFECYCLES, LINKS, RULES
from ._core import Edge, Evidence, Grade, Lifecycle, Status, Strictness
from .fields import Fact, FieldRule, Link

__all__ = ["model_json", "model_text"]

_WIDTH = 100
_INDENT = "  "
_NOTE_INDENT = "      "
_NEW = "(new)"  # the source of the creating edge


# -- JSON ------------------------------------------------------------------------------------


def model_json(names: Sequence[str], strictness: Strictness) -> str:
    """The named lifecycles, their rules, protocol facts and links as stable, indented JSON.

    Facts that `strictness` does not admit are left out. A lifecycle's ``facts`` key is there
    only when it has protocol facts (the Assistants lifecycles have none).
    """
    doc = {
        "format": "runmodel-model",
        "format_version": 1,
        "strictness": strictness.value,
        "lifecycles": [
            {
                "name": lc.name,
                "initial": lc.initial,
                "statuses": [
                    {
                        "name": s,
                        "meaning": lc.status(s).meaning,
                        "initial": s == lc.initial,
                        "terminal": s in lc.terminal,
                        "settled": s in lc.settled,
                        **_evidence(lc.status(s).evidence),
                    }
                    for s in lc.statuses
                ],
                "created_by": _edge(lc.created_by),
                "edges": [_edge(e) for e in lc.edges(strictness)],
                "rules": [
                    {
                        "code": r.code,
                        "summary": r.summary,
                        "fields": list(r.fields),
                        "statuses": sorted(r.statuses),
                        "stateful": r.stateful,
                        **_evidence(r.evidence),
                    }
                    for r in RULES[lc.name]
                    if strictness.admits(r.evidence)
                ],
                **_facts_json(lc.name, strictness),
            }
            for lc in (LIFECYCLES[n] for n in names)
        ],
        "links": [
            {
                "code": link.code,
                "lifecycle": link.lifecycle,
                "summary": link.summary,
                "run_statuses": sorted(link.run_statuses),
                "from_statuses": sorted(link.from_statuses),
                "expected": sorted(link.expected),
                "step_type": link.step_type,
                **_evidence(link.evidence),
            }
            for link in _links(names, strictness)
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _edge(e: Edge) -> dict[str, Any]:
    return {
        "source": e.source or None,
        "dest": e.dest,
        "trigger": e.trigger,
        "actor": e.actor.value,
        **_evidence(e.evidence),
    }


def _facts_json(name: str, strictness: Strictness) -> dict[str, Any]:
    """``{"facts": [...]}`` for a lifecycle with protocol facts, else nothing."""
    if not _has_facts(name):
        return {}
    return {
        "facts": [
            {"code": f.code, "summary": f.summary, **_evidence(f.evidence)}
            for f in _facts(name, strictness)
        ]
    }


def _has_facts(name: str) -> bool:
    return any(f.lifecycle == name for f in FACTS.values())


def _facts(name: str, strictness: Strictness) -> list[Fact]:
    """The lifecycle's protocol facts that `strictness` admits, in model order."""
    return [f for f in FACTS.values() if f.lifecycle == name and strictness.admits(f.evidence)]


def _evidence(ev: Evidence) -> dict[str, Any]:
    return {
        "grade": ev.label,
        "grades": [g.value for g in ev.grades],
        "level": ev.level.value,
        "sources": list(ev.sources),
        "note": ev.note,
    }


def _links(names: Sequence[str], strictness: Strictness) -> list[Link]:
    """Links that concern the chosen lifecycles (every link concerns the run)."""
    return [
        link
        for link in LINKS
        if (link.parent in names or link.lifecycle in names) and strictness.admits(link.evidence)
    ]


# -- text ------------------------------------------------------------------------------------


def model_text(names: Sequence[str], strictness: Strictness) -> str:
    """The named lifecycles, their rules, protocol facts and links as aligned text, 100 columns
    wide.

    Facts that `strictness` does not admit are left out.
    """
    grades = ", ".join(f"{g.letter} {g.value}" for g in Grade)
    view = (
        "every fact, with its grade"
        if strictness is Strictness.PERMISSIVE
        else "documented and observed facts only"
    )
    out = [f"runmodel model, {strictness.value} view: {view}", f"grades: {grades}", ""]
    for name in names:
        lc = LIFECYCLES[name]
        edges = lc.edges(strictness)
        rules = [r for r in RULES[name] if strictness.admits(r.evidence)]
        facts = _facts(name, strictness)
        counted = f", {len(facts)} protocol facts" if _has_facts(name) else ""
        out.append(
            f"{name} lifecycle: {len(lc.statuses)} statuses, {len(edges)} edges, "
            f"{len(rules)} field rules{counted}"
        )
        out += _table(
            "statuses",
            ("STATUS", "KIND", "GRADE", "MEANING [SOURCES]"),
            [
                (
                    (s, _kind(lc, s), lc.status(s).evidence.label, _cited(lc.status(s))),
                    lc.status(s).evidence.note,
                )
                for s in lc.statuses
            ],
        )
        out += _table(
            "edges",
            ("MOVE", "TRIGGER", "ACTOR", "GRADE", "SOURCES"),
            [
                (
                    (
                        f"{e.source or _NEW} → {e.dest}",
                        e.trigger,
                        e.actor.value,
                        e.evidence.label,
                        ", ".join(e.evidence.sources),
                    ),
                    e.evidence.note,
                )
                for e in (lc.created_by, *edges)
            ],
        )
        out += _table(
            "field rules",
            ("CODE", "GRADE", "SUMMARY [SOURCES]"),
            [((r.code, r.evidence.label, _cited(r)), r.evidence.note) for r in rules],
        )
        out += _table(
            "protocol facts",
            ("CODE", "GRADE", "SUMMARY [SOURCES]"),
            [((f.code, f.evidence.label, _cited(f)), f.evidence.note) for f in facts],
        )
    links = _links(names, strictness)
    if links:
        out.append("links between a run and its steps and messages")
        out += _table(
            "",
            ("CODE", "GRADE", "SUMMARY [SOURCES]"),
            [((k.code, k.evidence.label, _cited(k)), _link_detail(k)) for k in links],
        )
    return "\n".join(out).rstrip("\n") + "\n"


def _kind(lc: Lifecycle, status: str) -> str:
    marks = ["initial"] if status == lc.initial else []
    if status in lc.terminal:
        marks.append("terminal")
    elif status in lc.settled:
        marks.append("settled")
    return ", ".join(marks)


def _cited(fact: Status | FieldRule | Fact | Link) -> str:
    """A fact's meaning or summary followed by its sources in brackets."""
    text = fact.meaning if isinstance(fact, Status) else fact.summary
    return f"{text} [{', '.join(fact.evidence.sources)}]"


def _link_detail(link: Link) -> str:
    child = link.lifecycle + (f" ({link.step_type})" if link.step_type else "")
    rule = (
        f"while the run is {'/'.join(sorted(link.run_statuses))}, a {child} in "
        f"{'/'.join(sorted(link.from_statuses))} is wrong; "
        f"expected {'/'.join(sorted(link.expected))}"
    )
    return f"{rule} ({link.evidence.note})" if link.evidence.note else rule


def _table(
    title: str, header: Sequence[str], rows: Sequence[tuple[Sequence[str], str]]
) -> list[str]:
    """Aligned columns; the last one wraps to the page width; each row's note on lines below."""
    if not rows:
        return []
    fixed = [
        max(len(header[i]), *(len(cells[i]) for cells, _ in rows)) for i in range(len(header) - 1)
    ]
    lead = _INDENT + "".join(" " * (w + 2) for w in fixed)
    last = max(_WIDTH - len(lead), 30)
    lines = [title] if title else []

    def row(cells: Sequence[str]) -> list[str]:
        head = _INDENT + "".join(c.ljust(w + 2) for c, w in zip(cells[:-1], fixed, strict=True))
        wrapped = textwrap.wrap(cells[-1], last, break_on_hyphens=False) or [""]
        return [(head + wrapped[0]).rstrip(), *(lead + w for w in wrapped[1:])]

    lines += row(header)
    for cells, note in rows:
        lines += row(cells)
        if note:
            lines += textwrap.wrap(
                note,
                _WIDTH,
                initial_indent=_NOTE_INDENT,
                subsequent_indent=_NOTE_INDENT,
                break_on_hyphens=False,
            )
    return [*lines, ""]
