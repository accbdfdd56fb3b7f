"""The emulator's public hooks: a request interceptor, reading runs without moving them, and a
route table that takes another family of endpoints without an edit of the core."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conformance.emulator import Emulator, Reply, Request
from conformance.emulator.routes import ROUTES
from conformance.emulator.routing import Call, Route, RouteTable
from conformance.errors import error_body

HEADERS = {"openai-beta": "assistants=v2"}


def _get(emu: Emulator, path: str) -> Reply:
    return emu.handle("GET", "/v1" + path, "", HEADERS, b"")


def test_an_interceptor_changes_what_the_client_gets_and_the_log_shows() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+10")
    order: list[str] = []
    emu.on_request = lambda rec: order.append(f"observed {rec.json()['status']}")

    @emu.intercept
    def future(rec: Request, reply: Reply) -> Reply | None:
        obj = orjson.loads(reply.body)
        order.append(f"intercepted {obj['status']}")
        if obj["status"] != "in_progress":
            return None  # the reply stands
        return Reply(reply.status, reply.headers, orjson.dumps({**obj, "status": "unheard_of"}))

    assert orjson.loads(_get(emu, f"/threads/{thread_id}/runs/{run_id}").body)["status"] == "queued"
    emu.clock.advance(2)
    seen = orjson.loads(_get(emu, f"/threads/{thread_id}/runs/{run_id}").body)
    assert seen["status"] == "unheard_of"
    assert [r.json()["status"] for r in emu.requests] == ["queued", "unheard_of"]
    assert order == ["observed queued", "intercepted queued", "observed in_progress",
                     "intercepted in_progress"]  # fmt: skip
    assert emu.run_object(run_id)["status"] == "in_progress"  # the state did not change


def test_interceptors_run_in_the_order_added() -> None:
    emu = Emulator()
    emu.intercept(lambda rec, reply: Reply(418, reply.headers, b'{"a":1}'))
    emu.intercept(lambda rec, reply: Reply(reply.status + 1, reply.headers, reply.body))
    reply = _get(emu, "/assistants")
    assert (reply.status, emu.requests[0].status, emu.requests[0].json()) == (419, 419, {"a": 1})


def test_reading_a_run_does_not_move_it() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, require_action(1)+1, start+1, complete+1")
    started = emu.clock.now()
    emu.clock.advance(5)
    run = emu.run(run_id)
    assert run is not None
    assert (run["status"], run["thread_id"]) == ("queued", thread_id)
    assert emu.run_events(run_id) == ["thread.run.created", "thread.run.queued"]
    assert emu.next_wake(run_id) == started + 1  # the start, due since
    assert emu.thread_of(run_id) == thread_id
    assert run_id in emu.runs
    run["status"] = "changed"  # a copy
    assert emu.run_object(run_id)["status"] == "requires_action"  # this one moves it
    assert emu.run(run_id) == emu.run_object(run_id)
    assert emu.run_events(run_id)[-1] == "thread.run.requires_action"
    assert emu.next_wake(run_id) == emu.run_object(run_id)["expires_at"]  # only expiry is due


def test_a_deleted_thread_takes_its_runs() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+1")
    emu.clock.advance(3)
    emu.handle("DELETE", f"/v1/threads/{thread_id}", "", HEADERS, b"")
    assert run_id not in emu.runs
    assert list(emu.runs) == []
    assert (emu.run(run_id), emu.thread_of(run_id), emu.next_wake(run_id)) == (None, None, None)
    assert emu.run_events(run_id) == []


def _responses() -> RouteTable:
    """A miniature second family of endpoints, with its own state and no beta header."""
    routes = RouteTable()

    @routes.post("/responses", beta=None)
    def create(call: Call) -> Reply:
        made: dict[str, Any] = call.state("responses", dict)
        obj = {"id": call.store.new_id("resp"), "object": "response", "status": "queued"}
        made[obj["id"]] = obj
        return call.ok(obj)

    @routes.get("/responses/{response_id}", beta=None)
    def get(call: Call) -> Reply:
        made: dict[str, Any] = call.state("responses", dict)
        return call.ok(made[call.ids[0]])

    return routes


def test_another_family_of_endpoints_is_one_more_table() -> None:
    emu = Emulator()
    emu.routes = RouteTable(ROUTES, _responses())
    made = orjson.loads(emu.handle("POST", "/v1/responses", "", {}, b"").body)
    reply = emu.handle("GET", f"/v1/responses/{made['id']}", "", {}, b"")
    assert (reply.status, orjson.loads(reply.body)) == (200, made)
    assert _get(emu, "/assistants").status == 200  # the Assistants routes still answer
    assert emu.handle("GET", "/v1/assistants", "", {}, b"").status == 400  # and want the header
    other = Emulator()  # only the emulator given the table answers it, with its own state
    reply = other.handle("POST", "/v1/responses", "", {}, b"")
    assert (reply.status, orjson.loads(reply.body)) == (
        404,
        error_body("invalid_url", method="POST", path="/v1/responses"),
    )


def test_a_route_table_refuses_clashes_and_ids_out_of_place() -> None:
    def handler(call: Call) -> Reply:  # pragma: no cover - never called
        raise AssertionError

    with pytest.raises(ValueError, match="has a handler already"):
        RouteTable(ROUTES, RouteTable(ROUTES))
    with pytest.raises(ValueError, match="odd segments"):
        RouteTable().add(Route("GET", "/{id}/things", handler))
    table = RouteTable(ROUTES)
    exact = table.match("POST", "/threads/runs")
    shaped = table.match("POST", "/threads/thread_1")
    assert exact is not None
    assert exact[0].path == "/threads/runs"
    assert shaped is not None
    assert shaped[0].path == "/threads/{thread_id}"
    assert shaped[1] == ["thread_1"]
    assert table.match("PUT", "/threads/thread_1") is None
