"""Runs follow their scripts, in virtual time, with the fields the model's rules require."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from conformance.emulator import Emulator, parse_script
from runmodel import Strictness
from tests.helpers.emucheck import link_problems, problems_in_object, run_objects, trace_problems


def _statuses(emu: Emulator, run_id: str) -> list[str]:
    out: list[str] = []
    for obj in run_objects(emu, run_id):
        if not out or out[-1] != obj["status"]:
            out.append(obj["status"])
    return out


def _watch(
    emu: Emulator,
    client: openai.OpenAI,
    thread_id: str,
    run_id: str,
    *,
    step: float = 1.0,
    answer: bool = True,
    limit: int = 2000,
) -> Any:
    """Poll every `step` virtual seconds, answering rounds, until the run is terminal."""
    for _ in range(limit):
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action" and answer:
            calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
            outputs = [{"tool_call_id": c.id, "output": "42"} for c in calls]
            client.beta.threads.runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=outputs
            )
        elif run.status in ("completed", "failed", "cancelled", "expired", "incomplete"):
            return run
        emu.clock.advance(step)
    raise AssertionError("the run never ended")


def _all_checks(emu: Emulator, run_id: str, level: Strictness = Strictness.STRICT) -> None:
    assert trace_problems(run_objects(emu, run_id), level, trusted_only=False) == []
    run = emu.run_object(run_id)
    children = emu.steps(run_id) + emu.messages(run["thread_id"])
    assert link_problems(run, children) == []


def test_lesson_plain_run_times(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start+1, complete+23")
    created = emu.run_object(run_id)["created_at"]
    run = _watch(emu, client, thread_id, run_id)
    assert _statuses(emu, run_id) == ["queued", "in_progress", "completed"]
    assert (run.started_at - created, run.completed_at - created) == (1, 24)
    assert run.expires_at is None
    assert run.usage is not None
    reply = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    assert (reply.role, reply.status, reply.run_id) == ("assistant", "completed", run_id)
    _all_checks(emu, run_id)


def test_several_rounds_of_parallel_calls(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run(
        "start+1, require_action(3)+2, start+1, require_action(1)+2, start+1, complete+2"
    )
    run = _watch(emu, client, thread_id, run_id)
    assert run.status == "completed"
    assert _statuses(emu, run_id) == [
        "queued",
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "completed",
    ]
    steps = emu.steps(run_id)
    assert [(s["type"], len(s["step_details"].get("tool_calls", ()))) for s in steps] == [
        ("tool_calls", 3),
        ("tool_calls", 1),
        ("message_creation", 0),
    ]
    assert all(s["status"] == "completed" for s in steps)
    versions = run_objects(emu, run_id)
    assert (
        len({v["expires_at"] for v in versions if v["expires_at"] is not None}) == 1
    )  # never reset
    assert len({v["started_at"] for v in versions if v["started_at"] is not None}) == 1  # kept
    _all_checks(emu, run_id)


@pytest.mark.parametrize("code", ["server_error", "rate_limit_exceeded", "invalid_prompt"])
def test_failed_run(emu: Emulator, client: openai.OpenAI, code: str) -> None:
    thread_id, run_id = emu.start_run(f"start+1, fail({code})+2")
    run = _watch(emu, client, thread_id, run_id)
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == code
    assert run.failed_at is not None
    assert run.expires_at is None
    assert run.completed_at is None
    _all_checks(emu, run_id)


@pytest.mark.parametrize("reason", ["max_completion_tokens", "max_prompt_tokens"])
def test_incomplete_run(emu: Emulator, client: openai.OpenAI, reason: str) -> None:
    thread_id, run_id = emu.start_run(f"start+1, hit_token_limit({reason})+2")
    run = _watch(emu, client, thread_id, run_id)
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == reason
    assert run.completed_at is not None
    assert run.expires_at is None
    message = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    assert message.status == "incomplete"
    assert message.incomplete_details is not None
    assert message.incomplete_details.reason == "max_tokens"
    assert message.incomplete_at is not None
    _all_checks(emu, run_id)


def test_unanswered_round_expires_at_expires_at(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start+1, require_action(1)+2, start, complete")
    run = _watch(emu, client, thread_id, run_id, step=50, answer=False)
    assert run.status == "expired"
    assert _statuses(emu, run_id)[-2:] == ["requires_action", "expired"]
    step = emu.steps(run_id)[0]
    assert (step["status"], step["expired_at"]) == ("expired", run.created_at + 600)
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=[])
    assert info.value.body["message"] == 'Runs in status "expired" do not accept tool outputs.'  # type: ignore[index]
    _all_checks(emu, run_id)


def test_expire_move_waits_for_the_clock(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start+1, expire")
    emu.clock.advance(599)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "in_progress"
    emu.clock.advance(1)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "expired"
    _all_checks(emu, run_id)


def test_a_slow_start_at_strict_starts_then_expires(emu: Emulator, client: openai.OpenAI) -> None:
    # queued → expired is only inferred: at the strict level the run starts at expires_at,
    # then expires
    thread_id, run_id = emu.start_run("start+700, complete+1")
    emu.clock.advance(800)
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "expired"
    assert run.started_at == run.created_at + 600
    _all_checks(emu, run_id)
    permissive = parse_script("start+700, complete+1", strictness="permissive")
    thread_id, run_id = emu.start_run(permissive)
    emu.clock.advance(800)
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "expired"
    assert run.started_at is None
    _all_checks(emu, run_id, Strictness.PERMISSIVE)


def test_cancel_honoured(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start+1, complete+30; on_cancel=finish_cancel+2")
    emu.clock.advance(5)
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread_id).status == "cancelling"
    emu.clock.advance(1)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "cancelling"
    emu.clock.advance(1)
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "cancelled"
    assert run.cancelled_at is not None
    assert run.usage is not None
    emu.clock.advance(100)  # the script's complete never comes
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "cancelled"
    _all_checks(emu, run_id)


@pytest.mark.parametrize(
    ("on_cancel", "final"),
    [("complete+2", "completed"), ("fail+2", "failed"), ("expire", "expired")],
)
def test_cancel_ignored_at_permissive(
    emu: Emulator, client: openai.OpenAI, on_cancel: str, final: str
) -> None:
    script = parse_script(
        f"start, require_action(1)+1, start, complete; on_cancel={on_cancel}",
        strictness="permissive",
    )
    thread_id, run_id = emu.start_run(script)
    emu.clock.advance(2)
    assert (
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "requires_action"
    )
    cancelling = client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert cancelling.status == "cancelling"
    assert cancelling.required_action is None
    run = _watch(emu, client, thread_id, run_id, step=100)
    assert run.status == final
    assert emu.steps(run_id)[0]["status"] in ("cancelled", "failed", "expired")
    _all_checks(emu, run_id, Strictness.PERMISSIVE)


def test_scripts_can_be_queued_chosen_or_fixed(emu: Emulator, client: openai.OpenAI) -> None:
    assistant_id = emu.run_object(emu.start_run()[1])["assistant_id"]

    def new_run() -> str:
        thread = client.beta.threads.create()
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
        _watch(emu, client, thread.id, run.id)
        return _statuses(emu, run.id)[-1]

    emu.queue_scripts("start, fail", "start, hit_token_limit")
    emu.script = "start, complete"
    assert [new_run(), new_run(), new_run()] == ["failed", "incomplete", "completed"]
    emu.script_chooser = lambda thread, run: "start+1, fail(invalid_prompt)+1"
    assert new_run() == "failed"
    emu.script_chooser = None
    emu.script = None  # the default: one function round for a run with a function tool
    assert new_run() == "completed"
    with pytest.raises(TypeError):
        emu.script = 3  # type: ignore[assignment]


def test_default_script_without_tools_is_a_plain_reply(
    emu: Emulator, client: openai.OpenAI
) -> None:
    thread_id, run_id = emu.start_run(assistant={"model": "gpt-4o"})
    run = _watch(emu, client, thread_id, run_id)
    assert _statuses(emu, run_id) == ["queued", "in_progress", "completed"]
    assert run.completed_at - run.created_at == 24


def test_reply_text_is_scriptable(emu: Emulator, client: openai.OpenAI) -> None:
    script = parse_script("start, complete", reply="Hello there")
    thread_id, run_id = emu.start_run(script)
    _watch(emu, client, thread_id, run_id)
    reply = client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id).data
    assert [m.content[0].text.value for m in reply] == ["Hello there"]  # type: ignore[union-attr]


def test_check_helpers_catch_broken_objects() -> None:
    good = {
        "object": "thread",
        "id": "thread_1",
        "created_at": 1,
        "metadata": {},
        "tool_resources": {},
    }
    assert problems_in_object(good) == []
    assert problems_in_object({k: v for k, v in good.items() if k != "metadata"}) == [
        "thread lacks metadata"
    ]
    assert problems_in_object({**good, "created_at": "soon"})[0].startswith(
        "thread does not validate"
    )
    run = {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 10,
        "status": "completed",
        "expires_at": 610,
        "started_at": 11,
        "completed_at": 12,
    }
    found = trace_problems(
        [{**run, "status": "queued", "completed_at": None, "started_at": None}, run],
        Strictness.STRICT,
    )
    assert any("run.expires_at.null" in p for p in found)
    found = trace_problems(
        [{**run, "status": "cancelling"}, {**run, "expires_at": None}], Strictness.STRICT
    )
    assert any("cancelling → completed: no path at strict" in p for p in found)
    step = {
        "object": "thread.run.step",
        "id": "step_1",
        "run_id": "run_1",
        "type": "tool_calls",
        "status": "in_progress",
    }
    assert link_problems({**run, "expires_at": None}, [step])[0].startswith(
        "run_step.settles_with_run"
    )


def test_default_scripts_take_the_emulators_strictness() -> None:
    emu = Emulator(strictness="permissive")
    client = emu.client()
    thread_id, run_id = emu.start_run()
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread_id).status == "cancelling"
    strict = Emulator()
    thread_id, run_id = strict.start_run()
    with pytest.raises(openai.BadRequestError):
        strict.client().beta.threads.runs.cancel(run_id, thread_id=thread_id)
