"""The background-responses contracts: every miniature wrong client is caught by exactly the
property it breaks, its correct twin passes the same lifecycle, the search finds and shrinks each
failure to the plainest lifecycle, and the strategies draw only what the model allows."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.emulator import ScriptError, parse_response_script
from conformance.emulator.clock import virtual_time_session
from conformance.harness.response_results import (
    ResponseCheckFailed,
    ResponseContract,
    ResponseOptions,
)
from conformance.harness.response_runner import play_response_lifecycle
from conformance.harness.response_search import check_response_client, play_response
from conformance.response_strategies import (
    ResponseScenario,
    parse_response_scenario,
    response_scenarios,
)
from runmodel import RESPONSE, Actor, Strictness
from tests.helpers import response_miniatures as rm

_DONE = "start+1, complete+5"
_ROUND = "start+1, complete(2)+1 | start+1, complete+1"
_DROP = "start+1, complete+1; drop_after=2"
_ONE = "start+1, complete+1"

CAUGHT = [
    # (contract, wrong client, a lifecycle that breaks it, the one property it breaks)
    ("poller", rm.abandoning_poller, "start+120, complete+1", "cancels_what_it_abandons"),
    ("poller", rm.queued_only_poller, _DONE, "returns"),
    ("poller", rm.until_completed_poller, "start+1, fail(server_error)+1", "terminates"),
    ("poller", rm.hasty_poller, _DONE, "sleeps_between_polls"),
    ("poller", rm.refetching_poller, _DONE, "response.poll.while_active"),
    ("poller", rm.guide_poller, "stay", "terminates"),
    ("stream", rm.rereading_stream, _DROP, "response.stream.increasing"),
    ("stream", rm.skipping_stream, _DROP, "response.stream.no_gap"),
    ("tool-loop", rm.first_call_only_loop, _ROUND, "response.round.all_outputs"),
    ("tool-loop", rm.unchained_loop, _ROUND, "response.round.chain"),
    ("tool-loop", rm.foreground_again_loop, _ROUND, "response.round.background_again"),
]
TWIN = {"poller": rm.good_poller, "stream": rm.good_stream, "tool-loop": rm.good_tool_loop}


def _quiet(fn: Any) -> Any:
    """The client with its own prints kept off the test's output."""

    def quiet(*args: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn(*args)

    quiet.__qualname__ = fn.__qualname__
    return quiet


@pytest.mark.parametrize(
    ("contract", "client", "scenario", "prop"),
    CAUGHT,
    ids=[c[1].__name__ for c in CAUGHT],
)
def test_each_wrong_client_is_caught_by_exactly_its_property(
    contract: str, client: Any, scenario: str, prop: str
) -> None:
    found = play_response(_quiet(client), scenario, contract)
    assert [f.prop for f in found] == [prop], [f.message for f in found]
    assert TWIN[contract] is not client
    assert play_response(TWIN[contract], scenario, contract) == []


def test_the_guides_poller_is_correct_whenever_the_response_ends() -> None:
    """It polls at its 2 s, stops once terminal and returns what the server has, on every
    ending (a third party's cancel too): what it lacks is a deadline, so it polls a response
    the server never moves again forever, and then it has nothing to cancel: it never gives
    up, so `cancels_what_it_abandons` holds."""
    for scenario in (
        _DONE,
        "start+1, fail(server_error)+1",
        "start+1, stop_incomplete(content_filter)+1",
        "start+5, complete+5; cancel_at=2",
    ):
        assert play_response(_quiet(rm.guide_poller), scenario, "poller") == [], scenario
    (stuck,) = play_response(_quiet(rm.guide_poller), "start+1, stay", "poller")
    assert stuck.prop == "terminates"
    assert "left it in_progress for good" in stuck.message
    assert "it has no deadline" in stuck.message


def test_the_guides_whole_example_creates_its_response_and_has_no_deadline() -> None:
    """The guide's example as a poller that creates its own response (``poller-app``)."""
    for scenario in (_DONE, "start+5, complete+5; cancel_at=2"):
        assert play_response(_quiet(rm.guide_example), scenario, "poller-app") == [], scenario
        assert play_response(rm.good_example, scenario, "poller-app") == [], scenario
    (stuck,) = play_response(_quiet(rm.guide_example), "stay", "poller-app")
    assert (stuck.prop, stuck.path) == ("terminates", ("queued",))
    assert "left it queued for good" in stuck.message
    assert play_response(rm.good_example, "stay", "poller-app") == []
    (hasty,) = play_response(rm.good_example, _DONE, "poller-app", poll_interval=3)
    assert hasty.prop == "sleeps_between_polls"


def test_a_poller_that_gives_up_and_cancels_may_raise() -> None:
    def cancels_then_raises(client: Any, response_id: str) -> Any:
        time.sleep(2)
        client.responses.cancel(response_id)
        raise TimeoutError("gave up")

    assert play_response(cancels_then_raises, "start+120, complete+1", "poller") == []
    found = play_response(rm.abandoning_poller, "start+120, complete+1", "poller")
    assert "leaving the response {resp} queued" in found[0].message


def _raises_on_failure(client: Any, response_id: str) -> Any:
    """A library's poller: it raises on a response that ended unsuccessfully, by design."""
    resp = client.responses.retrieve(response_id)
    while resp.status in ("queued", "in_progress"):
        time.sleep(2)
        resp = client.responses.retrieve(response_id)
    if resp.status != "completed":
        raise RuntimeError(f"the response ended {resp.status}")
    return resp


def _always_raises(client: Any, response_id: str) -> Any:
    _raises_on_failure(client, response_id)
    raise RuntimeError("no answer")


@pytest.mark.parametrize(
    "scenario",
    ["start+1, fail+2", "start+1, stop_incomplete+2", "start+5, complete+5; cancel_at=2"],
)
def test_a_library_may_raise_on_an_unsuccessful_end_only_when_it_says_so(scenario: str) -> None:
    (raised,) = play_response(_raises_on_failure, scenario, "poller")
    assert raised.prop == "returns"
    assert "raised RuntimeError" in raised.message
    assert play_response(_raises_on_failure, scenario, "poller", raises_on_failure=True) == []


def test_raising_on_a_completed_response_is_caught_even_for_a_library() -> None:
    (raised,) = play_response(_always_raises, _DONE, "poller", raises_on_failure=True)
    assert raised.prop == "returns"
    assert play_response(_raises_on_failure, _DONE, "poller", raises_on_failure=True) == []


def test_the_poll_interval_is_the_one_given() -> None:
    (slow,) = play_response(rm.good_poller, _DONE, "poller", poll_interval=3)
    assert slow.prop == "sleeps_between_polls"
    assert "poll interval of 3 s" in slow.message
    assert play_response(rm.hasty_poller, _DONE, "poller", poll_interval=0.25) == []


def test_async_clients_are_played_too() -> None:
    async def good(client: Any, response_id: str) -> Any:
        resp = await client.responses.retrieve(response_id)
        while resp.status in rm.ACTIVE:
            await asyncio.sleep(2)
            resp = await client.responses.retrieve(response_id)
        return resp

    async def hasty(client: Any, response_id: str) -> Any:
        resp = await client.responses.retrieve(response_id)
        while resp.status in rm.ACTIVE:
            resp = await client.responses.retrieve(response_id)
        return resp

    assert play_response(good, _DONE, "poller") == []
    assert [f.prop for f in play_response(hasty, _DONE, "poller")] == ["sleeps_between_polls"]


def test_a_stream_consumer_may_return_the_final_response_but_not_poll_it_again() -> None:
    def returns_response(client: Any) -> Any:
        return rm.good_stream(client)[-1].response

    def polls_again(client: Any) -> Any:
        return client.responses.retrieve(rm.good_stream(client)[0].response.id)

    assert play_response(returns_response, _DROP, "stream") == []
    (found,) = play_response(polls_again, _DROP, "stream")
    assert found.prop == "response.poll.while_active"


def test_a_stream_consumer_that_does_not_resume_ends_on_no_terminal_event() -> None:
    def no_resume(client: Any) -> list[Any]:
        stream = client.responses.create(model="gpt-4o", input="hi", background=True, stream=True)
        events: list[Any] = []
        with contextlib.suppress(Exception):  # the connection broke off
            events.extend(stream)
        return events

    (found,) = play_response(no_resume, _DROP, "stream")
    assert found.prop == "returns"
    assert "ending with response.queued, while the response was still queued" in found.message


def test_a_tool_loop_that_returns_before_answering_leaves_the_calls_unanswered() -> None:
    def one_shot(client: Any, tools: list[dict[str, Any]]) -> Any:
        resp = client.responses.create(model="gpt-4o", input="hi", tools=tools, background=True)
        return rm._wait(client, resp)

    (found,) = play_response(one_shot, _ROUND, "tool-loop")
    assert found.prop == "answers_every_round"


@pytest.mark.parametrize(
    ("contract", "client", "prop", "plainest"),
    [
        ("poller", rm.hasty_poller, "sleeps_between_polls", _ONE),
        ("stream", rm.rereading_stream, "response.stream.increasing", _ONE + "; drop_after=1"),
        (
            "tool-loop",
            rm.unchained_loop,
            "response.round.chain",
            "start+1, complete(1)+1 | " + _ONE,
        ),
        ("tool-loop", rm.first_call_only_loop, "response.round.all_outputs", _ROUND),
    ],
    ids=["poller", "stream", "tool-loop", "tool-loop-calls"],
)
def test_the_search_shrinks_each_failure_to_the_plainest_lifecycle(
    contract: str, client: Any, prop: str, plainest: str
) -> None:
    with pytest.raises(ResponseCheckFailed) as failed:
        check_response_client(client, contract, max_examples=25, stay=False)
    found = failed.value.counterexample
    assert (found.prop, str(found.scenario)) == (prop, plainest)
    reproduce = str(failed.value.reproduce[0])
    assert reproduce.startswith(f"check_response_client({client.__qualname__}")
    assert f'scenario="{plainest}"' in reproduce


def test_a_correct_twin_passes_the_search_and_reports_what_it_reached() -> None:
    summary = check_response_client(rm.good_poller, "poller", max_examples=30)
    assert summary.examples == 30
    assert summary.statuses.keys() <= set(RESPONSE.statuses)
    assert "every property of the poller contract held in 30 lifecycles (strict)" in (
        summary.render()
    )


def test_a_scenario_text_is_checked_against_the_model() -> None:
    with pytest.raises(ScriptError, match="cannot complete a queued response"):
        parse_response_scenario("complete+1")
    with pytest.raises(ScriptError, match="end with a terminal move, or with 'stay'"):
        parse_response_scenario("start+1")
    with pytest.raises(ScriptError, match="at strict"):
        parse_response_scenario("fail+1")  # queued → failed is inferred: permissive only
    assert str(parse_response_scenario("fail+1", Strictness.PERMISSIVE)) == ("fail(server_error)+1")


@settings(max_examples=60)
@given(
    st.sampled_from(list(Strictness)).flatmap(
        lambda level: st.tuples(
            st.just(level),
            response_scenarios(level, "tool-loop") | response_scenarios(level, "stream"),
        )
    )
)
def test_drawn_scenarios_are_legal_and_read_back(
    drawn: tuple[Strictness, ResponseScenario],
) -> None:
    level, scenario = drawn
    assert parse_response_scenario(str(scenario), level) == scenario
    for script in scenario.scripts:
        path = script.statuses(level)
        for a, b in itertools.pairwise(path):
            assert any(e.dest == b for e in RESPONSE.triggers(a, Actor.SERVER, level))
    if scenario.drop_after is not None:  # a stream: its response always ends
        assert not any(s.stays for s in scenario.scripts)


def test_a_plan_that_stays_is_the_emulators_stay() -> None:
    """A plan left short of a terminal status plays as an emulator script ending ``stay``."""
    for text in ("stay", "start+1, stay", "start+1, complete(2)+3"):
        plan = parse_response_scenario(text).scripts[0]
        script = plan.script(Strictness.STRICT)
        assert script == parse_response_script(text)
        assert script.stays is plan.stays


def test_a_third_partys_cancel_ends_the_stream_the_client_is_reading() -> None:
    """The cancel comes at its time while the client is blocked in a stream read: the stream
    just ends there (fact response.stream.no_cancelled_event), it does not run on to the
    completion; the third party's request is not the client's."""
    got: list[Any] = []

    def reads_once(client: Any) -> list[Any]:
        got.extend(client.responses.create(model="m", input="x", background=True, stream=True))
        return got

    plan = parse_response_scenario("start+1, complete+60; cancel_at=10")
    options = ResponseOptions(ResponseContract.STREAM, Strictness.STRICT)
    with virtual_time_session():
        paths, found = play_response_lifecycle(reads_once, plan, options)
    assert (paths, found) == ([("queued", "in_progress", "cancelled")], [])
    assert [e.type for e in got][-1] == "response.in_progress"
    # a response the server never moves again is judged so, whenever a third party cancels it
    (stuck,) = play_response(_quiet(rm.guide_poller), "start+1, stay; cancel_at=1000", "poller")
    assert (stuck.prop, stuck.path) == ("terminates", ("queued", "in_progress"))
    assert play_response(_quiet(rm.guide_poller), "start+1, stay; cancel_at=600", "poller") == []
    assert play_response(rm.good_poller, "start+1, stay; cancel_at=120", "poller") == []
