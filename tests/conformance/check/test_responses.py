"""Recorded Responses API traffic judged against the model's ``response`` lifecycle: each legal
path conforms in every recorded format, and a broken twin of it is caught by the finding's code,
at the severity its fact's grade gives, at the entry that broke it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.check import CLIENT_FACTS, Severity, Violation, check
from conformance.observations import Location
from conformance.readers import read
from runmodel import FACTS, RESPONSE, Strictness
from tests.conformance.check.response_scenarios import (
    CALLS,
    FIXTURES,
    LEGAL,
    RENDERINGS,
    RESUMED_AFTER,
    Scenario,
    cancelled,
    cancelled_then_completed,
    function_round,
    polled,
    response,
    resumed,
    streamed,
    write_fixtures,
)
from tests.helpers.checktrace import Outcome

_FIXTURE_FILES = sorted(FIXTURES.glob("*.*"))


def _checked(s: Scenario, tmp: Path, strictness: Strictness = Strictness.STRICT) -> Outcome:
    path = tmp / f"{s.name}.trace.jsonl"
    path.write_text(s.native(), encoding="utf-8")
    return Outcome(list(check(read(path), strictness)))


def test_fixtures_are_current(tmp_path: Path) -> None:
    """The fixture files are the scenarios of `response_scenarios`, rendered."""
    fresh = {p.name: p.read_text(encoding="utf-8") for p in write_fixtures(tmp_path)}
    assert sorted(fresh) == [p.name for p in _FIXTURE_FILES]
    for p in _FIXTURE_FILES:
        assert p.read_text(encoding="utf-8") == fresh[p.name], p.name


@pytest.mark.parametrize("strictness", list(Strictness), ids=lambda s: s.value)
@pytest.mark.parametrize(
    "path",
    [p for p in _FIXTURE_FILES if not p.name.startswith(cancelled_then_completed().name)],
    ids=lambda p: p.name,
)
def test_each_legal_path_conforms_in_each_format(path: Path, strictness: Strictness) -> None:
    out = Outcome(list(check(read(path), strictness)))
    assert out.violations == []
    assert out.summary.exit_code == 0
    assert out.summary.runs >= 1
    assert all(r.lifecycle == RESPONSE.name for r in out.results)
    assert {r.final_status for r in out.results} <= RESPONSE.terminal


def test_the_formats_read_the_same_traffic() -> None:
    """Every rendering of a scenario gives the same statuses, in the same order."""
    for name in LEGAL:
        seen = set()
        for suffix in RENDERINGS:
            out = Outcome(list(check(read(FIXTURES / f"{name}.{suffix}"))))
            seen.add(tuple((r.run_id, r.statuses) for r in out.results))
        assert len(seen) == 1, name


def test_a_resumed_stream_is_one_stream_of_one_response(tmp_path: Path) -> None:
    out = _checked(resumed(), tmp_path)
    (result,) = out.results
    assert result.statuses == ("queued", "in_progress", "completed")
    edges = out.summary.coverage.edges[RESPONSE.name]
    assert edges[("", "queued")] == 1
    assert edges[("in_progress", "completed")] == 1


def test_the_opening_pair_may_come_in_either_order(tmp_path: Path) -> None:
    s = streamed()
    first, second = _events(s)[:2]
    first["event"], second["event"] = second["event"], first["event"]
    first["data"]["type"], second["data"]["type"] = first["event"], second["event"]
    assert _checked(s, tmp_path).violations == []


def test_the_disputed_revival_is_terminal_left_at_strict_and_a_used_edge_at_permissive(
    tmp_path: Path,
) -> None:
    s = cancelled_then_completed()
    strict = _checked(s, tmp_path)
    v = strict.only("response.terminal_left")
    assert (v.severity, v.loc) == (
        Severity.ERROR,
        Location(str(tmp_path / f"{s.name}.trace.jsonl"), 6),
    )
    permissive = _checked(s, tmp_path, Strictness.PERMISSIVE)
    assert permissive.violations == []
    assert permissive.summary.exit_code == 0
    (edge,) = permissive.summary.needs
    assert edge.startswith("cancelled → completed")
    (result,) = permissive.results
    assert result.level is Strictness.PERMISSIVE
    assert result.needs == (edge,)


# -- broken twins ------------------------------------------------------------------------------


def _events(s: Scenario) -> list[dict[str, Any]]:
    return [e for e in s.entries if e["kind"] == "event"]


def _number(s: Scenario, index: int, n: int | None) -> int:
    """Set the sequence_number of event `index` (None: drop it); returns its seq."""
    e = _events(s)[index]
    if n is None:
        del e["data"]["sequence_number"]
    else:
        e["data"]["sequence_number"] = n
    return int(e["seq"])


def _missing_number() -> tuple[Scenario, int]:
    s = streamed()
    return s, _number(s, 4, None)


def _not_from_zero() -> tuple[Scenario, int]:
    s = streamed()
    for i, e in enumerate(_events(s)):
        e["data"]["sequence_number"] = i + 1
    return s, int(_events(s)[0]["seq"])


def _repeated() -> tuple[Scenario, int]:
    s = streamed()
    return s, _number(s, 5, 4)


def _repeated_across_resumption() -> tuple[Scenario, int]:
    s = resumed()
    resumed_first = next(e for e in _events(s) if e["exchange"] != 1)
    resumed_first["data"]["sequence_number"] = RESUMED_AFTER
    return s, int(resumed_first["seq"])


def _gap() -> tuple[Scenario, int]:
    s = streamed()
    for e in _events(s)[5:]:
        e["data"]["sequence_number"] += 1
    return s, int(_events(s)[5]["seq"])


def _resumed_elsewhere() -> tuple[Scenario, int]:
    s = resumed()
    s.find(lambda e: e["kind"] == "exchange" and e["request"]["query"])["request"]["query"][
        "starting_after"
    ] = str(RESUMED_AFTER - 1)
    return s, int(next(e for e in _events(s) if e["exchange"] != 1)["seq"])


def _status_mismatch() -> tuple[Scenario, int]:
    s = streamed()
    e = _events(s)[2]  # response.in_progress
    e["data"]["response"]["status"] = "queued"
    return s, int(e["seq"])


def _after_terminal() -> tuple[Scenario, int]:
    s = streamed()
    last = _events(s)[-1]
    return s, s.event(last["exchange"], "response.output_text.done", 8, item_id="msg", text="x")


def _cancelled_event() -> tuple[Scenario, int]:
    s = Scenario("cancel-event")
    r = "resp_streamed"
    ex = s.http(
        "POST",
        "/responses",
        None,
        request={"model": "gpt-4o", "input": "x", "background": True, "stream": True},
        stream=True,
    )
    for n, (name, status) in enumerate(
        [
            ("response.created", "queued"),
            ("response.queued", "queued"),
            ("response.in_progress", "in_progress"),
        ]
    ):
        s.event(ex, name, n, response=response(status, rid=r))
    s.http("POST", f"/responses/{r}/cancel", response("cancelled", rid=r))
    return s, s.event(ex, "response.cancelled", 3, response=response("cancelled", rid=r))


def _bad_opening() -> tuple[Scenario, int]:
    s = streamed()
    second, third = _events(s)[1:3]  # response.queued, then response.in_progress: swapped
    second["event"], third["event"] = third["event"], second["event"]
    second["data"], third["data"] = third["data"], second["data"]
    second["data"]["sequence_number"], third["data"]["sequence_number"] = 1, 2
    return s, int(second["seq"])


def _foreground_cancelled() -> tuple[Scenario, int]:
    s = Scenario("foreground")
    r = "resp_fg"
    s.http(
        "POST",
        "/responses",
        response("completed", rid=r, background=False),
        request={"model": "gpt-4o", "input": "x"},
    )
    return s, s.http(
        "POST", f"/responses/{r}/cancel", response("completed", rid=r, background=False)
    )


def _refused_again() -> tuple[Scenario, int]:
    s = cancelled()
    again = [e for e in s.entries if e["request"]["path"].endswith("/cancel")][1]
    again["response"]["status"] = 400
    again["response"]["body"] = {
        "error": {"message": "Cannot cancel", "type": "invalid_request_error", "param": None}
    }
    return s, int(again["seq"])


def _finished_refused() -> tuple[Scenario, int]:
    s = polled()
    body = {"error": {"message": "already completed", "type": "conflict", "param": None}}
    return s, s.http("POST", "/responses/resp_polled/cancel", body, status=409)


def round_answer(s: Scenario) -> dict[str, Any]:
    return s.find(
        lambda e: e["kind"] == "exchange" and "previous_response_id" in (e["request"]["body"] or {})
    )


def missing_output() -> tuple[Scenario, int]:
    s = function_round()
    answer = round_answer(s)
    answer["request"]["body"]["input"] = answer["request"]["body"]["input"][:1]
    return s, int(answer["seq"])


def _orphan_output() -> tuple[Scenario, int]:
    s = function_round()
    answer = round_answer(s)
    answer["request"]["body"]["input"].append(
        {"type": "function_call_output", "call_id": "call_z", "output": "{}"}
    )
    return s, int(answer["seq"])


def _parent_running() -> tuple[Scenario, int]:
    s = function_round()
    asked = s.entries[1]  # GET of the parent: completed with the calls; now still in progress
    asked["response"]["body"] = response("in_progress", rid="resp_asks")
    return s, int(round_answer(s)["seq"])


def went_back() -> tuple[Scenario, int]:
    s = polled()
    s.entries[3]["response"]["body"]["status"] = "queued"
    return s, 4


def _left_terminal() -> tuple[Scenario, int]:
    s = polled()
    return s, s.http("GET", "/responses/resp_polled", response("in_progress", rid="resp_polled"))


def _cancelled_unasked() -> tuple[Scenario, int]:
    s = polled()
    s.entries[4]["response"]["body"] = response("cancelled", rid="resp_polled")
    return s, 5


def _field_broken() -> tuple[Scenario, int]:
    s = polled()
    s.entries[4]["response"]["body"]["completed_at"] = None
    return s, 5


def _unknown_status() -> tuple[Scenario, int]:
    s = polled()
    s.entries[2]["response"]["body"]["status"] = "paused"
    return s, 3


Twin = Callable[[], tuple[Scenario, int]]

TWINS: list[tuple[str, Twin, str | None]] = [
    ("response.stream.sequence_number", _missing_number, None),
    ("response.stream.starts_at_zero", _not_from_zero, None),
    ("response.stream.increasing", _repeated, None),
    ("response.stream.increasing", _repeated_across_resumption, None),
    ("response.stream.no_gap", _gap, None),
    ("response.stream.resume_suffix", _resumed_elsewhere, None),
    ("response.stream.event_status", _status_mismatch, None),
    ("response.stream.one_terminal", _after_terminal, None),
    ("response.stream.no_cancelled_event", _cancelled_event, None),
    ("response.stream.opening", _bad_opening, None),
    ("response.cancel.background_only", _foreground_cancelled, None),
    ("response.cancel.idempotent", _refused_again, None),
    ("response.cancel.finished", _finished_refused, None),
    ("response.round.all_outputs", missing_output, None),
    ("response.round.no_orphans", _orphan_output, None),
    ("response.round.parent_ended", _parent_running, None),
    ("response.illegal_transition", went_back, "error"),
    ("response.terminal_left", _left_terminal, "error"),
    ("response.moved_without_client", _cancelled_unasked, "error"),
    ("response.field.completed_at.set", _field_broken, "error"),
    ("status.unknown", _unknown_status, "warning"),
]
"""(code, the broken twin, its severity when no fact grades it)."""


@pytest.mark.parametrize(
    ("code", "twin", "severity"),
    TWINS,
    ids=[f"{c}-{t.__name__.strip('_')}" for c, t, _ in TWINS],
)
def test_each_broken_twin_is_caught(
    code: str, twin: Twin, severity: str | None, tmp_path: Path
) -> None:
    s, seq = twin()
    out = _checked(s, tmp_path)
    found = [v for v in out.violations if v.code == code]
    assert len(found) == 1, out.codes
    (v,) = found
    assert v.loc is not None
    assert v.loc.line == s.line(seq), (v.loc, s.line(seq))
    assert v.seq == seq
    assert v.hint
    fact = FACTS.get(code)
    if fact is not None:
        want = Severity.ERROR if fact.evidence.trusted else Severity.WARNING
        assert v.severity is want
        assert (v.grade, v.sources) == (fact.evidence.label, fact.evidence.sources)
    else:
        assert v.severity is Severity(severity)
    assert out.summary.exit_code == (1 if out.summary.errors else 0)


def test_every_fact_the_part_judges_has_a_twin() -> None:
    judged = {c for c, _, _ in TWINS if c in FACTS}
    judged_facts = {
        f.code
        for f in FACTS.values()
        if f.lifecycle == RESPONSE.name
        and f.code.split(".")[1] in ("stream", "cancel", "round")
        and f.code
        not in (
            "response.stream.replay_window",  # (a time window: not judged from a trace)
            "response.stream.background_only",  # (a 404 is no lifecycle matter)
            "response.stream.needs_stream",  # (a refused resumption: likewise)
            "response.stream.keepalive",  # (a permission: a keepalive is numbered as any event)
            "response.stream.replay_history",  # (how a resumption is read: tested on its own)
            "response.cancel.race",  # (the moves judge what a raced cancel answers)
            "response.round.chain",  # (the chain is what a round is: it defines the judgement)
            "response.round.background_again",  # (each round's own create tells)
        )
    }
    assert judged == judged_facts


def test_a_round_with_a_missing_output_accepted_is_the_servers_breach_too(tmp_path: Path) -> None:
    s, seq = missing_output()
    out = _checked(s, tmp_path)
    client = out.only("response.round.all_outputs")
    server = out.only("server.accepted_illegal")
    assert (client.subject, server.subject) == ("resp_asks", "resp_answers")
    assert server.rule == "response.round.all_outputs"
    assert server.seq == seq
    assert client.code in CLIENT_FACTS
    assert CALLS[1] in client.message


def test_a_refused_round_is_the_clients_breach_only(tmp_path: Path) -> None:
    s, _ = missing_output()
    answer = round_answer(s)
    answer["response"]["status"] = 400
    answer["response"]["body"] = {
        "error": {
            "message": "No tool output found",
            "type": "invalid_request_error",
            "param": "input",
        }
    }
    out = _checked(s, tmp_path)
    assert out.codes == ["response.round.all_outputs"]


def test_each_finding_is_tied_to_its_response(tmp_path: Path) -> None:
    s, _ = went_back()
    out = _checked(s, tmp_path)
    (result,) = out.results
    assert result.run_id == "resp_polled"
    assert result.lifecycle == RESPONSE.name
    assert [v.code for v in result.violations] == ["response.illegal_transition"]
    assert isinstance(result.violations[0], Violation)


def test_a_keepalive_event_is_numbered_as_any_other(tmp_path: Path) -> None:
    s = streamed()
    e = _events(s)[5]
    e["event"] = "keepalive"
    e["data"] = {"type": "keepalive", "sequence_number": e["data"]["sequence_number"]}
    assert _checked(s, tmp_path).violations == []


def test_a_resumption_replays_the_past_without_moving_the_response(tmp_path: Path) -> None:
    """A stream resumed after its end replays queued and in_progress (fact
    stream.replay_history): history, not a move out of completed."""
    s = streamed()
    again = s.http(
        "GET",
        "/responses/resp_streamed",
        None,
        query={"stream": "true", "starting_after": "0"},
        stream=True,
    )
    for e in _events(s)[1:]:
        s.event(
            again,
            e["event"],
            e["data"]["sequence_number"],
            **{k: v for k, v in e["data"].items() if k not in ("type", "sequence_number")},
        )
    out = _checked(s, tmp_path)
    assert out.violations == []
    (result,) = out.results
    assert result.statuses == ("queued", "in_progress", "completed")
