"""Endpoints as the SDK calls them: objects, pagination, headers, and the errors of the real API."""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from conformance.emulator import LESSON_ASSISTANT, Emulator, Script, parse_script
from conformance.errors import format_error
from tests.helpers.emucheck import create_assistant

LONG = "start+1, complete+100"


def _setup(client: openai.OpenAI) -> tuple[str, str]:
    assistant = create_assistant(client, **LESSON_ASSISTANT)
    thread = client.beta.threads.create()
    return assistant.id, thread.id


def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    assert isinstance(exc.body, dict)
    return exc.body


def test_assistants_crud_and_list(client: openai.OpenAI) -> None:
    assistants = client.beta.assistants
    made = [create_assistant(client, model="gpt-4o", name=f"a{i}") for i in range(5)]
    assert assistants.retrieve(made[0].id).name == "a0"
    updated = assistants.update(made[0].id, name="renamed", metadata={"k": "v"})
    assert (updated.name, updated.metadata) == ("renamed", {"k": "v"})
    page = assistants.list(limit=2)
    assert [a.name for a in page.data] == ["a4", "a3"]
    assert page.has_more
    assert len(list(assistants.list(limit=2))) == 5  # auto-pagination follows `after`
    deleted = assistants.delete(made[1].id)
    assert (deleted.deleted, deleted.object) == (True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError) as info:
        assistants.retrieve(made[1].id)
    assert _error(info.value)["message"] == f"No assistant found with id '{made[1].id}'."


def test_pagination_cursors(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=str(i)).id
        for i in range(6)
    ]
    asc = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=4)
    assert [m.id for m in asc.data] == ids[:4]
    assert (asc.first_id, asc.last_id, asc.has_more) == (ids[0], ids[3], True)
    after = client.beta.threads.messages.list(thread_id=thread.id, order="asc", after=ids[3])
    assert ([m.id for m in after.data], after.has_more) == (ids[4:], False)
    before = client.beta.threads.messages.list(
        thread_id=thread.id, order="asc", before=ids[4], limit=2
    )
    assert ([m.id for m in before.data], before.has_more) == (ids[2:4], True)
    desc = client.beta.threads.messages.list(thread_id=thread.id, limit=100)
    assert [m.id for m in desc.data] == ids[::-1]
    empty = client.beta.threads.messages.list(thread_id=thread.id, after=ids[0])
    assert (empty.data, empty.first_id, empty.last_id, empty.has_more) == ([], None, None, False)
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.beta.threads.messages.list(thread_id=thread.id, limit=101)


def test_threads_and_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "你好,请问你能做什么。"}], metadata={"a": "b"}
    )
    assert client.beta.threads.retrieve(thread.id).metadata == {"a": "b"}
    assert client.beta.threads.update(thread.id, metadata={"c": "d"}).metadata == {"c": "d"}
    parts = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content=[{"type": "text", "text": "part"}]
    )
    assert parts.content[0].type == "text"
    assert parts.content[0].text.value == "part"
    listed = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [m.content[0].text.value for m in listed] == ["你好,请问你能做什么。", "part"]  # type: ignore[union-attr]
    assert all(m.status == "completed" and m.completed_at is not None for m in listed)
    got = client.beta.threads.messages.retrieve(parts.id, thread_id=thread.id)
    assert got.id == parts.id
    assert client.beta.threads.messages.update(
        parts.id, thread_id=thread.id, metadata={"x": "1"}
    ).metadata == {"x": "1"}
    assert client.beta.threads.messages.delete(parts.id, thread_id=thread.id).deleted
    assert client.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.retrieve(thread.id)
    assert _error(info.value)["message"] == f"No thread found with id '{thread.id}'."


def test_run_inherits_the_assistant_and_overrides(emu: Emulator, client: openai.OpenAI) -> None:
    assistant_id, thread_id = _setup(client)
    run = client.beta.threads.runs.create(
        thread_id=thread_id,
        assistant_id=assistant_id,
        metadata={"k": "v"},
        max_prompt_tokens=500,
        additional_messages=[{"role": "user", "content": "extra"}],
    )
    assert run.status == "queued"
    assert (run.model, run.instructions) == (
        LESSON_ASSISTANT["model"],
        LESSON_ASSISTANT["instructions"],
    )
    assert run.tools[0].type == "function"
    assert (run.metadata, run.max_prompt_tokens) == ({"k": "v"}, 500)
    assert run.expires_at == run.created_at + 600
    assert run.started_at is None
    assert run.usage is None
    messages = client.beta.threads.messages.list(thread_id=thread_id).data
    assert messages[0].content[0].text.value == "extra"  # type: ignore[union-attr]
    other = client.beta.threads.create()
    overridden = client.beta.threads.runs.create(
        thread_id=other.id,
        assistant_id=assistant_id,
        tools=[],
        instructions="be brief",
        model="gpt-4o",
    )
    assert (overridden.tools, overridden.instructions, overridden.model) == (
        [],
        "be brief",
        "gpt-4o",
    )
    assert client.beta.threads.runs.update(
        run.id, thread_id=thread_id, metadata={"n": "1"}
    ).metadata == {"n": "1"}


def test_poll_after_header_on_run_replies(emu: Emulator, client: openai.OpenAI) -> None:
    assistant_id, thread_id = _setup(client)
    raw = client.beta.threads.runs.with_raw_response.create(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert raw.headers["openai-poll-after-ms"] == "1000"
    run = raw.parse()
    raw = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread_id)
    assert raw.headers["openai-poll-after-ms"] == "1000"
    assert (
        "openai-poll-after-ms"
        not in client.beta.threads.with_raw_response.retrieve(thread_id).headers
    )
    quiet = Emulator()
    quiet.poll_after_ms = None
    c = quiet.client()
    t = c.beta.threads.create()
    a = create_assistant(c, model="m")
    raw = c.beta.threads.runs.with_raw_response.create(thread_id=t.id, assistant_id=a.id)
    assert "openai-poll-after-ms" not in raw.headers


def test_create_thread_and_run(emu: Emulator, client: openai.OpenAI) -> None:
    assistant_id, _ = _setup(client)
    run = client.beta.threads.create_and_run(
        assistant_id=assistant_id, thread={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert run.status == "queued"
    messages = client.beta.threads.messages.list(thread_id=run.thread_id).data
    assert [m.role for m in messages] == ["user"]
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.create_and_run(assistant_id="asst_missing")
    assert len(emu.store.threads) == 2  # the failed call created no thread


def test_steps_list_and_retrieve(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start, require_action(2)+1, start, complete+1")
    with emu.virtual_time():
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id).data
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "in_progress")]
    details = steps[0].step_details
    assert details.type == "tool_calls"
    assert [c.function.output for c in details.tool_calls] == [None, None]  # type: ignore[union-attr]
    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    assert [c.id for c in details.tool_calls] == [c.id for c in calls]
    client.beta.threads.runs.submit_tool_outputs(
        run_id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": f"o{i}"} for i, c in enumerate(calls)],
    )
    with emu.virtual_time():
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    assert run.status == "completed"
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc").data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert [c.function.output for c in steps[0].step_details.tool_calls] == ["o0", "o1"]  # type: ignore[union-attr]
    message_id = steps[1].step_details.message_creation.message_id  # type: ignore[union-attr]
    reply = client.beta.threads.messages.retrieve(message_id, thread_id=thread_id)
    assert (reply.role, reply.run_id, reply.assistant_id) == ("assistant", run_id, run.assistant_id)
    one = client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread_id, run_id=run_id)
    assert one.id == steps[0].id
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.runs.steps.retrieve("step_x", thread_id=thread_id, run_id=run_id)
    assert _error(info.value)["message"] == "No run step found with id 'step_x'."


# -- the documented 400s (evidence §6) -------------------------------------------------------------


def test_submit_outside_requires_action(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run(LONG)
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=[])
    body = _error(info.value)
    assert body["message"] == 'Runs in status "queued" do not accept tool outputs.'
    assert body["message"] == format_error("submit_not_accepted", status="queued")
    assert (info.value.status_code, body["type"]) == (400, "invalid_request_error")


def test_wrong_call_ids(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start, require_action(2), start, complete")
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    calls = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": calls[0], "output": "x"}]
        )
    assert (
        _error(info.value)["message"]
        == f"Expected tool outputs for call_ids {calls!r}, got {[calls[0]]!r}"
    )
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.submit_tool_outputs(
            run_id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "x"}] * 2,
        )
    assert _error(info.value)["message"] == (
        f"Expected tool outputs for call_ids {calls!r}, got ['call_x', 'call_x']"
    )
    assert (
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "requires_action"
    )


def test_cancel_of_terminal_and_cancelling(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run("start, complete+5; on_cancel=finish_cancel+10")
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "in_progress"
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread_id).status == "cancelling"
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert _error(info.value)["message"] == "Cannot cancel run with status 'cancelling'."
    emu.clock.advance(10)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert _error(info.value)["message"] == "Cannot cancel run with status 'cancelled'."


def test_cancel_of_a_queued_run_needs_the_permissive_level(
    emu: Emulator, client: openai.OpenAI
) -> None:
    thread_id, run_id = emu.start_run(LONG)
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert _error(info.value)["message"] == "Cannot cancel run with status 'queued'."
    thread_id, run_id = emu.start_run(_permissive(LONG))
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread_id).status == "cancelling"


def _permissive(text: str) -> Script:
    return parse_script(text, strictness="permissive")


def test_locked_thread(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run(LONG)
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.messages.create(thread_id=thread_id, role="user", content="more")
    assert (
        _error(info.value)["message"]
        == f"Can't add messages to {thread_id} while a run {run_id} is active."
    )
    assistant_id = emu.run_object(run_id)["assistant_id"]
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert (
        _error(info.value)["message"] == f"Thread {thread_id} already has an active run {run_id}."
    )
    emu.clock.advance(200)  # the run completes; the thread unlocks
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content="more")
    assert (
        client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id).status
        == "queued"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: c.beta.threads.runs.retrieve("run_x", thread_id="thread_x"),
            "No thread found with id 'thread_x'.",
        ),
        (
            lambda c: c.beta.threads.messages.retrieve("msg_x", thread_id="thread_x"),
            "No thread found with id 'thread_x'.",
        ),
        (
            lambda c: c.beta.threads.runs.create(thread_id="thread_x", assistant_id="asst_x"),
            "No thread found with id 'thread_x'.",
        ),
    ],
)
def test_unknown_ids(client: openai.OpenAI, call: Any, message: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        call(client)
    assert _error(info.value)["message"] == message
    assert _error(info.value)["type"] == "invalid_request_error"


def test_unknown_run_on_a_real_thread(emu: Emulator, client: openai.OpenAI) -> None:
    thread_id, run_id = emu.start_run()
    other, _ = emu.start_run()
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.runs.retrieve(run_id, thread_id=other)  # right id, wrong thread
    assert _error(info.value)["message"] == f"No run found with id '{run_id}'."
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.messages.retrieve("msg_x", thread_id=thread_id)
    assert _error(info.value)["message"] == "No message found with id 'msg_x'."


def test_raw_core_errors(emu: Emulator) -> None:
    reply = emu.handle("GET", "/v1/threads/thread_x", "", {})
    assert reply.status == 400
    assert (
        "You must provide the 'OpenAI-Beta' header" in orjson.loads(reply.body)["error"]["message"]
    )
    reply = emu.handle("GET", "/v1/nowhere", "", {"openai-beta": "assistants=v2"})
    assert reply.status == 404
    assert orjson.loads(reply.body)["error"]["message"] == "Invalid URL (GET /v1/nowhere)"
    reply = emu.handle("POST", "/v1/threads", "", {"openai-beta": "assistants=v2"}, b"{nope")
    assert reply.status == 400
    reply = emu.handle("POST", "/v1/assistants", "", {"openai-beta": "assistants=v2"}, b"{}")
    assert orjson.loads(reply.body)["error"]["message"] == "Missing required parameter: 'model'."
    assert emu.store.assistants == {}
    assert emu.store.threads == {}
