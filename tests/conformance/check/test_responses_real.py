"""Real recorded Responses API traffic (`tests/fixtures/responses/real/`: openai-dotnet's session
records, pydantic-ai's cassettes) checked against the model: each conforms at both strictnesses,
or each of its findings is listed here with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.check import check
from conformance.readers import read
from runmodel import RULES_BY_CODE, Strictness
from tests.conformance.check.response_scenarios import FIXTURES
from tests.helpers.checktrace import Outcome

REAL = sorted(p for p in (FIXTURES / "real").glob("*.*") if p.suffix in (".json", ".yaml"))
STREAMING = "CanUseStreamingBackgroundResponses"

EXPLAINED: dict[str, list[tuple[str, str]]] = {
    STREAMING: [
        # Recorded 2025-08-01, before the API sent completed_at: no completed response of that
        # time has the key (RB-F13, the rule's own note). One finding per completed object: the
        # stream's response, and the retrieved one, whose id the test proxy sanitised.
        (
            "response.field.completed_at.set",
            "resp_688c4e49bd888198a02ca36606345e7f0d712d55500687ca",
        ),
        ("response.field.completed_at.set", "Sanitized"),
    ],
}
"""Findings on real traffic, by recording, as (code, subject): the model's rule is right, the
recording predates it or was edited by its recorder."""


def _name(p: Path) -> str:
    return p.stem.rsplit("__", 1)[-1]


def test_the_real_recordings_are_there() -> None:
    assert len(REAL) >= 8
    assert STREAMING in {_name(p) for p in REAL}


@pytest.mark.parametrize("strictness", list(Strictness), ids=lambda s: s.value)
@pytest.mark.parametrize("path", REAL, ids=_name)
def test_each_real_recording_conforms_but_for_its_explained_findings(
    path: Path, strictness: Strictness
) -> None:
    out = Outcome(list(check(read(path), strictness)))
    assert out.summary.input_problems == 0
    assert out.summary.runs >= 1
    got = [(v.code, v.subject) for v in out.violations]
    assert got == EXPLAINED.get(_name(path), [])


def test_the_explained_rule_says_why() -> None:
    rule = RULES_BY_CODE["response.completed_at.set"]
    assert "RB-F13" in rule.evidence.note


def test_the_real_stream_and_its_resumption_are_judged(tmp_path: Path) -> None:
    """The stream (0…17) and its resumption after 2 (3…17) pass the sequence checks, and a
    break of them is found: the same record claiming a resumption after 3 repeats event 3."""
    (path,) = [p for p in REAL if _name(p) == STREAMING]
    out = Outcome(list(check(read(path))))
    streamed = [r for r in out.results if r.run_id.startswith("resp_")]
    assert [r.statuses for r in streamed] == [("queued", "in_progress", "completed")]
    text = path.read_text(encoding="utf-8")
    broken = text.replace("starting_after=2", "starting_after=3", 1)
    assert broken != text
    twin = tmp_path / path.name
    twin.write_text(broken, encoding="utf-8")
    assert "response.stream.increasing" in Outcome(list(check(read(twin)))).codes


def test_a_real_resumption_after_the_end_replays_the_past() -> None:
    """pydantic-ai's stream resumed after its end replays queued, in_progress, completed
    (fact stream.replay_history): read as history, the response stays completed."""
    (path,) = [p for p in REAL if "starting_after" in p.name]
    out = Outcome(list(check(read(path))))
    assert out.violations == []
    (result,) = out.results
    assert result.statuses == ("queued", "in_progress", "completed")
    assert out.summary.observations > len(result.statuses)
