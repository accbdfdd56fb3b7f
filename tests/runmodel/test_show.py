"""``runmodel model``: the printout carries every status, edge, rule, protocol fact and link with
its grade."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from runmodel import FACTS, LIFECYCLES, LINKS, RESPONSE, RULES, RUN, STEP, Strictness
from runmodel.cli import main


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["model", *argv]) == 0
    return capsys.readouterr().out


def _row(text: str, *cells: str) -> str:
    """The one line holding these cells in this order, separated by column padding."""
    pattern = r"^ +" + r" {2,}".join(re.escape(c) for c in cells) + r"(?: {2,}|$)"
    found = [line for line in text.splitlines() if re.match(pattern, line)]
    assert len(found) == 1, f"no single row with {cells!r}"
    return found[0]


def _section(text: str, name: str) -> str:
    """The part of the text printout about one lifecycle."""
    start = text.index(f"\n{name} lifecycle:")
    ends = [text.find(f"\n{n} lifecycle:", start + 1) for n in LIFECYCLES]
    ends.append(text.find("\nlinks between", start))
    return text[start : min((e for e in ends if e > start), default=len(text))]


# -- text ------------------------------------------------------------------------------------


def test_text_lists_every_edge_with_trigger_actor_grade_and_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _out(capsys)
    for lc in LIFECYCLES.values():
        section = _section(text, lc.name)
        for e in (lc.created_by, *lc.all_edges):
            move = f"{e.source or '(new)'} → {e.dest}"
            row = _row(section, move, e.trigger, e.actor.value, e.evidence.label)
            assert e.evidence.sources[0] in row
            assert ", ".join(e.evidence.sources) in " ".join(section.split())
            assert " ".join(e.evidence.note.split()) in " ".join(section.split())


def test_text_marks_statuses_and_gives_their_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(capsys, "--lifecycle", "run")
    for s in RUN.statuses:
        kind = ", ".join(
            (["initial"] if s == RUN.initial else [])
            + (["terminal"] if s in RUN.terminal else ["settled"] if s in RUN.settled else [])
        )
        cells = (s, kind) if kind else (s,)
        row = _row(text, *cells, RUN.status(s).evidence.label)
        assert RUN.status(s).meaning.split()[0] in row
    assert f"{STEP.name} lifecycle" not in text


def test_text_lists_rules_and_links_with_codes_grades_and_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _out(capsys)
    for rules in RULES.values():
        for r in rules:
            row = _row(text, r.code, r.evidence.label)
            assert r.summary.split()[0] in row
    links = text[text.index("links between") :]
    for link in LINKS:
        _row(links, link.code, link.evidence.label)
        assert f"[{', '.join(link.evidence.sources)}]" in " ".join(links.split())


def test_text_lists_each_lifecycles_protocol_facts_with_grades_sources_and_notes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _out(capsys)
    flat = " ".join(text.split())
    for lc in LIFECYCLES.values():
        section = _section(text, lc.name)
        facts = [f for f in FACTS.values() if f.lifecycle == lc.name]
        assert ("\nprotocol facts\n" in section) is bool(facts), lc.name
        assert (f"{len(facts)} protocol facts" in section.splitlines()[1]) is bool(facts)
        for f in facts:
            row = _row(section, f.code, f.evidence.label)
            assert f.summary.split()[0] in row
            assert f"[{', '.join(f.evidence.sources)}]" in flat
            assert " ".join(f.evidence.note.split()) in flat
    assert FACTS
    assert any(f.lifecycle == RESPONSE.name for f in FACTS.values())


def test_strict_text_leaves_out_untrusted_protocol_facts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _section(_out(capsys, "--strictness", "strict"), RESPONSE.name)
    facts = [f for f in FACTS.values() if f.lifecycle == RESPONSE.name]
    assert {f.evidence.trusted for f in facts} == {True, False}
    for f in facts:
        assert (re.search(rf"^  {re.escape(f.code)} ", text, re.M) is not None) is (
            f.evidence.trusted
        ), f.code
    trusted = sum(f.evidence.trusted for f in facts)
    assert f", {trusted} protocol facts" in text.splitlines()[1]


def test_text_fits_in_100_columns(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _out(capsys).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert all(line == line.rstrip() for line in lines)


def test_strict_text_leaves_out_untrusted_facts(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(capsys, "--strictness", "strict")
    assert "strict view" in text
    assert not re.search(r"  (I|X|I/X|X/I)  ", text)
    for e in RUN.all_edges:
        found = re.search(rf"^  {e.source} → {e.dest} +{e.trigger} ", text, re.MULTILINE)
        assert bool(found) is e.evidence.trusted, str(e)
    untrusted = [r.code for rules in RULES.values() for r in rules if not r.evidence.trusted]
    assert untrusted
    assert not any(code in text for code in untrusted)


# -- JSON ------------------------------------------------------------------------------------


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    text = _out(capsys, "--format", "json", *argv)
    doc = json.loads(text)
    assert json.dumps(doc, indent=2, ensure_ascii=False) + "\n" == text  # round-trips exactly
    return doc


def test_json_has_every_edge_with_its_grades(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys)
    assert doc["format"] == "runmodel-model"
    assert doc["strictness"] == "permissive"
    assert [lc["name"] for lc in doc["lifecycles"]] == list(LIFECYCLES)
    for got in doc["lifecycles"]:
        lc = LIFECYCLES[got["name"]]
        edges = [
            (
                e["source"],
                e["dest"],
                e["trigger"],
                e["actor"],
                e["grade"],
                e["grades"],
                e["sources"],
            )
            for e in got["edges"]
        ]
        assert edges == [
            (
                e.source,
                e.dest,
                e.trigger,
                e.actor.value,
                e.evidence.label,
                [g.value for g in e.evidence.grades],
                list(e.evidence.sources),
            )
            for e in lc.all_edges
        ]
        assert got["created_by"]["source"] is None
        assert got["created_by"]["dest"] == lc.initial
        statuses = {s["name"]: s for s in got["statuses"]}
        assert list(statuses) == list(lc.statuses)
        assert {n for n, s in statuses.items() if s["terminal"]} == lc.terminal
        assert {n for n, s in statuses.items() if s["settled"]} == lc.settled
        assert [(r["code"], r["grade"]) for r in got["rules"]] == [
            (r.code, r.evidence.label) for r in RULES[lc.name]
        ]
    assert [(k["code"], k["grade"], k["sources"]) for k in doc["links"]] == [
        (k.code, k.evidence.label, list(k.evidence.sources)) for k in LINKS
    ]


def test_json_strict_and_one_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys, "--strictness", "strict", "--lifecycle", STEP.name)
    assert [lc["name"] for lc in doc["lifecycles"]] == [STEP.name]
    (step,) = doc["lifecycles"]
    assert len(step["edges"]) == len(STEP.edges(Strictness.STRICT))
    assert all(e["level"] == "strict" for e in step["edges"])
    expected = [k.code for k in LINKS if k.lifecycle == STEP.name and k.evidence.trusted]
    assert [k["code"] for k in doc["links"]] == expected


def test_json_gives_protocol_facts_only_to_lifecycles_that_have_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for strictness in Strictness:
        doc = _json(capsys, "--strictness", strictness.value)
        for got in doc["lifecycles"]:
            facts = [f for f in FACTS.values() if f.lifecycle == got["name"]]
            if not facts:
                assert "facts" not in got, got["name"]
                continue
            assert [
                (f["code"], f["summary"], f["grade"], f["level"], f["sources"], f["note"])
                for f in got["facts"]
            ] == [
                (
                    f.code,
                    f.summary,
                    f.evidence.label,
                    f.evidence.level.value,
                    list(f.evidence.sources),
                    f.evidence.note,
                )
                for f in facts
                if strictness.admits(f.evidence)
            ]


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--lifecycle", "thread"]) == 2
    assert "invalid choice" in capsys.readouterr().err
