"""Runs: create (on a thread, or with a new thread), list, retrieve, update, cancel, and submit
tool outputs; a create or submit with ``stream`` answers with the run's events."""

from __future__ import annotations

import orjson

from ..routing import Call, RouteTable
from ..storage import Run, Thread
from ..wire import Reply

__all__ = ["routes", "run_of"]

routes = RouteTable()


def _new_run(call: Call, thread: Thread, prefix: tuple[bytes, ...] = ()) -> Reply:
    assistant = call.store.assistant(call.required("assistant_id"))
    run = call.store.add_run(thread, assistant, call.body, call.choose, call.t)
    call.rec.run_id = run.obj["id"]
    if call.body.get("stream"):
        return call.stream(run, 0, prefix)
    return call.ok(run.obj, run=True)


def run_of(call: Call) -> Run:
    """The run the path names, advanced to now (404s as the API gives them); logged with it."""
    run = call.store.run(call.ids[0], call.ids[1], call.t)
    call.rec.run_id = call.ids[1]
    return run


@routes.post("/threads/{thread_id}/runs")
def _create_run(call: Call) -> Reply:
    return _new_run(call, call.store.thread(call.ids[0]))


@routes.post("/threads/runs")
def _create_thread_and_run(call: Call) -> Reply:
    call.store.assistant(call.required("assistant_id"))  # 404 before anything is created
    thread_body = call.body.get("thread") or {}
    thread = call.store.add_thread(thread_body if isinstance(thread_body, dict) else {}, call.t)
    prefix = (b"event: thread.created\ndata: " + orjson.dumps(thread.obj) + b"\n\n",)
    return _new_run(call, thread, prefix)


@routes.get("/threads/{thread_id}/runs")
def _list_runs(call: Call) -> Reply:
    store = call.store
    thread = store.thread(call.ids[0])
    store.settle_thread(thread, call.t)
    return call.ok(call.page([store.runs[r].obj for r in thread.runs]), run=True)


@routes.get("/threads/{thread_id}/runs/{run_id}")
def _get_run(call: Call) -> Reply:
    return call.ok(run_of(call).obj, run=True)


@routes.post("/threads/{thread_id}/runs/{run_id}")
def _update_run(call: Call) -> Reply:
    run = run_of(call)
    if "metadata" in call.body:
        run.obj["metadata"] = call.body["metadata"] or {}
    return call.ok(run.obj, run=True)


@routes.post("/threads/{thread_id}/runs/{run_id}/cancel")
def _cancel_run(call: Call) -> Reply:
    run = run_of(call)
    call.store.cancel(run, call.t)
    return call.ok(run.obj, run=True)


@routes.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
def _submit_tool_outputs(call: Call) -> Reply:
    run = run_of(call)
    outputs = call.required("tool_outputs")
    start = len(run.events)
    call.store.submit(run, outputs, call.t)
    if call.body.get("stream"):
        return call.stream(run, start)
    return call.ok(run.obj, run=True)
