"""`judge_action`, the one judgement of a client's action: its verdicts, and that they are the
checker's findings word for word."""

from __future__ import annotations

import pytest

from conformance.check import (
    ACTIONS,
    CANCEL,
    CREATE_MESSAGE,
    CREATE_RUN,
    SUBMIT_TOOL_OUTPUTS,
    assess_action,
    judge_action,
    submitted_call_ids,
)
from conformance.errors import error_body, format_error
from conformance.observations import Location
from runmodel import RUN, Actor, Strictness
from tests.helpers.checktrace import FILE, Trace, checked, run

_CANCEL = "/threads/thread_1/runs/run_1/cancel"
_SUBMIT = "/threads/thread_1/runs/run_1/submit_tool_outputs"


def test_a_cancel_of_a_terminal_run_is_refused_with_its_status() -> None:
    v = judge_action(CANCEL, "completed", run_id="run_1")
    assert v is not None
    assert (v.code, v.refusal, dict(v.fields)) == (
        "client.cancel_illegal",
        "cancel_not_allowed",
        {"status": "completed"},
    )
    assert v.message == "cancel on run run_1 in status 'completed'"
    assert v.needs == ()


def test_a_cancel_is_judged_by_every_status_the_run_could_be_in() -> None:
    # last seen queued: the server may have started it unseen, and in_progress accepts a cancel
    assert judge_action(CANCEL, "queued", run_id="r") is None
    judged = assess_action(CANCEL, "queued", run_id="r")
    assert judged.way is not None
    assert judged.way[-1].trigger == CANCEL
    # the server could move it nowhere unseen: judged by queued alone
    assert judge_action(CANCEL, "queued", run_id="r", unseen=()) is not None


def test_a_cancel_only_the_permissive_model_allows_names_the_edges_it_needs() -> None:
    v = judge_action(CANCEL, "requires_action", run_id="run_1")
    assert v is not None
    assert v.needs == ("requires_action → cancelling (cancel, client, X/I)",)
    assert v.refusal is None  # the API accepts it
    assert (
        judge_action(CANCEL, "requires_action", run_id="r", strictness=Strictness.PERMISSIVE)
        is None
    )


def test_a_submit_counts_on_no_unseen_move() -> None:
    v = judge_action(SUBMIT_TOOL_OUTPUTS, "in_progress", run_id="run_1")
    assert v is not None
    assert (v.code, v.refusal) == ("client.submit_outside_requires_action", "submit_not_accepted")
    assert judge_action(SUBMIT_TOOL_OUTPUTS, "requires_action", run_id="run_1") is None


@pytest.mark.parametrize(
    ("got", "code"),
    [
        (["a", "b"], None),
        (["b", "a"], None),
        (["a"], "client.submit_partial"),
        (["a", "c"], "client.submit_wrong_call_ids"),
        (["a", "a"], "client.submit_wrong_call_ids"),
        ([], "client.submit_wrong_call_ids"),
    ],
)
def test_a_submit_answers_every_call_of_its_round_at_once(got: list[str], code: str | None) -> None:
    v = judge_action(
        SUBMIT_TOOL_OUTPUTS, "requires_action", run_id="r", required=("a", "b"), submitted=got
    )
    assert (v.code if v else None) == code
    if v is not None:
        assert v.refusal == "tool_outputs_mismatch"


def test_a_new_run_or_message_waits_for_the_threads_run() -> None:
    for action in (CREATE_RUN, CREATE_MESSAGE):
        # in_progress may end unseen; requires_action waits on the client (or the clock)
        assert judge_action(action, "in_progress", run_id="run_1", thread_id="t") is None
        v = judge_action(action, "requires_action", run_id="run_1", thread_id="t")
        assert v is not None
        assert v.refusal in ("run_while_active", "message_while_active")
        assert dict(v.fields) == {"thread_id": "t", "run_id": "run_1"}
        unseen = (Actor.SERVER, Actor.CLOCK)
        assert judge_action(action, "requires_action", run_id="r", unseen=unseen) is None


def test_an_unknown_action_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown client action"):
        judge_action("delete", "queued", run_id="r")
    assert set(ACTIONS) == {CANCEL, SUBMIT_TOOL_OUTPUTS, CREATE_RUN, CREATE_MESSAGE}


def test_every_status_and_action_gets_a_verdict_or_none() -> None:
    for lv in Strictness:
        for status in RUN.statuses:
            for action in ACTIONS:
                v = judge_action(action, status, run_id="r", thread_id="t", strictness=lv)
                assert v is None or (v.code.startswith("client.") and v.message)


def test_submitted_call_ids_read_the_request_body() -> None:
    body = {"tool_outputs": [{"tool_call_id": "a"}, {"tool_call_id": 3}, "x", {}]}
    assert submitted_call_ids(body) == ["a", "3", "None"]
    assert submitted_call_ids(None) == submitted_call_ids({"tool_outputs": 1}) == []


def test_the_checker_reports_the_verdict_word_for_word() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    refusal = error_body("cancel_not_allowed", status="completed")
    line = t.http("POST", _CANCEL, refusal, status=400)
    found = checked(t).only("client.cancel_illegal")
    v = judge_action(CANCEL, "completed", run_id="run_1")
    assert v is not None
    assert found == v.violation(("run_1", "run_1", Location(FILE, line), line))
    assert refusal["error"]["message"] == format_error(v.refusal or "", **v.fields)


def test_the_checker_reports_a_new_run_on_a_busy_thread_word_for_word() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action"))
    body = error_body("run_while_active", thread_id="thread_1", run_id="run_1")
    line = t.http("POST", "/threads/thread_1/runs", body, status=400)
    found = checked(t).only("client.run_while_active")
    v = judge_action(
        CREATE_RUN,
        "requires_action",
        run_id="run_1",
        thread_id="thread_1",
        path="/v1/threads/thread_1/runs",
    )
    assert v is not None
    assert found == v.violation(("run_1", "run_1", Location(FILE, line), line))


def test_the_checker_reports_wrong_call_ids_word_for_word() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=("a", "b")))
    request = {"tool_outputs": [{"tool_call_id": "a", "output": "1"}]}
    body = error_body("tool_outputs_mismatch", expected="['a', 'b']", got="['a']")
    line = t.http("POST", _SUBMIT, body, status=400, request=request)
    found = checked(t).only("client.submit_partial")
    v = judge_action(
        SUBMIT_TOOL_OUTPUTS,
        "requires_action",
        run_id="run_1",
        required=("a", "b"),
        submitted=submitted_call_ids(request),
    )
    assert v is not None
    assert found == v.violation(("run_1", "run_1", Location(FILE, line), line))
