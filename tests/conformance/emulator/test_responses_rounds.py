"""Function rounds through the real SDK: a completed response holds function_call items, and the
answer is a new response chained by previous_response_id holding an output for every call id
(RB-T4, RB-T5); and a property: any legal script plays to the SDK with only legal statuses."""

from __future__ import annotations

import itertools
import typing
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseError

from conformance.emulator import Emulator
from conformance.emulator.response_script import ResponseScript, scripts
from runmodel import RESPONSE, Strictness

TOOL = {
    "type": "function",
    "name": "calculate_order_total",
    "parameters": {"type": "object", "properties": {}},
}


def _asked(emu: Emulator, client: openai.OpenAI, calls: int) -> Any:
    """A background response that completes with `calls` function calls, polled to its end."""
    emu.queue_response_scripts(f"start+1, complete({calls})+2")
    rid = client.responses.create(model="m", input="total?", background=True, tools=[TOOL]).id
    emu.clock.advance(5)
    done = client.responses.retrieve(rid)
    assert done.status == "completed"
    return done


def _outputs(call_ids: list[str]) -> list[Any]:
    return [{"type": "function_call_output", "call_id": c, "output": "42"} for c in call_ids]


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def client(emu: Emulator) -> openai.OpenAI:
    return emu.client(max_retries=0)


def test_a_round_answered_in_full_chains(emu: Emulator, client: openai.OpenAI) -> None:
    asked = _asked(emu, client, 2)
    calls = [item for item in asked.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["calculate_order_total"] * 2
    assert len({c.call_id for c in calls}) == 2
    answer = client.responses.create(
        model="m",
        previous_response_id=asked.id,
        input=_outputs([c.call_id for c in calls]),
        background=True,
        tools=[TOOL],
    )
    assert (answer.status, answer.previous_response_id) == ("queued", asked.id)
    emu.clock.advance(10)
    final = client.responses.retrieve(answer.id)
    assert final.status == "completed"
    assert final.output_text  # the default script answers a round with a message
    assert emu.responses[answer.id].previous_response_id == asked.id
    items = client.responses.input_items.list(answer.id, order="asc").data
    assert [i.type for i in items] == ["function_call_output"] * 2


@pytest.mark.parametrize("answered", [0, 1])
def test_a_missing_output_is_400(emu: Emulator, client: openai.OpenAI, answered: int) -> None:
    asked = _asked(emu, client, 2)
    ids = [item.call_id for item in asked.output if item.type == "function_call"]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="m", previous_response_id=asked.id, input=_outputs(ids[:answered])
        )
    error: Any = info.value.body
    assert error["message"] == f"No tool output found for function call {ids[answered]}."
    assert info.value.param == "input"  # type: ignore[attr-defined]
    assert error["type"] == "invalid_request_error"
    assert len(emu.responses) == 1  # nothing was created


def test_an_orphan_output_is_400(emu: Emulator, client: openai.OpenAI) -> None:
    asked = _asked(emu, client, 1)
    ids = [item.call_id for item in asked.output if item.type == "function_call"]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="m", previous_response_id=asked.id, input=_outputs([*ids, "call_other"])
        )
    error: Any = info.value.body
    assert error["message"] == (
        "No tool call found for function call output with call_id call_other."
    )
    with pytest.raises(openai.BadRequestError, match="call_lonely"):
        client.responses.create(model="m", input=_outputs(["call_lonely"]))


def test_a_round_may_carry_its_own_calls(emu: Emulator, client: openai.OpenAI) -> None:
    """Without previous_response_id the client may resend the call itself with its output."""
    call = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
    resp = client.responses.create(model="m", input=[call, *_outputs(["call_1"])])
    assert resp.status == "completed"
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call"):
        client.responses.create(model="m", input=[call])


def test_an_unknown_previous_response_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="m", previous_response_id="resp_gone", input="x")
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"  # type: ignore[attr-defined]
    assert "resp_gone" in info.value.message


def test_a_deleted_previous_response_is_unknown(emu: Emulator, client: openai.OpenAI) -> None:
    asked = _asked(emu, client, 1)
    client.responses.delete(asked.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(model="m", previous_response_id=asked.id, input="x")


def test_a_plain_follow_up_needs_no_outputs(emu: Emulator, client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input="hi")
    second = client.responses.create(model="m", input="and?", previous_response_id=first.id)
    assert second.status == "completed"


# -- any legal script, as the client sees it ------------------------------------------------------


def _legal(seen: list[str], level: Strictness) -> None:
    """Each change the client saw is a path the model allows at `level`."""
    for before, after in itertools.pairwise(seen):
        if before != after:
            assert RESPONSE.reachable(before, after, level), f"{before} → {after}"


_SDK_CODES = frozenset(typing.get_args(ResponseError.model_fields["code"].annotation))


def _parsed_by_this_sdk(script: ResponseScript) -> bool:
    """openai 1.x's strict validation refuses two of the spec's error codes (bio_policy and
    data_residency_mismatch are not in its Literal): such scripts are left to the other SDKs."""
    return all(m.trigger != "fail" or m.arg in _SDK_CODES for m in script.moves)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), level=st.sampled_from(list(Strictness)))
def test_any_legal_script_plays_with_only_legal_statuses(data: Any, level: Strictness) -> None:
    script: ResponseScript = data.draw(scripts(level).filter(_parsed_by_this_sdk))
    step = data.draw(st.sampled_from([0.5, 2.0, 7.0]))
    cancel_at = data.draw(st.one_of(st.none(), st.integers(0, 4)))
    emu = Emulator(strictness=level, response_script=script)
    client = emu.client(max_retries=0)
    resp = client.responses.create(model="m", input="x", background=True)
    seen = [resp.status]
    for i in range(200):
        if cancel_at == i:
            seen.append(client.responses.cancel(resp.id).status)
        if seen[-1] in RESPONSE.terminal and emu.next_wake(resp.id) is None:
            break
        emu.clock.advance(step)
        seen.append(client.responses.retrieve(resp.id).status)
    assert seen[0] == RESPONSE.initial
    _legal(seen, level)
    history = [c.status for c in emu.responses[resp.id].history]
    assert seen[-1] == history[-1]
    if cancel_at is None:
        assert tuple(history) == script.statuses()
    assert seen[-1] in RESPONSE.terminal


def _play(emu: Emulator, step: float) -> list[str]:
    client = emu.client(max_retries=0)
    resp = client.responses.create(model="m", input="x", background=True)
    seen = [resp.status]
    for _ in range(20):
        emu.clock.advance(step)
        seen.append(client.responses.retrieve(resp.id).status)
    return seen


def test_the_property_catches_a_server_that_reopens_a_response() -> None:
    """A deliberately wrong server (it serves a stale ``in_progress`` after the end, as a
    caching gateway might) fails the property's check."""
    emu = Emulator(response_script="start+1, complete+2")
    polls = 0

    def stale(rec: Any, reply: Any) -> Any:
        nonlocal polls
        polls += 1
        if rec.method == "GET" and polls == 8:
            reply.body = reply.body.replace(b'"status":"completed"', b'"status":"in_progress"')
        return reply

    _legal(_play(emu, 1.0), Strictness.PERMISSIVE)  # the true server passes
    emu = Emulator(response_script="start+1, complete+2")
    emu.on_reply = stale
    with pytest.raises(AssertionError, match="completed → in_progress"):
        _legal(_play(emu, 1.0), Strictness.PERMISSIVE)


def test_the_property_catches_an_illegal_sequence() -> None:
    """The check above is not vacuous: a status sequence the model forbids fails it."""
    with pytest.raises(AssertionError, match="completed → in_progress"):
        _legal(["queued", "completed", "in_progress"], Strictness.PERMISSIVE)
    with pytest.raises(AssertionError, match="cancelled → completed"):
        _legal(["queued", "cancelled", "completed"], Strictness.STRICT)
    _legal(["queued", "cancelled", "completed"], Strictness.PERMISSIVE)
