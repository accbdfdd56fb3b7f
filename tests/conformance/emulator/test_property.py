"""The emulator checks itself: random legal scripts and client actions, judged by the model.

Whatever a client does (poll, wait, submit every output, cancel, stream), every status the
emulator shows must follow the previous one along a model path at the script's strictness, every
run object must keep the model's trusted field rules (alone and against its previous version),
and steps and messages must stand as the model's links say. The tests at the end break the
emulator on purpose and show that this check notices.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.check import RunChecked, Severity, ViolationFound, check
from conformance.emulator import BASE_URL, LESSON_ASSISTANT, Clock, Emulator, Script, parse_script
from conformance.emulator import fields as emulator_fields
from conformance.emulator import state as emulator_state
from conformance.emulator.transport import transport
from conformance.errors import format_call_ids, parse_error
from conformance.observations import Exchange, Item, StreamEvent
from conformance.readers import read
from conformance.recorder import record
from runmodel import RUN, IllegalTransition, Strictness
from tests.helpers.emucheck import link_problems, problems_in_log, run_objects, trace_problems
from tests.helpers.emulator_strategies import scripts

Action = tuple[Any, ...]

actions = st.lists(
    st.one_of(
        st.just(("poll",)),
        st.tuples(st.just("sleep"), st.sampled_from([0.5, 2.0, 10.0, 100.0, 400.0])),
        st.just(("submit",)),
        st.just(("cancel",)),
    ),
    max_size=12,
)


def _links_now(emu: Emulator, run_id: str) -> list[str]:
    with emu.lock:
        run = emu.run_object(run_id)
        children = emu.steps(run_id) + emu.messages(run["thread_id"])
    return link_problems(run, children)


def _observed_statuses(emu: Emulator, run_id: str) -> list[str]:
    """Statuses in the order the emulator showed them: objects, events, and error texts."""
    out: list[str] = []
    for rec in emu.requests:
        body = rec.json()
        if isinstance(body, dict) and "error" in body:
            message = body["error"]["message"]
            for kind in ("submit_not_accepted", "cancel_not_allowed"):
                found = parse_error(kind, message)
                if found is not None:
                    out.append(found["status"])
        elif isinstance(body, dict) and body.get("id") == run_id:
            out.append(body["status"])
        for _, data in rec.stream_events():
            if (
                isinstance(data, dict)
                and data.get("object") == "thread.run"
                and data.get("id") == run_id
            ):
                out.append(data["status"])
    return out


def drive(
    emu: Emulator, script: Script, steps: list[Action], stream: bool, client: Any = None
) -> list[str]:
    """Run `steps` against a run following `script`, then see it to its end; return problems."""
    level = script.strictness
    client = emu.client(max_retries=0) if client is None else client
    problems: list[str] = []
    if stream:
        with emu.lock:
            assistant = emu.store.add_assistant(LESSON_ASSISTANT, emu.clock.now())
        thread = client.beta.threads.create()
        emu.queue_scripts(script)
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant["id"]
        ) as s:
            s.until_done()
            current = s.current_run
        assert current is not None
        thread_id, run_id = thread.id, current.id
    else:
        thread_id, run_id = emu.start_run(script)
    calls: list[str] = []

    def note(run: Any) -> str:
        if run.required_action is not None:
            calls[:] = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
        return str(run.status)

    def act(action: Action) -> None:
        if action[0] == "poll":
            note(client.beta.threads.runs.retrieve(run_id, thread_id=thread_id))
        elif action[0] == "sleep":
            emu.clock.advance(action[1])
        elif action[0] == "submit":
            try:
                note(
                    client.beta.threads.runs.submit_tool_outputs(
                        run_id,
                        thread_id=thread_id,
                        tool_outputs=[{"tool_call_id": c, "output": "1"} for c in calls],
                    )
                )
            except openai.BadRequestError as exc:
                message = exc.body["message"]  # type: ignore[index]
                refused = parse_error("submit_not_accepted", message)
                if refused is not None:
                    if refused["status"] in RUN.waiting:
                        problems.append(f"submit refused in {refused['status']}")
                else:  # only right when what was sent (ids from an older round, or none) was wrong
                    mismatch = parse_error("tool_outputs_mismatch", message)
                    if mismatch is None or mismatch["expected"] == format_call_ids(calls):
                        problems.append(f"unexpected submit error: {message}")
        elif action[0] == "cancel":
            try:
                note(client.beta.threads.runs.cancel(run_id, thread_id=thread_id))
            except openai.BadRequestError as exc:
                refused = parse_error("cancel_not_allowed", exc.body["message"])  # type: ignore[index]
                if refused is None:
                    problems.append(f"unexpected cancel error: {exc.body}")
                else:
                    try:
                        RUN.fire(refused["status"], "cancel", level)
                        problems.append(
                            f"cancel refused in {refused['status']} though the model allows it"
                        )
                    except IllegalTransition:
                        pass
        problems.extend(_links_now(emu, run_id))

    for action in steps:
        act(action)
    for _ in range(100):  # see it to its end
        status = note(client.beta.threads.runs.retrieve(run_id, thread_id=thread_id))
        if status in RUN.terminal:
            break
        act(("submit",) if status == "requires_action" else ("sleep", 50.0))
    else:
        problems.append("the run never ended")

    observed = _observed_statuses(emu, run_id)
    for a, b in itertools.pairwise(observed):
        if RUN.path(a, b, level) is None:
            problems.append(f"{a} → {b} has no path at {level.value}")
    problems += trace_problems(run_objects(emu, run_id), level)
    problems += problems_in_log(emu)
    return problems


@given(script=scripts(), steps=actions, stream=st.booleans())
def test_every_observation_is_explained_by_the_model(
    script: Script, steps: list[Action], stream: bool
) -> None:
    assert drive(Emulator(), script, steps, stream) == []


@given(script=scripts(), steps=actions)
def test_all_rules_hold_even_the_untrusted(script: Script, steps: list[Action]) -> None:
    emu = Emulator()
    assert drive(emu, script, steps, False) == []
    run_id = emu.requests[0].run_id
    assert run_id is not None
    assert trace_problems(run_objects(emu, run_id), script.strictness, trusted_only=False) == []


# -- the check catches a broken emulator -----------------------------------------------------


def test_catches_expires_at_left_set(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = emulator_fields.RUN_FIELDS
    monkeypatch.setitem(
        fields.null, "completed", tuple(f for f in fields.null["completed"] if f != "expires_at")
    )
    problems = drive(Emulator(), parse_script("start+1, complete+1"), [("poll",)], False)
    assert any(
        "run.expires_at.null: expires_at is set in status 'completed'" in p for p in problems
    )


def test_catches_steps_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_state.Store, "_close_steps", lambda *args, **kwargs: None)
    problems = drive(
        Emulator(),
        parse_script("start, require_action(1)+1, start, complete"),
        [("sleep", 700.0)],
        False,
    )
    assert any(p.startswith("run_step.expires_with_run") for p in problems)


def test_catches_a_move_the_model_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    real_enter = emulator_state.Store._enter

    def sloppy(self: Any, run: Any, dest: str, t: float) -> None:  # ends cancels as completed
        real_enter(self, run, "completed" if dest == "cancelled" else dest, t)

    monkeypatch.setattr(emulator_state.Store, "_enter", sloppy)
    script = parse_script("start+1, complete+30; on_cancel=finish_cancel+1")
    problems = drive(
        Emulator(), script, [("sleep", 2.0), ("cancel",), ("sleep", 2.0), ("poll",)], False
    )
    assert "cancelling → completed has no path at strict" in problems


# -- the project's checker agrees ---------------------------------------------------------------


def _server_errors(items: Iterable[Item], level: Strictness) -> list[str]:
    out = []
    for event in check(items, level):
        found = (
            event.result.violations
            if isinstance(event, RunChecked)
            else ([event.violation] if isinstance(event, ViolationFound) else [])
        )
        out += [
            f"{v.code}: {v.message}"
            for v in found
            if v.severity is Severity.ERROR and not v.code.startswith("client.")
        ]
    return out


@given(script=scripts(), steps=actions, stream=st.booleans())
def test_the_checker_finds_no_fault_with_the_emulator(
    script: Script, steps: list[Action], stream: bool
) -> None:
    emu = Emulator()
    assert drive(emu, script, steps, stream) == []
    assert _server_errors(emu.items(), script.strictness) == []


@given(script=scripts(), steps=actions, stream=st.booleans())
def test_traffic_recorded_by_the_recorder_checks_clean(
    script: Script, steps: list[Action], stream: bool
) -> None:
    """The whole loop: SDK → recorder → emulator, then the trace file → reader → checker."""
    emu = Emulator(clock=Clock(start=time.time()))
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.jsonl"
        with record(trace) as recorder:
            client = recorder.client(
                transport=transport(emu),
                api_key="sk-recorded",
                base_url=BASE_URL,
                max_retries=0,
                _strict_response_validation=True,
            )
            assert drive(emu, script, steps, stream, client) == []
        assert _server_errors(read(trace), script.strictness) == []


def test_items_carry_requests_and_stream_events(emu: Emulator, client: openai.OpenAI) -> None:
    emu.queue_scripts("start+1, fail+1")
    with emu.lock:
        assistant = emu.store.add_assistant({"model": "m"}, emu.clock.now())
    thread = client.beta.threads.create()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant["id"]) as s:
        s.until_done()
    items = list(emu.items())
    exchanges = [i for i in items if isinstance(i, Exchange)]
    events = [i for i in items if isinstance(i, StreamEvent)]
    assert [(e.method, e.path, e.status, e.streamed) for e in exchanges] == [
        ("POST", "/v1/threads", 200, False),
        ("POST", f"/v1/threads/{thread.id}/runs", 200, True),
    ]
    assert exchanges[1].request_body["stream"] is True
    assert [e.event for e in events][-2:] == ["thread.run.failed", "done"]
    assert {e.exchange_seq for e in events} == {exchanges[1].seq}
    assert events[-1].data == "[DONE]"
    times = [e.wall for e in events]
    assert times == sorted(times)
    assert times[-1] - times[0] == pytest.approx(2.0)
    assert _server_errors(emu.items(), Strictness.STRICT) == []
