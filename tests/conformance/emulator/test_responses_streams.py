"""Response streams through the real SDK: events parse as the SDK's own `ResponseStreamEvent`
types, sequence numbers start at 0 and rise by one, a resume sends only the events after its
cursor, a stream dropped mid-way resumes with every event exactly once, and a cancelled
response's stream just ends."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import ResponseStreamEvent

from conformance.emulator import Emulator, Fault
from conformance.emulator.faults import parse_faults
from conformance.emulator.transport import http_module
from runmodel import RESPONSE

_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
_ENDS = {f"response.{s}" for s in RESPONSE.terminal}
_BROKEN = (openai.APIConnectionError, http_module().RemoteProtocolError)
"""What a client sees of a body that breaks off: openai 3.x wraps it, older SDKs do not."""


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def client(emu: Emulator) -> openai.OpenAI:
    return emu.client(max_retries=0)


def _parsed(events: list[Any]) -> list[dict[str, Any]]:
    """Each event as the SDK's own union validates it (strictly, unlike its stream reader)."""
    out = []
    for event in events:
        data = event.model_dump(mode="json", exclude_unset=True)
        _EVENTS.validate_python(data)
        out.append(data)
    return out


def _drain(stream: Any, into: list[Any]) -> None:
    for event in stream:
        into.append(event)


async def _adrain(stream: Any, into: list[Any]) -> None:
    async for event in stream:
        into.append(event)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["sequence_number"] for e in events]


def _logged(emu: Emulator, rid: str) -> list[dict[str, Any]]:
    """Every event of the response so far (advanced to now), from the emulator's hook."""
    emu.response_object(rid)
    return [data for _, data in emu.responses[rid].events]


def test_a_background_stream_opens_queued_and_ends_completed(
    emu: Emulator, client: openai.OpenAI
) -> None:
    stream = client.responses.create(model="m", input="Hi", background=True, stream=True)
    events = _parsed(list(stream))
    types = _types(events)
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert events[0]["response"]["status"] == "queued"
    assert types[-1] == "response.completed"
    assert [t for t in types if t in _ENDS] == ["response.completed"]
    assert "response.output_text.delta" in types
    assert _seqs(events) == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == events[-1]["response"]["output"][0]["content"][0]["text"]
    for event in events:  # a lifecycle event carries a response in the status it names
        if event["type"] in (*_ENDS, "response.queued", "response.in_progress"):
            assert event["type"] == "response." + event["response"]["status"]
    rid = events[0]["response"]["id"]
    assert _logged(emu, rid) == events


@pytest.mark.parametrize(
    ("script", "last"),
    [
        ("start+1, fail(server_error)+2", "response.failed"),
        ("start+1, stop_incomplete(max_output_tokens)+2", "response.incomplete"),
        ("start+1, complete(2)+2", "response.completed"),
    ],
)
def test_streams_end_with_one_terminal_event(
    emu: Emulator, client: openai.OpenAI, script: str, last: str
) -> None:
    emu.response_script = script
    events = _parsed(
        list(client.responses.create(model="m", input="x", background=True, stream=True))
    )
    assert [t for t in _types(events) if t in _ENDS] == [last]
    assert _types(events)[-1] == last
    assert _seqs(events) == list(range(len(events)))
    if script.endswith("complete(2)+2"):
        done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert len(done) == 2
        calls = events[-1]["response"]["output"]
        assert [c["type"] for c in calls] == ["function_call", "function_call"]


def test_a_foreground_stream_has_no_queued_event_and_cannot_be_resumed(
    emu: Emulator, client: openai.OpenAI
) -> None:
    events = _parsed(list(client.responses.create(model="m", input="x", stream=True)))
    assert _types(events)[:2] == ["response.created", "response.in_progress"]
    assert events[0]["response"]["status"] == "in_progress"  # never seen queued
    assert _seqs(events) == list(range(len(events)))
    assert _types(events)[-1] == "response.completed"
    rid = events[0]["response"]["id"]
    with pytest.raises(openai.NotFoundError):
        list(client.responses.retrieve(rid, stream=True))


def test_a_resume_sends_only_the_events_after_its_cursor(
    emu: Emulator, client: openai.OpenAI
) -> None:
    rid = client.responses.create(model="m", input="x", background=True).id
    emu.clock.advance(30)
    full = _logged(emu, rid)
    for after in (0, 3, len(full) - 2):
        got = _parsed(list(client.responses.retrieve(rid, stream=True, starting_after=after)))
        assert got == full[after + 1 :]
    assert _parsed(list(client.responses.retrieve(rid, stream=True))) == full


def test_a_resume_follows_a_response_still_running(emu: Emulator, client: openai.OpenAI) -> None:
    emu.response_script = "start+5, complete+20"
    rid = client.responses.create(model="m", input="x", background=True).id
    got = _parsed(list(client.responses.retrieve(rid, stream=True, starting_after=1)))
    assert _types(got)[0] == "response.in_progress"
    assert _types(got)[-1] == "response.completed"
    assert _seqs(got) == list(range(2, 2 + len(got)))


@pytest.mark.parametrize("cut", [1, 2, 4, 7])
def test_a_dropped_stream_resumes_with_every_event_exactly_once(
    emu: Emulator, client: openai.OpenAI, cut: int
) -> None:
    emu.faults.schedule("stream_drop", method="POST", path="/responses", events=cut)
    seen: list[Any] = []
    stream = client.responses.create(model="m", input="x", background=True, stream=True)
    with pytest.raises(_BROKEN):
        _drain(stream, seen)
    assert len(seen) == cut
    rid = seen[0].response.id
    last = seen[-1].sequence_number
    seen += list(client.responses.retrieve(rid, stream=True, starting_after=last))
    events = _parsed(seen)
    assert _seqs(events) == list(range(len(events)))
    assert events == _logged(emu, rid)
    assert _types(events)[-1] == "response.completed"
    assert [r.fault for r in emu.requests] == ["stream_drop", None]


def test_the_sdk_stream_helper_resumes_by_id(emu: Emulator, client: openai.OpenAI) -> None:
    rid = client.responses.create(model="m", input="x", background=True).id
    with client.responses.stream(response_id=rid, starting_after=2) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert events[0].sequence_number == 3
    assert final.status == "completed"
    assert final.output_text == emu.response_object(rid)["output"][0]["content"][0]["text"]


def test_the_sdk_stream_helper_creates_in_background(client: openai.OpenAI) -> None:
    with client.responses.stream(model="m", input="x", background=True) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert (final.status, final.background) == ("completed", True)
    assert text == final.output_text


def test_a_cancelled_response_stream_just_ends(emu: Emulator, client: openai.OpenAI) -> None:
    emu.response_script = "start+1, complete+60"
    stream = client.responses.create(model="m", input="x", background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "response.in_progress":
            assert client.responses.cancel(event.response.id).status == "cancelled"
    assert [e.type for e in seen] == ["response.created", "response.queued", "response.in_progress"]
    rid = seen[0].response.id  # type: ignore[union-attr]
    assert list(client.responses.retrieve(rid, stream=True, starting_after=2)) == []
    assert emu.response_object(rid)["status"] == "cancelled"


def test_async_streams_and_drops(emu: Emulator) -> None:
    emu.faults.schedule("stream_drop", method="POST", path="/responses", events=2)
    aclient = emu.async_client(max_retries=0)

    async def main() -> list[Any]:
        seen: list[Any] = []
        stream = await aclient.responses.create(model="m", input="x", background=True, stream=True)
        with pytest.raises(_BROKEN):
            await _adrain(stream, seen)
        rest = await aclient.responses.retrieve(
            seen[0].response.id, stream=True, starting_after=seen[-1].sequence_number
        )
        seen += [e async for e in rest]
        return seen

    events = _parsed(asyncio.run(main()))
    assert _seqs(events) == list(range(len(events)))
    assert _types(events)[-1] == "response.completed"


def test_the_checker_input_carries_the_streamed_events(
    emu: Emulator, client: openai.OpenAI
) -> None:
    list(client.responses.create(model="m", input="x", background=True, stream=True))
    rec = emu.requests[-1]
    assert rec.streamed
    assert rec.response_id is not None
    names = [name for name, _ in rec.stream_events()]
    assert names == [name for name, _ in emu.responses[rec.response_id].events]


def test_a_stream_drop_leaves_other_replies_alone(emu: Emulator, client: openai.OpenAI) -> None:
    emu.faults.schedule("stream_drop", path="/responses*", events=0)
    created = client.responses.create(model="m", input="x", background=True)  # not a stream
    assert created.status == "queued"
    assert emu.requests[-1].fault is None
    assert emu.faults.injected[0][1] == Fault("stream_drop", events=0)


def test_stream_drop_faults_are_read_and_checked() -> None:
    assert parse_faults("stream_drop=0.25") == {"stream_drop": 0.25}
    with pytest.raises(ValueError, match="must not be negative"):
        Fault("stream_drop", events=-1)
    emu = Emulator()
    emu.faults.random(stream_drop=1.0, drop_after=1)
    client = emu.client(max_retries=0)
    with pytest.raises(_BROKEN):
        list(client.responses.create(model="m", input="x", background=True, stream=True))
    events = emu.requests[-1].stream_events()
    assert [name for name, _ in events] == ["response.created"]
