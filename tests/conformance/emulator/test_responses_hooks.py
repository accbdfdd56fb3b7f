"""What a harness needs of the emulator's responses, through the real SDK: a response the server
never moves again (``stay``), a create whose reply is lost (fault ``lost_reply``), and a third
party's cancel scheduled on the virtual clock (`Emulator.schedule_cancel`)."""

from __future__ import annotations

import openai
import pytest
from hypothesis import given, settings

from conformance.check import RunChecked, Severity, ViolationFound, check
from conformance.emulator import Emulator, Fault, ScriptError
from conformance.emulator.faults import parse_faults
from conformance.emulator.response_script import (
    ResponseMove,
    ResponseScript,
    parse_response_script,
    scripts,
)
from runmodel import RESPONSE, Strictness


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def client(emu: Emulator) -> openai.OpenAI:
    return emu.client(max_retries=0)


# -- a response the server never moves again ------------------------------------------------------


def test_stay_reads_back_and_only_ends_a_script() -> None:
    script = parse_response_script("start+1, stay")
    assert script == ResponseScript((ResponseMove("start", 1),), stays=True)
    assert (str(script), script.statuses()) == ("start+1, stay", ("queued", "in_progress"))
    assert parse_response_script("stay").statuses() == ("queued",)
    with pytest.raises(ScriptError, match="only as the last move") as bad:
        parse_response_script("start+1, stay, complete+1")
    assert bad.value.column == 10
    with pytest.raises(ScriptError, match="terminal already"):
        parse_response_script("start+1, complete+1, stay")
    with pytest.raises(ScriptError, match="or with 'stay'"):
        ResponseScript((ResponseMove("start", 1),))


@pytest.mark.parametrize(("text", "status"), [("stay", "queued"), ("start+1, stay", "in_progress")])
def test_a_response_that_stays_is_polled_as_it_is_for_good(
    emu: Emulator, client: openai.OpenAI, text: str, status: str
) -> None:
    emu.response_script = text
    rid = client.responses.create(model="m", input="x", background=True).id
    for _ in range(3):
        emu.clock.advance(1e6)
        assert client.responses.retrieve(rid).status == status
        assert emu.next_wake(rid) is None
    assert [c.status for c in emu.responses[rid].history] == list(
        parse_response_script(text).statuses()
    )
    assert client.responses.cancel(rid).status == "cancelled"  # a client may still end it


def test_a_stream_of_a_response_that_stays_ends_without_a_terminal_event(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.response_script = "start+1, stay"
    start = emu.clock.now()
    events = list(client.responses.create(model="m", input="x", background=True, stream=True))
    assert [e.type for e in events] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    rid = events[0].response.id  # type: ignore[union-attr]
    assert list(client.responses.retrieve(rid, stream=True, starting_after=2)) == []
    assert emu.clock.now() - start < 5  # it waited for nothing: nothing was due
    assert emu.response_object(rid)["status"] == "in_progress"


def test_a_foreground_create_that_stays_answers_it_as_it_stands(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.response_script = "start+1, stay"
    assert client.responses.create(model="m", input="x").status == "in_progress"


@settings(max_examples=40)
@given(scripts(Strictness.PERMISSIVE, stay=True))
def test_drawn_scripts_that_stay_end_short_of_a_terminal_status(script: ResponseScript) -> None:
    assert (script.statuses()[-1] in RESPONSE.terminal) is not script.stays
    assert parse_response_script(str(script), strictness=Strictness.PERMISSIVE) == script


# -- a create whose reply is lost -----------------------------------------------------------------


def test_a_lost_reply_leaves_the_response_queued_for_good(emu: Emulator) -> None:
    """The issue's "stays queued for good after a disconnect at creation": the create took
    effect, the client saw only a connection error, and nothing will ever move the response."""
    emu.response_script = "stay"
    emu.faults.schedule("lost_reply", method="POST", path="/responses")
    with pytest.raises(openai.APIConnectionError):
        emu.client(max_retries=0).responses.create(model="m", input="x", background=True)
    (rec,) = emu.requests
    assert (rec.fault, rec.status, rec.response) == ("lost_reply", None, None)
    assert rec.response_id is not None
    assert emu.response_object(rec.response_id)["status"] == "queued"
    assert emu.next_wake(rec.response_id) is None


def test_the_sdks_retry_of_a_lost_create_makes_a_second_response(emu: Emulator) -> None:
    """The real-world bug: the SDK retries a create whose reply was lost, so the server has
    two responses, and the client knows only the second; the first is never cancelled."""
    emu.faults.schedule("lost_reply", method="POST", path="/responses")
    client = emu.client(max_retries=2)
    with emu.virtual_time():
        created = client.responses.create(model="m", input="x", background=True)
    assert [(r.method, r.fault, r.status) for r in emu.requests] == [
        ("POST", "lost_reply", None),
        ("POST", None, 200),
    ]
    first, second = emu.responses
    assert created.id == second != first
    assert emu.requests[0].response_id == first
    emu.clock.advance(60)
    assert {emu.response_object(r)["status"] for r in (first, second)} == {"completed"}


def test_a_lost_reply_of_a_stream_closes_it_unread(emu: Emulator) -> None:
    emu.faults.schedule("lost_reply", method="POST", path="/responses")
    client = emu.client(max_retries=0)
    start = emu.clock.now()
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="m", input="x", background=True, stream=True)
    assert emu.requests[0].events is None
    assert emu.clock.now() - start < 1  # the stream never waited for the response's moves
    assert len(emu.responses) == 1


def test_lost_replies_are_read_and_drawn() -> None:
    assert parse_faults("lost_reply=0.5") == {"lost_reply": 0.5}
    emu = Emulator()
    emu.faults.random(lost_reply=1.0)
    with pytest.raises(openai.APIConnectionError):
        emu.client(max_retries=0).responses.create(model="m", input="x", background=True)
    assert emu.faults.injected == [(emu.requests[0].seq, Fault("lost_reply"))]
    assert len(emu.responses) == 1


# -- a third party's cancel on the virtual clock --------------------------------------------------


def _server_errors(emu: Emulator) -> list[str]:
    """The checker's errors about the emulator's traffic (not the client's)."""
    out = []
    for event in check(emu.items()):
        found = (
            event.result.violations
            if isinstance(event, RunChecked)
            else ([event.violation] if isinstance(event, ViolationFound) else [])
        )
        out += [f"{v.code}: {v.message}" for v in found if v.severity is Severity.ERROR]
    return out


def test_a_stream_wakes_for_a_scheduled_cancel_and_just_ends(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.response_script = "start+1, complete+60"
    stream = client.responses.create(model="m", input="x", background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "response.created":
            rid = event.response.id
            cancel_at = emu.clock.now() + 10
            emu.schedule_cancel(rid, cancel_at)
            assert emu.next_wake(rid) == emu.clock.now() + 1  # the start comes first
    assert [e.type for e in seen] == ["response.created", "response.queued", "response.in_progress"]
    assert emu.clock.now() == cancel_at  # it waited for the cancel, not for the completion
    (cancel,) = emu.third_party
    assert (cancel.method, cancel.path, cancel.status, cancel.at) == (
        "POST",
        f"/v1/responses/{rid}/cancel",
        200,
        cancel_at,
    )
    assert cancel.json()["status"] == "cancelled"
    assert emu.requests[-1] is cancel
    history = emu.responses[rid].history
    assert [(c.status, c.trigger, c.actor.value) for c in history][-1] == (
        "cancelled",
        "cancel",
        "client",
    )
    assert emu.next_wake(rid) is None
    assert _server_errors(emu) == []


def test_a_scheduled_cancel_is_played_at_its_time_before_a_later_poll(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.response_script = "start+1, complete+5"
    rid = client.responses.create(model="m", input="x", background=True).id
    created = emu.responses[rid].history[0].at
    emu.schedule_cancel(rid, created + 3)
    emu.clock.advance(30)  # the client slept past the cancel and the completion's time
    assert client.responses.retrieve(rid).status == "cancelled"
    create, cancel, poll = emu.requests
    assert emu.third_party == [cancel]
    assert create.seq < cancel.seq < poll.seq
    assert create.at < cancel.at == created + 3 < poll.at
    assert [c.status for c in emu.responses[rid].history] == ["queued", "in_progress", "cancelled"]
    assert _server_errors(emu) == []


def test_a_scheduled_cancel_is_answered_as_any_cancel(emu: Emulator, client: openai.OpenAI) -> None:
    """After the end it answers the response unchanged; a foreground one refuses it (400); a
    deleted one drops it."""
    emu.response_script = "start+1, complete+1"
    done = client.responses.create(model="m", input="x", background=True).id
    fore = client.responses.create(model="m", input="x").id
    gone = client.responses.create(model="m", input="x", background=True).id
    for rid in (done, fore, gone):
        emu.schedule_cancel(rid, emu.clock.now() + 5)
    client.responses.delete(gone)
    emu.clock.advance(10)
    assert client.responses.retrieve(done).status == "completed"
    answered = {r.response_id: (r.status, r.json()) for r in emu.third_party}
    assert answered.keys() == {done, fore}
    assert answered[done][0] == 200
    assert answered[done][1]["status"] == "completed"
    assert answered[fore][0] == 400
    assert "background=true" in answered[fore][1]["error"]["message"]
    with pytest.raises(KeyError):
        emu.schedule_cancel("resp_unknown", 1.0)
