"""The JSON report is written in C (orjson) where it can be: it must be the bytes Python's `json`
writes (``ensure_ascii=False, indent=2``), whatever the strings of the input hold, including
what orjson refuses (a lone surrogate from a ``\\ud800`` escape), which `json` then writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check import Checker, CheckFinished, RunChecked, RunResult, Severity, Violation
from conformance.observations import Location
from conformance.readers import read
from conformance.reports import Report, to_json
from tests.conformance.test_decode import _recordings

TEXT = st.text() | st.sampled_from(["\ud800", "a\udfffb", '\x00\x1f\x7f\u2028é"\\/'])


def as_json_writes(text: str) -> str:
    """What Python's `json` writes for the document `text` holds (the reference)."""
    return json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"


@st.composite
def reports(draw: st.DrawFn) -> Report:
    report = Report()
    checker = Checker(emit=lambda e: None)
    summary = checker.finish()
    for n in range(draw(st.integers(0, 3))):
        violations = tuple(
            Violation(
                draw(TEXT),
                draw(st.sampled_from(Severity)),
                draw(TEXT),
                run_id=draw(TEXT),
                loc=Location(draw(TEXT), draw(st.integers(1, 2**62)), draw(st.none() | TEXT)),
                observed=draw(TEXT),
                sources=tuple(draw(st.lists(TEXT, max_size=2))),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        statuses = tuple(draw(st.lists(TEXT, max_size=3)))
        report(
            RunChecked(
                RunResult(
                    f"{n}{draw(TEXT)}",
                    draw(st.none() | TEXT),
                    None,
                    1,
                    statuses,
                    None,
                    None,
                    (),
                    violations,
                )
            )
        )
    report(CheckFinished(summary))
    return report


@settings(max_examples=60, deadline=None)
@given(reports())
def test_the_json_report_is_what_json_writes(report: Report) -> None:
    text = to_json(report)
    assert text == as_json_writes(text)


def test_a_lone_surrogate_is_written_as_json_writes_it() -> None:
    report = Report()
    report(RunChecked(RunResult("run_\ud800", None, None, 1, (), None, None, (), ())))
    text = to_json(report)
    assert "run_\ud800" in text
    assert text == as_json_writes(text)


@pytest.mark.parametrize("path", _recordings(), ids=lambda p: p.name)
def test_recordings_json_reports_are_what_json_writes(path: Path) -> None:
    report = Report()
    checker = Checker(emit=report)
    checker.feed_all(read(path))
    checker.finish()
    text = to_json(report)
    assert text == as_json_writes(text)
