"""The emulator's public hooks: a reply hook, reading runs without moving them, and a route
table that takes another family of endpoints without an edit of the core."""

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


def test_on_reply_changes_what_the_client_gets_and_the_log_shows() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+10")
    order: list[str] = []
    emu.on_request = lambda rec: order.append(f"observed {rec.json()['status']}")

    def future(rec: Request, reply: Reply) -> Reply:
        obj = orjson.loads(reply.body)
        order.append(f"replied {obj['status']}")
        if obj["status"] != "in_progress":
            return reply  # the reply stands
        return Reply(reply.status, reply.headers, orjson.dumps({**obj, "status": "unheard_of"}))

    emu.on_reply = future
    assert orjson.loads(_get(emu, f"/threads/{thread_id}/runs/{run_id}").body)["status"] == "queued"
    emu.clock.advance(2)
    seen = orjson.loads(_get(emu, f"/threads/{thread_id}/runs/{run_id}").body)
    assert seen["status"] == "unheard_of"
    assert [r.json()["status"] for r in emu.requests] == ["queued", "unheard_of"]
    assert order == ["replied queued", "observed queued", "replied in_progress",
                     "observed unheard_of"]  # fmt: skip
    assert emu.run_object(run_id)["status"] == "in_progress"  # the state did not change


def test_on_reply_may_change_the_status_too() -> None:
    emu = Emulator()
    emu.on_reply = lambda rec, reply: Reply(418, reply.headers, b'{"a":1}')
    reply = _get(emu, "/assistants")
    assert (reply.status, emu.requests[0].status, emu.requests[0].json()) == (418, 418, {"a": 1})


def test_reading_a_run_does_not_move_it() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, require_action(1)+1, start+1, complete+1")
    started = emu.clock.now()
    emu.clock.advance(5)
    run = emu.runs[run_id]
    assert (run.status, emu.thread_of(run_id)) == ("queued", thread_id)
    assert [name for name, _ in run.events] == ["thread.run.created", "thread.run.queued"]
    assert emu.next_wake(run_id) == started + 1  # the start, due since
    with pytest.raises(TypeError):
        emu.runs["run_other"] = run  # type: ignore[index]  # a read-only view
    assert emu.run_object(run_id)["status"] == "requires_action"  # this one moves it
    assert run.status == "requires_action"
    assert [name for name, _ in run.events][-1] == "thread.run.requires_action"
    assert emu.next_wake(run_id) == run.obj["expires_at"]  # only its expiry is due


def test_a_deleted_thread_takes_its_runs() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+1")
    emu.clock.advance(3)
    emu.handle("DELETE", f"/v1/threads/{thread_id}", "", HEADERS, b"")
    assert run_id not in emu.runs
    assert dict(emu.runs) == {}
    with pytest.raises(KeyError):
        emu.thread_of(run_id)
    with pytest.raises(KeyError):
        emu.next_wake(run_id)


def _widgets() -> RouteTable:
    """A miniature second family of endpoints, with its own state and no beta header."""
    routes = RouteTable()

    @routes.post("/widgets", beta=None)
    def create(call: Call) -> Reply:
        made: dict[str, Any] = call.state("widgets", dict)
        obj = {"id": call.store.new_id("widget"), "object": "widget", "status": "queued"}
        made[obj["id"]] = obj
        return call.ok(obj)

    @routes.get("/widgets/{widget_id}", beta=None)
    def get(call: Call) -> Reply:
        made: dict[str, Any] = call.state("widgets", dict)
        return call.ok(made[call.ids[0]])

    return routes


def test_another_family_of_endpoints_is_one_more_table() -> None:
    emu = Emulator()
    emu.routes = RouteTable(ROUTES, _widgets())
    made = orjson.loads(emu.handle("POST", "/v1/widgets", "", {}, b"").body)
    reply = emu.handle("GET", f"/v1/widgets/{made['id']}", "", {}, b"")
    assert (reply.status, orjson.loads(reply.body)) == (200, made)
    assert _get(emu, "/assistants").status == 200  # the Assistants routes still answer
    assert emu.handle("GET", "/v1/assistants", "", {}, b"").status == 400  # and want the header
    other = Emulator()  # only the emulator given the table answers it
    reply = other.handle("POST", "/v1/widgets", "", {}, b"")
    assert (reply.status, orjson.loads(reply.body)) == (
        404,
        error_body("invalid_url", method="POST", path="/v1/widgets"),
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
