"""``docs/responses-evidence.md`` and the ``response`` lifecycle of the model hold each other:
every fact id the model cites is in the file, every fact in the file is carried by the model
items it names (exactly those that cite it) or says why not, and the grades agree.

The grade comparison, precisely: a fact's row grade is e.g. ``D/O`` (its first letter the
strongest), a model item's evidence has a grade set (``Evidence.grades``).
- A carried fact's first grade is among the grades of the items that carry it (the model does
  not drop what the file says), and
- a model item's first grade is no stronger than the strongest grade of the facts it cites (the
  model claims no more than its evidence; it may claim less, e.g. I for what follows from D).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from runmodel import FACTS, RESPONSE, RULES, VALUES, Evidence, Grade

DOC = Path(__file__).resolve().parents[2] / "docs" / "responses-evidence.md"
_ID = re.compile(r"RB-[A-Z]+\d+")
_ROW = re.compile(r"^\| (RB-[A-Z]+\d+) \| ([^|]+) \| [^|]+ \| [^|]+ \| ([^|]+) \|$", re.M)
_NOT = "not in the model:"


@dataclass(frozen=True)
class Row:
    """One fact of the evidence file: its grade letters (none for a fact not found) and the model
    items its last column names, or None when it says why the model does not carry it."""

    grades: tuple[str, ...]
    carried_by: frozenset[str] | None
    reason: str


def parse(text: str) -> dict[str, Row]:
    """The fact rows of the evidence file, by id; a repeated id is a ValueError."""
    rows: dict[str, Row] = {}
    for m in _ROW.finditer(text):
        fid, grade, model = m[1], m[2].strip(), m[3].strip()
        if fid in rows:
            raise ValueError(f"{fid} is listed twice")
        grades = () if grade == "—" else tuple(grade.split("/"))
        if model.startswith(_NOT):
            rows[fid] = Row(grades, None, model[len(_NOT) :].strip())
        else:
            rows[fid] = Row(grades, frozenset(re.findall(r"`([^`]+)`", model)), "")
    return rows


def model_items() -> dict[str, Evidence]:
    """Every graded item of the response lifecycle, by the name the evidence file uses."""
    items = {f"status:{n}": RESPONSE.status(n).evidence for n in RESPONSE.statuses}
    items[f"edge:→{RESPONSE.created_by.dest}"] = RESPONSE.created_by.evidence
    items.update({f"edge:{e.source}→{e.dest}": e.evidence for e in RESPONSE.all_edges})
    items.update({r.code: r.evidence for r in RULES[RESPONSE.name]})
    items.update({c: v.evidence for c, v in VALUES.items() if c.startswith(f"{RESPONSE.name}.")})
    items.update({c: f.evidence for c, f in FACTS.items() if f.lifecycle == RESPONSE.name})
    return items


def cited(ev: Evidence) -> set[str]:
    return {s for s in ev.sources if _ID.fullmatch(s)}


def problems(rows: dict[str, Row], items: dict[str, Evidence]) -> list[str]:
    """Every way the file and the model disagree, one sentence each (empty when they agree)."""
    out: list[str] = []
    citing: dict[str, set[str]] = {}
    for name, ev in items.items():
        for fid in cited(ev):
            citing.setdefault(fid, set()).add(name)
            if fid not in rows:
                out.append(f"{name} cites {fid}, which the file lacks")
    for fid, row in rows.items():
        if any(g not in "DOIX" or len(g) != 1 for g in row.grades):
            out.append(f"{fid}: grade {'/'.join(row.grades)!r} is not made of D, O, I, X")
        names = citing.get(fid, set())
        if row.carried_by is None:
            if len(row.reason) < 12:
                out.append(f"{fid}: not carried, and no reason given")
            if names:
                out.append(f"{fid}: says not in the model, yet {sorted(names)} cite it")
            continue
        if not row.carried_by:
            out.append(f"{fid}: neither carried nor explained")
        for name in sorted(row.carried_by - items.keys()):
            out.append(f"{fid}: names {name}, which the model does not have")
        if row.carried_by & items.keys() != names:
            out.append(f"{fid}: names {sorted(row.carried_by)}, but {sorted(names)} cite it")
        held = {g.letter for name in names for g in items[name].grades}
        if names and row.grades and row.grades[0] not in held:
            out.append(f"{fid}: graded {row.grades[0]} in the file, the model has {sorted(held)}")
    rank = {g.letter: g.rank for g in Grade}
    for name, ev in items.items():
        backed = {g for fid in cited(ev) if fid in rows for g in rows[fid].grades}
        if backed and ev.grade.rank < min(rank.get(g, 0) for g in backed):
            out.append(f"{name}: graded {ev.label}, its facts only {sorted(backed)}")
    return out


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return parse(DOC.read_text(encoding="utf-8"))


SHARED = DOC.parents[2] / "shared" / "docs" / "responses-background-evidence.md"


@pytest.mark.skipif(not SHARED.is_file(), reason=f"the shared catalogue is not here: {SHARED}")
def test_the_file_lists_every_fact_of_the_shared_catalogue(rows: dict[str, Row]) -> None:
    ids = set(re.findall(r"^\| (RB-[A-Z]+\d+) \|", SHARED.read_text(encoding="utf-8"), re.M))
    assert ids <= rows.keys(), sorted(ids - rows.keys())


def test_the_file_and_the_model_agree(rows: dict[str, Row]) -> None:
    assert problems(rows, model_items()) == []


def test_every_model_item_cites_a_fact_of_the_file() -> None:
    items = model_items()
    assert [name for name, ev in items.items() if not cited(ev)] == []


# the checks catch what they claim: each wrong miniature below gives exactly its complaint
_EV = Evidence.of


@pytest.mark.parametrize(
    ("rows", "items", "complaint"),
    [
        ({}, {"edge:a→b": _EV("D", "RB-E1")}, "edge:a→b cites RB-E1, which the file lacks"),
        (
            {"RB-E1": Row(("D",), frozenset(), "")},
            {},
            "RB-E1: neither carried nor explained",
        ),
        (
            {"RB-E1": Row(("D",), None, "")},
            {},
            "RB-E1: not carried, and no reason given",
        ),
        (
            {"RB-E1": Row(("D",), None, "a request default only")},
            {"edge:a→b": _EV("D", "RB-E1")},
            "RB-E1: says not in the model, yet ['edge:a→b'] cite it",
        ),
        (
            {"RB-E1": Row(("D",), frozenset({"edge:a→b", "edge:a→c"}), "")},
            {"edge:a→b": _EV("D", "RB-E1")},
            "RB-E1: names edge:a→c, which the model does not have",
        ),
        (
            {"RB-E1": Row(("D",), frozenset({"edge:a→b"}), "")},
            {"edge:a→b": _EV("D", "RB-E1"), "edge:b→c": _EV("D", "RB-E1")},
            "RB-E1: names ['edge:a→b'], but ['edge:a→b', 'edge:b→c'] cite it",
        ),
        (
            {"RB-E1": Row(("I",), frozenset({"edge:a→b"}), "")},
            {"edge:a→b": _EV("D/O", "RB-E1")},
            "RB-E1: graded I in the file, the model has ['D', 'O']",
        ),
        (
            {"RB-E1": Row(("D/I",), frozenset({"edge:a→b"}), "")},
            {"edge:a→b": _EV("D", "RB-E1")},
            "RB-E1: grade 'D/I' is not made of D, O, I, X",
        ),
    ],
)
def test_each_disagreement_is_reported(
    rows: dict[str, Row], items: dict[str, Evidence], complaint: str
) -> None:
    assert complaint in problems(rows, items)


def test_a_model_item_stronger_than_its_facts_is_reported() -> None:
    rows = {"RB-E1": Row(("I", "X"), frozenset({"edge:a→b"}), "")}
    items = {"edge:a→b": _EV("D/I", "RB-E1")}
    assert problems(rows, items) == ["edge:a→b: graded D/I, its facts only ['I', 'X']"]


def test_the_parser_reads_rows_and_refuses_a_repeated_id() -> None:
    text = (
        "| RB-X1 | O/I | a fact | a source | `response.a` `edge:a→b` |\n"
        "| RB-X2 | — | not found | — | not in the model: not found, not cited |\n"
    )
    assert parse(text) == {
        "RB-X1": Row(("O", "I"), frozenset({"response.a", "edge:a→b"}), ""),
        "RB-X2": Row((), None, "not found, not cited"),
    }
    with pytest.raises(ValueError, match="RB-X1 is listed twice"):
        parse(text + text)
