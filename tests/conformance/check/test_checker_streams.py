"""The streaming protocol (evidence §5): legal streams pass; each disorder is caught, located."""

from __future__ import annotations

from conformance.check import Severity
from conformance.observations import Location
from tests.helpers.checktrace import FILE, T0, Trace, checked, message, run, step

CREATE = "/threads/thread_1/runs"
SUBMIT = "/threads/thread_1/runs/run_1/submit_tool_outputs"


def _delta_step(sid: str = "step_1") -> dict[str, object]:
    return {"id": sid, "object": "thread.run.step.delta", "delta": {"step_details": {}}}


def _delta_message(mid: str = "msg_1") -> dict[str, object]:
    return {"id": mid, "object": "thread.message.delta", "delta": {"content": []}}


def answer_stream(t: Trace, ex: int) -> None:
    """A message_creation step wrapping its message, then the run completes."""
    t.event("thread.run.step.created", step("in_progress"), ex)
    t.event("thread.run.step.in_progress", step("in_progress"), ex)
    t.event("thread.message.created", message("in_progress"), ex)
    t.event("thread.message.in_progress", message("in_progress"), ex)
    t.event("thread.message.delta", _delta_message(), ex)
    t.event("thread.message.completed", message("completed"), ex)
    t.event("thread.run.step.completed", step("completed"), ex)


def start(t: Trace, path: str = CREATE) -> int:
    ex = t.http("POST", path, streamed=True, request={"stream": True})
    t.event("thread.run.created", run("queued"), ex)
    t.event("thread.run.queued", run("queued"), ex)
    t.event("thread.run.in_progress", run("in_progress"), ex)
    return ex


def test_create_thread_and_run_stream_conforms() -> None:
    t = Trace()
    ex = t.http("POST", "/threads/runs", streamed=True, request={"stream": True})
    t.event("thread.created", {"id": "thread_1", "object": "thread", "created_at": T0}, ex)
    t.event("thread.run.created", run("queued"), ex)
    t.event("thread.run.queued", run("queued"), ex)
    t.event("thread.run.in_progress", run("in_progress"), ex)
    answer_stream(t, ex)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    out = checked(t)
    assert out.violations == []
    assert out.results[0].statuses == ("queued", "in_progress", "completed")


def test_function_call_then_submit_stream_conforms() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.step.created", step("in_progress", kind="tool_calls"), ex)
    t.event("thread.run.step.in_progress", step("in_progress", kind="tool_calls"), ex)
    t.event("thread.run.step.delta", _delta_step(), ex)
    t.event("thread.run.requires_action", run("requires_action", calls=["call_1"]), ex)
    t.done(ex)  # the tool_calls step stays open
    sub = t.http(
        "POST",
        SUBMIT,
        streamed=True,
        request={"stream": True, "tool_outputs": [{"tool_call_id": "call_1", "output": "1"}]},
    )
    t.event(
        "thread.run.step.completed", step("completed", kind="tool_calls", calls=["call_1"]), sub
    )
    t.event("thread.run.queued", run("queued", started=T0 + 1), sub)
    t.event("thread.run.in_progress", run("in_progress"), sub)
    answer_stream_2 = step("in_progress", sid="step_2", message="msg_2")
    t.event("thread.run.step.created", answer_stream_2, sub)
    t.event("thread.run.step.in_progress", answer_stream_2, sub)
    t.event("thread.message.created", message("in_progress", mid="msg_2"), sub)
    t.event("thread.message.completed", message("completed", mid="msg_2"), sub)
    t.event("thread.run.step.completed", step("completed", sid="step_2", message="msg_2"), sub)
    t.event("thread.run.completed", run("completed"), sub)
    t.done(sub)
    out = checked(t)
    assert out.violations == []


def test_order_run_events_out_of_order() -> None:
    t = Trace()
    ex = t.http("POST", CREATE, streamed=True)
    line = t.event("thread.run.queued", run("queued"), ex)
    t.event("thread.run.in_progress", run("in_progress"), ex)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    v = checked(t).only("stream.order")
    assert (v.run_id, v.loc, v.severity) == ("run_1", Location(FILE, line), Severity.ERROR)
    assert "thread.run.created" in v.allowed


def test_order_a_stream_may_not_skip_statuses() -> None:
    t = Trace()
    ex = t.http("POST", CREATE, streamed=True)
    t.event("thread.run.created", run("queued"), ex)
    t.event("thread.run.queued", run("queued"), ex)
    line = t.event("thread.run.completed", run("completed"), ex)  # in_progress never sent
    t.done(ex)
    out = checked(t)
    v = out.only("stream.order")
    assert (v.loc, v.observed) == (Location(FILE, line), "queued → completed")
    assert "queued → in_progress → completed" in v.allowed


def test_order_step_ends_before_its_message() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.step.created", step("in_progress"), ex)
    t.event("thread.message.created", message("in_progress"), ex)
    line = t.event("thread.run.step.completed", step("completed"), ex)
    t.event("thread.message.completed", message("completed"), ex)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    out = checked(t)
    v = out.only("stream.order")
    assert (v.subject, v.loc) == ("step_1", Location(FILE, line))


def test_order_nothing_but_done_after_requires_action() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.step.created", step("in_progress", kind="tool_calls"), ex)
    t.event("thread.run.requires_action", run("requires_action"), ex)
    line = t.event("thread.run.step.delta", _delta_step(), ex)
    t.done(ex)
    v = checked(t).only("stream.order")
    assert v.loc == Location(FILE, line)


def test_order_done_with_a_message_still_open() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.step.created", step("in_progress"), ex)
    t.event("thread.message.created", message("in_progress"), ex)
    line = t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    out = checked(t)
    assert [(v.code, v.subject, v.loc) for v in out.violations if v.code == "stream.order"] == [
        ("stream.order", "step_1", Location(FILE, line)),
        ("stream.order", "msg_1", Location(FILE, line)),
    ]


def test_order_done_before_the_run_settled() -> None:
    t = Trace()
    ex = start(t)
    line = t.done(ex)
    v = checked(t).only("stream.order")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert v.observed == "done after thread.run.in_progress"


def test_thread_created_only_first_in_create_thread_and_run() -> None:
    t = Trace()
    ex = t.http("POST", CREATE, streamed=True)
    line = t.event("thread.created", {"id": "thread_1", "object": "thread"}, ex)
    t.event("thread.run.created", run("queued"), ex)
    v = checked(t).only("stream.order")
    assert v.loc == Location(FILE, line)


def test_delta_before_created() -> None:
    t = Trace()
    ex = start(t)
    line = t.event("thread.message.delta", _delta_message(), ex)
    v = checked(t).only("stream.delta_before_created")
    assert (v.run_id, v.subject, v.loc) == ("run_1", "msg_1", Location(FILE, line))


def test_after_done() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    line = t.event("thread.run.completed", run("completed"), ex)
    v = checked(t).only("stream.after_done")
    assert v.loc == Location(FILE, line)


def test_event_name_disagrees_with_data() -> None:
    t = Trace()
    ex = start(t)
    line = t.event("thread.run.completed", run("failed"), ex)
    t.done(ex)
    v = checked(t).only("stream.event_mismatch")
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert v.allowed == "status 'completed'"


def test_unknown_event_warns() -> None:
    t = Trace()
    ex = start(t)
    line = t.event("thread.run.paused", {"id": "run_1"}, ex)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    out = checked(t)
    v = out.only("stream.unknown_event")
    assert (v.severity, v.loc) == (Severity.WARNING, Location(FILE, line))
    assert out.summary.exit_code == 0


def test_unfinished_stream_warns() -> None:
    t = Trace()
    start(t)
    out = checked(t)
    v = out.only("stream.unfinished")
    assert (v.severity, v.run_id) == (Severity.WARNING, "run_1")


def test_stream_statuses_feed_run_tracking() -> None:
    t = Trace()
    ex = start(t)
    t.event("thread.run.completed", run("completed"), ex)
    t.done(ex)
    line = t.http("GET", "/threads/thread_1/runs/run_1", run("in_progress"))
    v = checked(t).only("run.terminal_left")
    assert v.loc == Location(FILE, line)


def test_a_submit_stream_alone_may_settle_a_step_it_did_not_open() -> None:
    t = Trace()
    sub = t.http("POST", SUBMIT, streamed=True, request={"stream": True})
    t.event(
        "thread.run.step.completed", step("completed", kind="tool_calls", calls=["call_1"]), sub
    )
    t.event("thread.run.queued", run("queued", started=T0 + 1), sub)
    t.event("thread.run.in_progress", run("in_progress"), sub)
    t.event("thread.run.completed", run("completed"), sub)
    t.done(sub)
    assert checked(t).violations == []


def test_settling_a_settled_step_again_is_out_of_order() -> None:
    t = Trace()
    t.snap(step("completed", kind="tool_calls"))
    sub = t.http("POST", SUBMIT, streamed=True, request={"stream": True})
    line = t.event("thread.run.step.completed", step("completed", kind="tool_calls"), sub)
    v = checked(t).only("stream.order")
    assert (v.subject, v.loc) == ("step_1", Location(FILE, line))
