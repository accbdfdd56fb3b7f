"""The SDK's own helpers work against the emulator: pollers, streams and event handlers."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta.threads import Run

from conformance.emulator import Emulator
from tests.helpers.emucheck import create_assistant

FUNCTION = "start+1, require_action(2)+2, start+1, complete+3"
FIRST_STREAM = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.requires_action",
]
SUBMIT_STREAM = [
    "thread.run.step.completed",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]


def _outputs(run: Run) -> list[Any]:
    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    return [{"tool_call_id": c.id, "output": f"{c.function.name}={i}"} for i, c in enumerate(calls)]


def _assistant(client: openai.OpenAI) -> str:
    from conformance.emulator import LESSON_ASSISTANT

    return str(create_assistant(client, **LESSON_ASSISTANT).id)


def test_create_and_poll_then_submit_and_poll(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script = FUNCTION
    assistant_id = _assistant(client)
    thread = client.beta.threads.create()
    with emu.virtual_time() as sleeps:
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id
        )
        assert run.status == "requires_action"
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=_outputs(run)
        )
    assert run.status == "completed"
    assert sleeps
    assert {s.seconds for s in sleeps} == {1.0}
    reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert reply.content[0].text.value == "根据计算结果：calculate_order_total=1"  # type: ignore[union-attr]


def test_poll_honours_the_header_and_the_interval() -> None:
    emu = Emulator(poll_after_ms=250, script="start+1, complete+1")
    c = emu.client()
    thread_id, run_id = emu.start_run()
    with emu.virtual_time() as sleeps:
        assert c.beta.threads.runs.poll(run_id, thread_id=thread_id).status == "completed"
    assert {s.seconds for s in sleeps} == {0.25}
    thread_id, run_id = emu.start_run()
    with emu.virtual_time() as sleeps:
        c.beta.threads.runs.poll(run_id, thread_id=thread_id, poll_interval_ms=700)
    assert {s.seconds for s in sleeps} == {0.7}


def test_thread_create_and_run_poll(emu: Emulator, client: openai.OpenAI) -> None:
    assistant_id = _assistant(client)
    with emu.virtual_time():
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant_id, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
    assert run.status == "requires_action"  # the lesson's assistant has a function tool


class _Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.tool_calls: list[str] = []
        self.text: list[str] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    def on_tool_call_created(self, tool_call: Any) -> None:
        self.tool_calls.append(tool_call.id)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text.append(delta.value)


def test_stream_with_a_requires_action_round(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script = FUNCTION
    assistant_id = _assistant(client)
    thread = client.beta.threads.create()
    handler = _Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert handler.events == FIRST_STREAM
    run = handler.current_run
    assert run is not None
    assert run.status == "requires_action"
    assert handler.tool_calls == [c["tool_call_id"] for c in _outputs(run)]
    after = _Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=_outputs(run), event_handler=after
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
        messages = stream.get_final_messages()
    assert after.events == SUBMIT_STREAM
    assert final.status == "completed"
    assert "".join(after.text) == messages[0].content[0].text.value  # type: ignore[union-attr]
    assert [r.status for r in client.beta.threads.runs.list(thread_id=thread.id)] == ["completed"]


def test_stream_plain_text_and_thread_create_and_run_stream(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.script = "start+1, complete+2"
    assistant_id = _assistant(client)
    with client.beta.threads.create_and_run_stream(assistant_id=assistant_id) as stream:
        text = "".join(stream.text_deltas)
        run = stream.get_final_run()
    assert run.status == "completed"
    assert text
    streamed = emu.requests[-1].stream_events()
    assert [name for name, _ in streamed][:2] == ["thread.created", "thread.run.created"]
    assert streamed[-1] == ("done", "[DONE]")


def test_raw_stream_iteration_ends_with_done(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script = "start, fail(rate_limit_exceeded)+1"
    assistant_id = _assistant(client)
    thread = client.beta.threads.create()
    events = [
        e.event
        for e in client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant_id, stream=True
        )
    ]
    assert events == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.failed",
    ]
    assert emu.requests[-1].stream_events()[-1][0] == "done"


# -- async ------------------------------------------------------------------------------------


class _AsyncRecorder(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def on_event(self, event: Any) -> None:
        self.events.append(event.event)


def test_async_create_and_poll_and_submit(emu: Emulator) -> None:
    emu.script = FUNCTION
    client = emu.async_client(max_retries=0)
    assistant_id = _assistant(emu.client())

    async def main() -> tuple[str, str]:
        thread = await client.beta.threads.create()
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id
        )
        first = run.status
        run = await client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=_outputs(run)
        )
        return first, run.status

    with emu.virtual_time() as sleeps:
        assert asyncio.run(main()) == ("requires_action", "completed")
    assert sleeps
    assert {s.via for s in sleeps} == {"anyio.sleep"}


def test_async_streams(emu: Emulator) -> None:
    emu.script = FUNCTION
    client = emu.async_client(max_retries=0)
    assistant_id = _assistant(emu.client())

    async def main() -> tuple[list[str], list[str], str]:
        thread = await client.beta.threads.create()
        first = _AsyncRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant_id, event_handler=first
        ) as stream:
            await stream.until_done()
        run = first.current_run
        assert run is not None
        second = _AsyncRecorder()
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=_outputs(run), event_handler=second
        ) as stream:
            await stream.until_done()
            final = await stream.get_final_run()
        return first.events, second.events, final.status

    first, second, status = asyncio.run(main())
    assert (first, second, status) == (FIRST_STREAM, SUBMIT_STREAM, "completed")


@pytest.mark.parametrize("strict", [True, False])
def test_clients_with_and_without_strict_validation(strict: bool) -> None:
    emu = Emulator(script="start, complete")
    client = emu.client(strict=strict)
    assert client._strict_response_validation is strict
    thread_id, run_id = emu.start_run()
    with emu.virtual_time():
        assert client.beta.threads.runs.poll(run_id, thread_id=thread_id).status == "completed"
