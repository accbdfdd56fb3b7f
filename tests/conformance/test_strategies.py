"""The traffic strategies draw only what the checker accepts, shrink to short examples, and the
mutations and the run-view state machine catch what they claim to catch."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.stateful import run_state_machine_as_test
from openai.types.beta.threads import Run

from conformance.check import Severity
from conformance.observations import Location, Snapshot
from conformance.strategies import (
    event_sequences,
    mutated_traces,
    run_objects,
    run_view_machine,
    traces,
)
from runmodel import RUN, Strictness
from tests.helpers.checktrace import Trace, checked

LEVELS = pytest.mark.parametrize("level", list(Strictness), ids=lambda lv: lv.value)
FEW = settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
FIND = settings(
    max_examples=300, database=None, derandomize=True, phases=[Phase.generate, Phase.shrink]
)
_SINGLE_FAULT = ("run.field.required_action.null", "stream.unfinished", "stream.after_done")


def _errors(items: Any, level: Strictness) -> list[str]:
    return [
        f"{v.code}: {v.message}"
        for v in checked(items, level).violations
        if v.severity is Severity.ERROR
    ]


def _snapshots(objs: list[dict[str, Any]]) -> list[Snapshot]:
    return [Snapshot(Location("objs", i), i, o) for i, o in enumerate(objs, 1)]


def _stream_trace(events: list[tuple[str, Any]]) -> Trace:
    """The streams of a run as HTTP traffic: its create, then one submit per round, answering
    the calls of the round before it."""
    t = Trace()
    first = events[0][1]
    create = f"/threads/{first['thread_id']}/runs"
    ex = t.http("POST", create, streamed=True, request={"stream": True})
    calls: list[str] = []
    for i, (name, data) in enumerate(events, 1):
        t.event(name, data, ex)
        if name == "thread.run.requires_action":
            calls = [c["id"] for c in data["required_action"]["submit_tool_outputs"]["tool_calls"]]
        if name == "done" and i < len(events):
            outputs = [{"tool_call_id": c, "output": "42"} for c in calls]
            path = f"{create}/{first['id']}/submit_tool_outputs"
            request = {"stream": True, "tool_outputs": outputs}
            ex = t.http("POST", path, streamed=True, request=request)
    return t


# -- legal data ---------------------------------------------------------------------------------


@LEVELS
def test_run_objects_are_complete_and_legal(level: Strictness) -> None:
    @FEW
    @given(run_objects(level))
    def prop(objs: list[dict[str, Any]]) -> None:
        for obj in objs:
            assert set(Run.model_fields) <= set(obj)
            Run.model_validate(obj)
        assert objs[-1]["status"] in RUN.terminal
        assert _errors(_snapshots(objs), level) == []

    prop()


@LEVELS
def test_event_sequences_are_legal_streams(level: Strictness) -> None:
    @FEW
    @given(event_sequences(level))
    def prop(events: list[tuple[str, Any]]) -> None:
        runs = [
            d for n, d in events if n.startswith("thread.run.") and d.get("object") == "thread.run"
        ]
        assert runs[-1]["status"] in RUN.terminal
        assert events[-1] == ("done", "[DONE]")
        assert _errors(_stream_trace(events), level) == []

    prop()


@LEVELS
def test_traces_check_clean(level: Strictness) -> None:
    @FEW
    @given(traces(level))
    def prop(items: list[Any]) -> None:
        assert _errors(items, level) == []

    prop()


def test_the_checks_above_can_fail() -> None:
    """The same checks reject what they should: a run shown leaving a terminal status."""
    objs = find(run_objects(), lambda o: len(o) >= 2, settings=FIND)
    assert _errors(_snapshots([*objs, objs[0]]), Strictness.STRICT) != []
    events = find(event_sequences(), lambda e: True, settings=FIND)
    assert _errors(_stream_trace([*events, events[0]]), Strictness.STRICT) != []


# -- mutations ----------------------------------------------------------------------------------


@LEVELS
def test_each_mutation_is_caught_with_its_code(level: Strictness) -> None:
    @settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated_traces(level))
    def prop(mutated: tuple[list[Any], str]) -> None:
        items, code = mutated
        codes = checked(items, level).codes
        assert code in codes
        if code in _SINGLE_FAULT:  # one change, one finding
            assert set(codes) == {code}

    prop()


@pytest.mark.parametrize(
    "code",
    ["run.terminal_left", "run.illegal_transition", *_SINGLE_FAULT],
)
def test_every_mutation_is_drawn(code: str) -> None:
    items, found = find(mutated_traces(), lambda m: m[1] == code, settings=FIND)
    assert found == code
    assert code in checked(items).codes


# -- shrinking ----------------------------------------------------------------------------------


def test_run_objects_shrink_to_a_plain_run() -> None:
    objs = find(run_objects(), lambda o: True, settings=FIND)
    assert len(objs) <= 3  # the create's reply, then a poll or two
    assert objs[-1]["status"] in RUN.terminal
    assert all(o["required_action"] is None for o in objs)


def test_run_objects_shrink_to_one_round() -> None:
    objs = find(run_objects(), lambda o: any(x["required_action"] for x in o), settings=FIND)
    assert [o["status"] for o in objs] == [
        "queued",
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "completed",
    ]


def test_event_sequences_shrink_to_one_round() -> None:
    events = find(
        event_sequences(),
        lambda e: any(n == "thread.run.requires_action" for n, _ in e),
        settings=FIND,
    )
    names = [n for n, _ in events]
    assert names.count("done") == 2
    assert len(names) <= 20


def test_traces_shrink_small() -> None:
    items = find(traces(), lambda t: True, settings=FIND)
    assert len(items) <= 10  # e.g. create assistant, thread, run; a run stream of five events
    snapshots = find(traces(modes=("snapshots",)), lambda t: True, settings=FIND)
    assert len(snapshots) <= 3  # the create's reply, then a poll or two
    last = snapshots[-1]
    assert isinstance(last, Snapshot)
    assert last.obj["status"] in RUN.terminal


# -- the run-view state machine -----------------------------------------------------------------


class ByStatus:
    """A correct consumer: the status of the last run object it was given."""

    def __init__(self) -> None:
        self.status: str | None = None

    def feed(self, event: str, data: dict[str, Any]) -> None:
        if event.startswith("thread.run.") and data.get("object") == "thread.run":
            self.status = data["status"]


class ByEventName(ByStatus):
    """Also correct: the status named by the event."""

    def feed(self, event: str, data: dict[str, Any]) -> None:
        status = event.removeprefix("thread.run.")
        if status in RUN:
            self.status = status
        elif event == "thread.run.created":
            self.status = data["status"]


class IgnoresCancelling(ByStatus):
    def feed(self, event: str, data: dict[str, Any]) -> None:
        if event != "thread.run.cancelling":
            super().feed(event, data)


class IncompleteAsCompleted(ByStatus):
    def feed(self, event: str, data: dict[str, Any]) -> None:
        super().feed(event, data)
        if self.status == "incomplete":
            self.status = "completed"


class Recorder(ByStatus):
    """Correct, and keeps what it was fed (in `FED`)."""

    def feed(self, event: str, data: dict[str, Any]) -> None:
        FED.append((event, data))
        super().feed(event, data)


FED: list[tuple[str, dict[str, Any]]] = []
MACHINE = settings(max_examples=100, stateful_step_count=15, database=None, derandomize=True)
CATCH = settings(MACHINE, phases=[Phase.generate])

TestByStatus = run_view_machine(ByStatus).TestCase


@LEVELS
@pytest.mark.parametrize("consumer", [ByStatus, ByEventName])
def test_a_correct_consumer_passes(consumer: type[ByStatus], level: Strictness) -> None:
    run_state_machine_as_test(run_view_machine(consumer, strictness=level), settings=MACHINE)


@LEVELS
@pytest.mark.parametrize("consumer", [IgnoresCancelling, IncompleteAsCompleted])
def test_a_wrong_consumer_fails(consumer: type[ByStatus], level: Strictness) -> None:
    with pytest.raises(AssertionError, match="the consumer says"):
        run_state_machine_as_test(run_view_machine(consumer, strictness=level), settings=CATCH)


@LEVELS
def test_the_machine_feeds_model_moves_with_matching_objects(level: Strictness) -> None:
    """Each example opens with created and the initial status; then each event is one edge of
    the model, and carries a complete run object in the status it names."""
    FED.clear()
    run_state_machine_as_test(run_view_machine(Recorder, strictness=level), settings=MACHINE)
    starts = [i for i, (name, _) in enumerate(FED) if name == "thread.run.created"]
    edges = {(e.source, e.dest) for e in RUN.edges(level)}
    seen = set()
    for begin, end in itertools.pairwise([*starts, len(FED)]):
        names = [name for name, _ in FED[begin:end]]
        statuses = [data["status"] for _, data in FED[begin:end]]
        assert names[:2] == ["thread.run.created", f"thread.run.{RUN.initial}"]
        assert names[1:] == [f"thread.run.{s}" for s in statuses[1:]]
        for _, data in FED[begin:end]:
            Run.model_validate(data)
        moves = {(a, b) for a, b in itertools.pairwise(statuses[1:]) if a != b}  # b: not again
        assert moves <= edges
        seen |= moves
    assert len(seen) > len(edges) // 2  # the machine gets around
