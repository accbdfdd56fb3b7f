"""Responses through the real SDK: background create and poll to each terminal status, cancel in
each status, foreground create, delete, input items, and response scripts against the model."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from conformance.emulator import Emulator, ScriptError
from conformance.emulator.response_script import (
    ERROR_CODES,
    INCOMPLETE_REASONS,
    RESPONSE_MOVES,
    ResponseMove,
    ResponseScript,
    default_response_script,
    parse_response_script,
)
from runmodel import FACTS, FIELDS, RESPONSE, Actor, Strictness

ACTIVE = ("queued", "in_progress")


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def client(emu: Emulator) -> openai.OpenAI:
    """A strict-validating SDK client: every reply must parse as the SDK's own models."""
    return emu.client(max_retries=0)


def _poll(emu: Emulator, client: openai.OpenAI, rid: str, step: float = 1.0) -> list[Any]:
    """Poll every `step` virtual seconds until the response leaves queued/in_progress."""
    seen = []
    for _ in range(500):
        resp = client.responses.retrieve(rid)
        seen.append(resp)
        if resp.status not in ACTIVE:
            return seen
        emu.clock.advance(step)
    raise AssertionError("the response never ended")


def _statuses(seen: list[Any]) -> list[str]:
    out: list[str] = []
    for resp in seen:
        if not out or out[-1] != resp.status:
            out.append(resp.status)
    return out


def _fields_ok(obj: dict[str, Any]) -> None:
    """The model's field table holds for `obj` in its status."""
    rule = FIELDS["response"][obj["status"]]
    assert [f for f in rule.null if obj.get(f) is not None] == []
    assert [f for f in rule.set if obj.get(f) is None] == []


@pytest.mark.parametrize(
    ("script", "final"),
    [
        ("start+1, complete+3", "completed"),
        ("start+1, fail(rate_limit_exceeded)+2", "failed"),
        ("start+1, stop_incomplete(content_filter)+2", "incomplete"),
    ],
)
def test_background_create_then_poll_to_each_end(
    emu: Emulator, client: openai.OpenAI, script: str, final: str
) -> None:
    emu.response_script = script
    created = client.responses.create(model="gpt-4.1", input="Hello", background=True)
    assert (created.status, created.background, created.output) == ("queued", True, [])
    seen = _poll(emu, client, created.id)
    assert _statuses([created, *seen]) == ["queued", "in_progress", final]
    last = seen[-1]
    for resp in [created, *seen]:
        _fields_ok(resp.model_dump())
    if final == "failed":
        assert last.error is not None
        assert last.error.code == "rate_limit_exceeded"
    if final == "incomplete":
        assert last.incomplete_details is not None
        assert last.incomplete_details.reason == "content_filter"
        assert last.output[0].status == "incomplete"
    if final == "completed":
        assert last.output_text
        assert last.completed_at is not None
        assert last.completed_at - last.created_at == 4
    history = emu.responses[created.id].history
    assert [c.status for c in history] == ["queued", "in_progress", final]
    assert [c.actor for c in history] == [Actor.CLIENT, Actor.SERVER, Actor.SERVER]


def test_moves_happen_at_their_own_times_however_late_the_poll(
    emu: Emulator, client: openai.OpenAI
) -> None:
    rid = client.responses.create(model="m", input="x", background=True).id
    emu.clock.advance(100)
    done = client.responses.retrieve(rid)
    assert done.status == "completed"
    history = emu.responses[rid].history
    assert [round(c.at - history[0].at, 2) for c in history] == [0, 1, 6]


def test_foreground_create_answers_when_ended(emu: Emulator, client: openai.OpenAI) -> None:
    emu.response_script = "start+2, complete+5"
    before = emu.clock.now()
    resp = client.responses.create(model="gpt-4.1", input="Hello")
    assert (resp.status, resp.background) == ("completed", False)
    assert emu.clock.now() - before >= 7


@pytest.mark.parametrize("status", ACTIVE)
def test_cancel_in_each_active_status(emu: Emulator, client: openai.OpenAI, status: str) -> None:
    emu.response_script = "start+2, complete+10"
    rid = client.responses.create(model="m", input="x", background=True).id
    if status == "in_progress":
        emu.clock.advance(3)
    assert client.responses.retrieve(rid).status == status
    cancelled = client.responses.cancel(rid)
    assert cancelled.status == "cancelled"
    _fields_ok(cancelled.model_dump())
    emu.clock.advance(60)
    assert client.responses.retrieve(rid).status == "cancelled"  # nothing moves it again
    again = client.responses.cancel(rid)  # response.cancel.idempotent
    assert again.model_dump() == cancelled.model_dump()
    assert [c.actor for c in emu.responses[rid].history][-1] is Actor.CLIENT


@pytest.mark.parametrize(
    "script", ["start, complete+1", "start, fail+1", "start, stop_incomplete+1"]
)
@pytest.mark.parametrize("level", list(Strictness))
def test_cancel_of_an_ended_response_answers_it_unchanged(script: str, level: Strictness) -> None:
    emu = Emulator(strictness=level, response_script=script)
    client = emu.client(max_retries=0)
    rid = client.responses.create(model="m", input="x", background=True).id
    emu.clock.advance(5)
    ended = client.responses.retrieve(rid)
    assert client.responses.cancel(rid).model_dump() == ended.model_dump()
    assert [c.status for c in emu.responses[rid].history][-1] == ended.status


def test_cancel_of_a_foreground_response_is_400(emu: Emulator, client: openai.OpenAI) -> None:
    rid = client.responses.create(model="m", input="x").id
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.cancel(rid)
    assert "background=true" in info.value.message
    assert info.value.body["type"] == "invalid_request_error"  # type: ignore[index]


def test_the_disputed_edge_only_at_permissive(emu: Emulator) -> None:
    with pytest.raises(ScriptError, match="on_cancel"):
        parse_response_script("start+1, complete+9; on_cancel=complete+5")
    emu = Emulator(
        strictness="permissive", response_script="start+1, complete+9; on_cancel=complete+5"
    )
    client = emu.client(max_retries=0)
    rid = client.responses.create(model="m", input="x", background=True).id
    assert client.responses.cancel(rid).status == "cancelled"
    assert emu.next_wake(rid) is not None
    emu.clock.advance(6)
    assert client.responses.retrieve(rid).status == "completed"
    assert emu.next_wake(rid) is None


def test_delete_then_404(emu: Emulator, client: openai.OpenAI) -> None:
    rid = client.responses.create(model="m", input="x", background=True).id
    assert client.responses.delete(rid) is None
    with pytest.raises(openai.NotFoundError, match=rid):
        client.responses.retrieve(rid)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel(rid)
    assert emu.responses[rid].deleted
    assert emu.next_wake(rid) is None


def test_unknown_response_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="resp_nope"):
        client.responses.retrieve("resp_nope")


def test_missing_model_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="model"):
        client.responses.create(input="x", background=True)  # type: ignore[call-overload]


def test_input_items_list_what_was_sent(emu: Emulator, client: openai.OpenAI) -> None:
    rid = client.responses.create(
        model="m",
        background=True,
        input=[
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "input_text", "text": "two"}]},
        ],
    ).id
    items = client.responses.input_items.list(rid, order="asc").data
    texts = [i.content[0].text for i in items]  # type: ignore[union-attr]
    assert texts == ["one", "two"]
    newest_first = client.responses.input_items.list(rid).data
    assert [i.id for i in newest_first] == [i.id for i in reversed(items)]
    page = client.responses.input_items.list(rid, limit=1, order="asc")
    assert [i.id for i in page.data] == [items[0].id]
    assert page.has_more


def test_each_response_its_own_script(emu: Emulator, client: openai.OpenAI) -> None:
    emu.queue_response_scripts("start, fail+1")
    emu.response_script_chooser = lambda r: (
        "start, stop_incomplete+1" if r["metadata"].get("kind") == "cut" else "start, complete+1"
    )
    first = client.responses.create(model="m", input="x", background=True).id
    cut = client.responses.create(model="m", input="x", background=True, metadata={"kind": "cut"})
    plain = client.responses.create(model="m", input="x", background=True).id
    emu.clock.advance(5)
    got = [client.responses.retrieve(r).status for r in (first, cut.id, plain)]
    assert got == ["failed", "incomplete", "completed"]


def test_start_response_and_object_for_harnesses(emu: Emulator) -> None:
    rid = emu.start_response("start+1, complete+1")
    assert emu.response_object(rid)["status"] == "queued"
    assert emu.next_wake(rid) == emu.responses[rid].history[0].at + 1
    emu.clock.advance(2)
    assert emu.responses[rid].status == "queued"  # the view is not advanced...
    assert emu.response_object(rid)["status"] == "completed"  # ...a read is
    assert emu.requests == []


# -- scripts --------------------------------------------------------------------------------------


def test_script_text_form() -> None:
    script = parse_response_script("start+1, complete(2)+3s")
    assert script.moves == (ResponseMove("start", 1), ResponseMove("complete", 3, 2))
    assert script.calls == 2
    assert script.statuses() == ("queued", "in_progress", "completed")
    assert str(script) == "start+1, complete(2)+3"
    fail = parse_response_script("start, fail(server_error)+2")
    assert fail.moves[1].arg == "server_error"
    assert str(fail) == "start, fail(server_error)+2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start+1", "leaves the response 'in_progress'"),
        ("complete+1", "move 1"),
        ("start, fail(nope)", "not one of"),
        ("start, stop_incomplete(max_messages)", "not one of"),
        ("start, complete(-1)", "needs a number of calls"),
        ("start, submit_tool_outputs", "not a response move"),
        ("start, , complete", "empty move"),
        ("start, complete; on_cancel=start", "on_cancel"),
        ("start, complete; later=complete", "on_cancel=MOVE"),
        ("start, ???", "cannot read"),
    ],
)
def test_scripts_the_model_forbids(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_response_script(text)


def test_moves_and_values_come_from_the_model() -> None:
    assert set(RESPONSE_MOVES) == {
        e.trigger for e in RESPONSE.all_edges if e.actor is not Actor.CLIENT
    }
    assert "misalignment_policy_violation" not in ERROR_CODES  # the SDK's extra (disputed)
    assert set(INCOMPLETE_REASONS) == {"max_output_tokens", "content_filter"}


def test_a_queued_failure_only_at_permissive() -> None:
    with pytest.raises(ScriptError, match="move 1"):
        ResponseScript((ResponseMove("fail"),))
    script = ResponseScript((ResponseMove("fail"),), strictness=Strictness.PERMISSIVE)
    assert script.statuses() == ("queued", "failed")


def test_default_scripts() -> None:
    tool = {"type": "function", "name": "f"}
    assert default_response_script({"tools": [tool]}).calls == 1
    assert default_response_script({"tools": [tool], "previous_response_id": "resp_1"}).calls == 0
    assert default_response_script({}).calls == 0


def test_faults_reach_responses_and_change_nothing(emu: Emulator) -> None:
    emu.faults.schedule("rate_limit", method="POST", path="/responses", seconds=0.5)
    emu.faults.schedule("server_error", method="GET", path="/responses/*")
    client = emu.client(max_retries=2)
    with emu.virtual_time():
        rid = client.responses.create(model="m", input="x", background=True).id
        assert client.responses.retrieve(rid).status == "queued"
    assert len(emu.responses) == 1  # the refused create made nothing
    assert [(r.method, r.status, r.fault) for r in emu.requests] == [
        ("POST", 429, "rate_limit"),
        ("POST", 200, None),
        ("GET", 500, "server_error"),
        ("GET", 200, None),
    ]
    assert [r.response_id for r in emu.requests] == [None, rid, None, rid]


def test_the_facts_the_emulator_follows_are_the_models() -> None:
    """The emulator's docstrings and replies cite these facts; the model must still hold them."""
    followed = [
        "response.cancel.background_only",
        "response.cancel.idempotent",
        "response.cancel.finished",
        "response.stream.no_cancelled_event",
        "response.stream.starts_at_zero",
        "response.stream.resume_suffix",
        "response.stream.background_only",
        "response.round.all_outputs",
        "response.round.no_orphans",
    ]
    assert [code for code in followed if code not in FACTS] == []


def test_the_async_client_too(emu: Emulator) -> None:
    emu.response_script = "start+1, complete+2"
    aclient = emu.async_client(max_retries=0)

    async def main() -> list[str]:
        fore = await aclient.responses.create(model="m", input="x")
        back = await aclient.responses.create(model="m", input="x", background=True)
        cancelled = await aclient.responses.cancel(back.id)
        return [fore.status, back.status, cancelled.status]

    assert asyncio.run(main()) == ["completed", "queued", "cancelled"]
