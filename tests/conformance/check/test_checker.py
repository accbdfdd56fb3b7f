"""The checker on miniature traces: legal ones pass, and each wrong-on-purpose one is caught
with exactly its code, run and location."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.check import Checker, RunChecked, Severity, edge_coverage
from conformance.errors import format_error
from conformance.observations import Location, Snapshot
from conformance.reports import Report
from runmodel import LINKS, RUN, Strictness
from tests.helpers import paths
from tests.helpers.checktrace import FILE, T0, Trace, checked, error, message, run, step

LESSON = paths.LESSON


# -- legal traces -----------------------------------------------------------------------------


def test_lesson_runs_conform_at_strict() -> None:
    items = [
        Snapshot(Location(str(LESSON), n), n, json.loads(line))
        for n, line in enumerate(LESSON.read_text(encoding="utf-8").splitlines(), 1)
    ]
    out = checked(items)
    assert out.violations == []
    assert out.summary.exit_code == 0
    (result,) = out.results
    assert result.run_id == "run_8XqQ2w5cO5H3te3GdeQxSrfB"
    assert result.statuses == ("queued", "in_progress", "completed")
    assert result.level is Strictness.STRICT


def test_polling_may_skip_statuses() -> None:
    t = Trace()
    t.snaps([run("queued"), run("completed")])
    out = checked(t)
    assert out.violations == []
    # the skipped status's edges are counted as exercised
    assert out.summary.coverage.edges["run"] == {
        ("", "queued"): 1,
        ("queued", "in_progress"): 1,
        ("in_progress", "completed"): 1,
    }


def test_same_status_twice_is_fine() -> None:
    t = Trace()
    t.snaps([run("queued"), run("in_progress"), run("in_progress"), run("completed")])
    assert checked(t).violations == []


def test_two_requires_action_rounds_by_polling_conform() -> None:
    t = Trace()
    t.snaps(
        [
            run("in_progress"),
            run("requires_action", calls=["call_a"]),
            run("requires_action", calls=["call_b"]),  # a new round: the cycle through queued
            run("completed"),
        ]
    )
    out = checked(t)
    assert out.violations == []
    # both rounds left requires_action through queued (the second on the way to completed)
    assert out.summary.coverage.edges["run"][("requires_action", "queued")] == 2


def test_function_calling_over_http_conforms() -> None:
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    t.http(
        "GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_a", "call_b"])
    )
    t.http(
        "POST",
        "/threads/thread_1/runs/run_1/submit_tool_outputs",
        run("queued", started=T0 + 1),
        request={
            "tool_outputs": [
                {"tool_call_id": "call_b", "output": "1"},
                {"tool_call_id": "call_a", "output": "2"},
            ]
        },
    )
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    t.http("POST", "/threads/thread_1/messages", message(None, rid=None, mid="msg_u"))
    out = checked(t)
    assert out.violations == []
    assert out.summary.coverage.edges["run"][("requires_action", "queued")] == 1


def _closing_at_once(t: Trace, memory: int = 100) -> tuple[list[Any], Report]:
    events: list[Any] = []
    report = Report()

    def emit(e: Any) -> None:
        events.append(e)
        report(e)

    checker = Checker(emit=emit, window=0, memory=memory)
    checker.feed_all(t.items)
    checker.finish()
    return events, report


def test_a_late_poll_of_a_closed_run_is_still_judged() -> None:
    t = Trace()
    t.snaps([run("queued"), run("completed"), run("completed")])
    events, report = _closing_at_once(t)
    assert sum(isinstance(e, RunChecked) for e in events) == 2  # closed, reopened, closed
    assert report.failing == {}
    line = t.snap(run("in_progress"))
    events, report = _closing_at_once(t)
    (r,) = report.runs()  # one run, its results merged
    assert [(v.code, v.loc) for v in r.violations] == [("run.terminal_left", Location(FILE, line))]
    assert r.statuses == ("queued", "completed", "in_progress")
    assert r.observations == 4


def test_only_the_most_recent_closed_runs_are_remembered() -> None:
    t = Trace()
    t.snaps([run("completed", rid="run_a"), run("completed", rid="run_b")])
    t.snap(run("in_progress", rid="run_a"))  # run_a was forgotten: it looks like a new run
    _, report = _closing_at_once(t, memory=1)
    assert report.failing == {}


@pytest.mark.parametrize("memory", [2, 7, 64])
def test_at_least_half_the_memory_is_remembered_and_never_more(memory: int) -> None:
    """Closed runs 0..n-1; then each is polled again as in_progress: the most recent memory // 2
    are caught leaving their terminal status, none older than the memory's size is."""
    n = 3 * memory
    t = Trace()
    t.snaps([run("completed", rid=f"run_{i}") for i in range(n)])
    t.snaps([run("in_progress", rid=f"run_{i}") for i in range(n)])
    _, report = _closing_at_once(t, memory=memory)
    caught = {int(r.run_id.removeprefix("run_")) for r in report.failing.values()}
    assert set(range(n - memory // 2, n)) <= caught
    assert all(i >= n - memory for i in caught)


# -- lifecycle violations ---------------------------------------------------------------------


def test_terminal_left() -> None:
    t = Trace()
    t.snap(run("queued"))
    t.snap(run("completed"))
    line = t.snap(run("in_progress"))
    v = checked(t).only("run.terminal_left")
    assert (v.run_id, v.loc, v.severity) == ("run_1", Location(FILE, line), Severity.ERROR)
    assert v.observed == "completed → in_progress"
    assert "absorb" in v.allowed
    assert v.grade == "D"


def test_illegal_transition_at_every_level() -> None:
    t = Trace()
    t.snap(run("in_progress"))
    t.snap(run("cancelling"))
    line = t.snap(run("in_progress"))
    out = checked(t)
    v = out.only("run.illegal_transition")
    assert (v.run_id, v.loc.line if v.loc else None) == ("run_1", line)
    assert v.needs == ()
    assert "cancelling → cancelled" in v.allowed  # what the model allows from cancelling
    assert out.results[0].level is None


def test_strict_failure_names_the_permissive_edges_needed() -> None:
    t = Trace()
    t.snap(run("in_progress"))
    t.snap(run("cancelling"))
    line = t.snap(run("completed"))  # cancellation is "attempted but not guaranteed"
    out = checked(t)
    v = out.only("run.illegal_transition")
    assert v.loc == Location(FILE, line)
    edge = RUN.edge("cancelling", "completed", Strictness.PERMISSIVE)
    assert edge is not None
    assert v.needs == (str(edge),) == ("cancelling → completed (complete, server, I/X)",)
    assert v.path == (str(edge),)
    assert v.grade == "I/X"
    assert out.summary.needs == v.needs
    assert out.results[0].level is Strictness.PERMISSIVE
    permissive = checked(t, Strictness.PERMISSIVE)
    assert permissive.violations == []
    assert permissive.summary.needs == v.needs  # still reported: the edges it used
    assert permissive.results[0].level is Strictness.PERMISSIVE


def test_moved_without_client() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_a"]))
    line = t.http("GET", "/threads/thread_1/runs/run_1", run("queued", started=T0 + 1))
    v = checked(t).only("run.moved_without_client")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert "submit_tool_outputs" in v.message
    assert v.path == (str(RUN.fire("requires_action", "submit_tool_outputs")),)


def test_new_round_without_submit_over_http() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_a"]))
    line = t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_b"]))
    v = checked(t).only("run.moved_without_client")
    assert v.loc == Location(FILE, line)


def test_expiry_not_honoured() -> None:
    t = Trace()
    t.snap(run("in_progress"), wall=T0 + 600 + 59)  # within the grace: fine
    line = t.snap(run("in_progress", metadata={"poll": 2}), wall=T0 + 600 + 61)
    t.snap(run("in_progress", metadata={"poll": 3}), wall=T0 + 900)
    v = checked(t).only("run.expiry_not_honoured")
    assert (v.run_id, v.loc, v.count) == ("run_1", Location(FILE, line), 2)
    assert v.grade == RUN.fire("in_progress", "expire").evidence.label


def test_unknown_status_warns_and_keeps_checking() -> None:
    t = Trace()
    t.snap(run("in_progress"))
    line = t.snap(run("paused"))
    t.snap(run("completed"))
    t.snap(run("in_progress"))
    out = checked(t)
    v = out.only("status.unknown")
    assert (v.severity, v.run_id, v.loc) == (Severity.WARNING, "run_1", Location(FILE, line))
    assert all(s in v.allowed for s in RUN.statuses)
    assert out.codes == ["status.unknown", "run.terminal_left"]


def test_step_terminal_left_and_illegal() -> None:
    t = Trace()
    t.snap(step("completed"))
    line = t.snap(step("in_progress"))
    v = checked(t).only("run_step.terminal_left")
    assert (v.run_id, v.subject, v.loc) == ("run_1", "step_1", Location(FILE, line))


def test_message_terminal_left() -> None:
    t = Trace()
    t.snap(message("completed"))
    line = t.snap(message("in_progress"))
    v = checked(t).only("message.terminal_left")
    assert (v.run_id, v.subject, v.loc) == ("run_1", "msg_1", Location(FILE, line))


def test_object_without_id() -> None:
    t = Trace()
    obj = run("queued")
    del obj["id"]
    line = t.snap(obj)
    v = checked(t).only("input.unidentified_object")
    assert (v.run_id, v.loc) == (None, Location(FILE, line))


def test_a_reply_whose_status_is_not_a_string_is_located_and_skipped() -> None:
    t = Trace()
    bad_run = t.http("GET", "/threads/thread_1/runs/run_1", {**run("queued"), "status": ["queued"]})
    bad_msg = t.http(
        "GET", "/threads/thread_1/messages/msg_1", {**message("completed"), "status": {}}
    )
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    out = checked(t)
    assert [(v.code, v.loc.line) for v in out.violations] == [
        ("input.bad_entry", bad_run),
        ("input.bad_entry", bad_msg),
    ]
    assert "whose status is list ['queued'], not a string" in out.violations[0].message
    assert out.summary.runs == 1  # the rest was still checked


def test_input_problems_pass_through() -> None:
    t = Trace()
    line = t.problem("input.malformed_json", "not JSON: unexpected character")
    t.snap(run("queued"))
    out = checked(t)
    v = out.only("input.malformed_json")
    assert (v.loc, v.severity) == (Location(FILE, line), Severity.ERROR)
    assert out.summary.exit_code == 1


def test_list_responses_are_observed_element_by_element() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs", {"object": "list", "data": [run("completed")]})
    line = t.http("GET", "/threads/thread_1/runs", {"object": "list", "data": [run("queued")]})
    v = checked(t).only("run.terminal_left")
    assert v.loc == Location(FILE, line)


# -- links ------------------------------------------------------------------------------------


def _link(code: str) -> str:
    (link,) = [k for k in LINKS if k.code == code]
    return link.code


def test_link_tool_calls_step_open_while_requires_action() -> None:
    t = Trace()
    t.snap(run("requires_action", calls=["call_a"]))
    line = t.snap(step("completed", kind="tool_calls", calls=["call_a"]))
    v = checked(t).only("link." + _link("run_step.open_while_requires_action"))
    assert (v.run_id, v.subject, v.loc, v.severity) == (
        "run_1",
        "step_1",
        Location(FILE, line),
        Severity.ERROR,
    )


def test_link_ignores_the_step_of_an_earlier_round() -> None:
    t = Trace()
    t.snap(run("requires_action", calls=["call_b"]))
    t.snap(step("completed", kind="tool_calls", calls=["call_a"]))
    assert checked(t).violations == []


def test_link_step_expires_with_run() -> None:
    t = Trace()
    t.snap(run("expired"))
    line = t.snap(step("in_progress"))
    v = checked(t).only("link." + _link("run_step.expires_with_run"))
    assert (v.run_id, v.subject, v.loc, v.severity) == (
        "run_1",
        "step_1",
        Location(FILE, line),
        Severity.ERROR,
    )


def test_link_step_settles_with_run_is_a_warning_for_an_inferred_link() -> None:
    t = Trace()
    t.snap(run("completed"))
    line = t.snap(step("in_progress"))
    v = checked(t).only("link." + _link("run_step.settles_with_run"))
    assert (v.subject, v.loc, v.severity) == ("step_1", Location(FILE, line), Severity.WARNING)


def test_link_message_settles_with_run() -> None:
    t = Trace()
    t.snap(run("failed"))
    line = t.snap(message("in_progress"))
    v = checked(t).only("link." + _link("message.settles_with_run"))
    assert (v.subject, v.loc, v.severity) == ("msg_1", Location(FILE, line), Severity.WARNING)


def test_link_at_end_of_input_is_a_warning() -> None:
    t = Trace()
    t.snap(step("in_progress"))
    t.snap(run("expired"))  # the step is never seen again
    out = checked(t)
    v = out.only("link." + _link("run_step.expires_with_run"))
    assert (v.subject, v.loc, v.severity) == ("step_1", None, Severity.WARNING)
    assert out.summary.exit_code == 0


# -- client actions and the server's replies --------------------------------------------------

SUBMIT = "/threads/thread_1/runs/run_1/submit_tool_outputs"
CANCEL = "/threads/thread_1/runs/run_1/cancel"


def _outputs(*ids: str) -> dict[str, object]:
    return {"tool_outputs": [{"tool_call_id": i, "output": "x"} for i in ids]}


def test_submit_outside_requires_action_with_the_documented_refusal() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("in_progress"))
    refusal = error(format_error("submit_not_accepted", status="in_progress"))
    line = t.http("POST", SUBMIT, refusal, status=400, request=_outputs("call_1"))
    out = checked(t)
    v = out.only("client.submit_outside_requires_action")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.submit_outside_requires_action"]


def test_submit_wrong_call_ids() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_a"]))
    refusal = error("Expected tool outputs for call_ids ['call_a'], got ['call_x']")
    line = t.http("POST", SUBMIT, refusal, status=400, request=_outputs("call_x"))
    out = checked(t)
    v = out.only("client.submit_wrong_call_ids")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.submit_wrong_call_ids"]  # the refusal is the documented one


def test_submit_partial() -> None:
    t = Trace()
    t.http(
        "GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=["call_a", "call_b"])
    )
    refusal = error("Expected tool outputs for call_ids ['call_a', 'call_b'], got ['call_a']")
    line = t.http("POST", SUBMIT, refusal, status=400, request=_outputs("call_a"))
    out = checked(t)
    v = out.only("client.submit_partial")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.submit_partial"]


def test_cancel_illegal_with_the_documented_refusal() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    refusal = error(format_error("cancel_not_allowed", status="completed"))
    line = t.http("POST", CANCEL, refusal, status=400)
    out = checked(t)
    v = out.only("client.cancel_illegal")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.cancel_illegal"]


def test_cancel_of_a_run_last_seen_queued_is_legal() -> None:
    # the server may have started the run unseen (queued → in_progress is strict), and the
    # reply's started_at shows it did: the path of highest grade goes through in_progress
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    t.http("POST", CANCEL, run("cancelling", started=True))
    for lv in Strictness:
        out = checked(t, lv)
        assert out.violations == []
        assert out.summary.needs == ()
        edges = out.summary.coverage.edges["run"]
        assert edges[("queued", "in_progress")] == edges[("in_progress", "cancelling")] == 1
        assert ("queued", "cancelling") not in edges


def test_a_cancelled_run_that_never_started_took_the_inferred_edge() -> None:
    # the client's cancel was legal (the run might have started), but started_at null proves
    # the server went queued → cancelling: the server's move needs the inferred edge
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    line = t.http("POST", CANCEL, run("cancelling", started=False))
    out = checked(t)
    v = out.only("run.illegal_transition")
    assert (v.loc, v.needs) == (Location(FILE, line), ("queued → cancelling (cancel, client, I)",))
    assert out.codes == ["run.illegal_transition"]
    perm = checked(t, Strictness.PERMISSIVE)
    assert perm.violations == []
    assert perm.summary.coverage.edges["run"][("queued", "cancelling")] == 1


def test_a_client_action_is_judged_by_what_it_could_know() -> None:
    # a miniature client that cancels a run last seen completed is still wrong: no unseen
    # move leads out of a terminal status
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    t.http(
        "POST", CANCEL, error(format_error("cancel_not_allowed", status="completed")), status=400
    )
    assert checked(t).codes == ["client.cancel_illegal"]


def test_cancel_in_requires_action_needs_a_disputed_edge() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action"))
    line = t.http("POST", CANCEL, run("cancelling"))
    out = checked(t)
    needs = ("requires_action → cancelling (cancel, client, X/I)",)
    assert out.codes == ["client.cancel_illegal", "run.illegal_transition"]
    assert all((v.loc, v.needs) == (Location(FILE, line), needs) for v in out.violations)
    assert out.summary.needs == needs
    assert checked(t, Strictness.PERMISSIVE).violations == []


def test_run_while_active() -> None:
    # a run waiting for tool outputs cannot end unseen (before its expires_at)
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action"))
    refusal = error(format_error("run_while_active", thread_id="thread_1", run_id="run_1"))
    line = t.http("POST", "/threads/thread_1/runs", refusal, status=400)
    out = checked(t)
    v = out.only("client.run_while_active")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.run_while_active"]


def test_a_new_run_after_a_run_last_seen_in_progress_is_legal() -> None:
    # the run may have completed unseen; the server's refusal says it had not: a race
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    refusal = error(format_error("run_while_active", thread_id="thread_1", run_id="run_1"))
    t.http("POST", "/threads/thread_1/runs", refusal, status=400)
    assert checked(t).violations == []


def test_message_while_active() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action"))
    refusal = error(format_error("message_while_active", thread_id="thread_1", run_id="run_1"))
    line = t.http(
        "POST",
        "/threads/thread_1/messages",
        refusal,
        status=400,
        request={"role": "user", "content": "hi"},
    )
    out = checked(t)
    v = out.only("client.message_while_active")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.message_while_active"]


def test_server_accepted_illegal() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    line = t.http("POST", CANCEL, run("completed"))
    out = checked(t)
    v = out.only("server.accepted_illegal")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert out.codes == ["client.cancel_illegal", "server.accepted_illegal"]


def test_server_error_mismatch_wrong_status_code_is_an_error() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    line = t.http("POST", CANCEL, error("Internal error", "server_error"), status=500)
    v = checked(t).only("server.error_mismatch")
    assert (v.run_id, v.loc, v.severity) == ("run_1", Location(FILE, line), Severity.ERROR)
    assert format_error("cancel_not_allowed", status="completed") in v.allowed


def test_server_error_mismatch_other_wording_is_a_warning() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    line = t.http("POST", CANCEL, error("This run cannot be cancelled."), status=400)
    v = checked(t).only("server.error_mismatch")
    assert (v.run_id, v.loc, v.severity) == ("run_1", Location(FILE, line), Severity.WARNING)


def test_a_refusal_that_reveals_a_race_is_fine_and_observed() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("in_progress"))
    # the client cancels a run it saw in progress; meanwhile it completed
    t.http(
        "POST", CANCEL, error(format_error("cancel_not_allowed", status="completed")), status=400
    )
    out = checked(t)
    assert out.violations == []
    assert out.results[0].final_status == "completed"


def _outputs(*ids: str) -> dict[str, Any]:
    return {"tool_outputs": [{"tool_call_id": i, "output": "1"} for i in ids]}


def test_refusing_the_required_call_ids_is_the_servers_error() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action", calls=("call_1",)))
    refusal = error(format_error("tool_outputs_mismatch", expected="['call_1']", got="['call_1']"))
    line = t.http("POST", SUBMIT, refusal, status=400, request=_outputs("call_1"))
    v = checked(t).only("server.error_mismatch")
    assert (v.loc, v.severity) == (Location(FILE, line), Severity.ERROR)


def test_a_round_known_only_from_a_refusal_has_no_known_call_ids() -> None:
    # the status requires_action is learnt from a cancel's refusal, which names no call ids:
    # the checker cannot say the client's outputs were the required ones
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("in_progress"))
    t.http(
        "POST",
        CANCEL,
        error(format_error("cancel_not_allowed", status="requires_action")),
        status=400,
    )
    refusal = error(format_error("tool_outputs_mismatch", expected="['call_1']", got="[]"))
    t.http("POST", SUBMIT, refusal, status=400, request=_outputs())
    assert [v.code for v in checked(t).violations if v.code.startswith("server.")] == []


def test_refusing_a_legal_action_with_an_impossible_status() -> None:
    t = Trace()
    t.http("GET", "/threads/thread_1/runs/run_1", run("in_progress"))
    refusal = error(format_error("cancel_not_allowed", status="in_progress"))
    line = t.http("POST", CANCEL, refusal, status=400)
    v = checked(t).only("server.error_mismatch")
    assert (v.loc, v.severity) == (Location(FILE, line), Severity.ERROR)


@pytest.mark.parametrize("kind", ["create_run", "create_message"])
def test_thread_free_again_after_the_run_ended(kind: str) -> None:
    t = Trace()
    t.http("POST", "/threads/thread_1/runs", run("queued"))
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    if kind == "create_run":
        t.http("POST", "/threads/thread_1/runs", run("queued", rid="run_2"))
    else:
        t.http("POST", "/threads/thread_1/messages", message(None, rid=None, mid="msg_u"))
    assert checked(t).violations == []


def test_each_distinct_status_change_is_its_own_finding() -> None:
    t = Trace()
    t.snap(run("in_progress"))
    first = t.snap(run("cancelling"))
    t.snap(run("in_progress"))  # cancelling → in_progress: no path
    second = t.snap(run("cancelling"))  # legal again
    third = t.snap(run("queued", started=T0 + 1))  # cancelling → queued: no path
    out = checked(t)
    found = [(v.observed, v.loc) for v in out.violations if v.code == "run.illegal_transition"]
    assert found == [
        ("cancelling → in_progress", Location(FILE, first + 1)),
        ("cancelling → queued", Location(FILE, third)),
    ]
    assert second == first + 2


def test_a_link_judged_when_the_child_was_seen_is_not_judged_again_at_the_end() -> None:
    t = Trace()
    t.snap(run("completed"))
    t.snap(step("in_progress"))
    v = checked(t).only("link.run_step.settles_with_run")
    assert (v.loc, v.count) == (Location(FILE, 2), 1)


def test_edge_coverage_for_diagrams() -> None:
    t = Trace()
    t.snaps([run("queued"), run("requires_action"), run("queued", started=T0 + 1)])
    t.snaps([run("completed")])
    assert edge_coverage(t.items) == {
        "run": {
            ("", "queued"): 1,
            ("queued", "in_progress"): 2,
            ("in_progress", "requires_action"): 1,
            ("requires_action", "queued"): 1,
            ("in_progress", "completed"): 1,
        },
        "run_step": {},
        "message": {},
    }


def test_an_unusable_file_makes_the_exit_code_2() -> None:
    t = Trace()
    t.snap(run("queued"))
    t.problem("input.unusable", "nothing to check")
    out = checked(t)
    assert out.summary.unusable_files == (FILE,)
    assert out.summary.exit_code == 2


def test_lifecycle_search_restricts_the_edges() -> None:
    """`Lifecycle.search` (used for "could the server get there without the client?")."""
    from runmodel import Actor

    def anything(e: object) -> bool:
        return True

    def server_only(e: Any) -> bool:
        return e.actor is not Actor.CLIENT

    for a in RUN.statuses:
        for b in RUN.statuses:
            assert RUN.search(a, b, allow=anything) == RUN.path(a, b)
            assert RUN.search(a, b, allow=anything, nonempty=True) == RUN.path(a, b, nonempty=True)
    assert RUN.search("requires_action", "queued", allow=server_only) is None
    assert (
        RUN.search("requires_action", "requires_action", allow=server_only, nonempty=True) is None
    )
    path = RUN.search("requires_action", "expired", allow=server_only)
    assert path is not None
    assert [str(e) for e in path] == ["requires_action → expired (expire, clock, D)"]


def test_a_new_run_after_its_thread_run_may_have_expired_is_legal() -> None:
    # a run waiting for outputs ends unseen only by the clock: once expires_at has passed (by
    # the recorded time), a new run on its thread may be legal; before, it is the client's error
    for wall, codes in ((T0 + 601, []), (T0 + 30, ["client.run_while_active"])):
        t = Trace()
        t.http("GET", "/threads/thread_1/runs/run_1", run("requires_action"), wall=T0 + 10)
        t.http("POST", "/threads/thread_1/runs", run("queued", id="run_2"), wall=wall)
        assert checked(t).codes == codes, wall


def test_fields_that_rule_out_every_way_are_reported_once_by_their_rule() -> None:
    # completed with started_at null: no way to completed avoids in_progress, so the field rule
    # reports it, and the move is not reported again
    t = Trace()
    t.snaps([run("queued"), run("completed", started=False)])
    assert checked(t).codes == ["run.field.started_at.set"]
