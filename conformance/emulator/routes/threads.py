"""Threads: create, retrieve, update, delete (with their messages, runs and steps)."""

from __future__ import annotations

from ..routing import Call, RouteTable
from ..wire import Reply

__all__ = ["routes"]

routes = RouteTable()


@routes.post("/threads")
def _create_thread(call: Call) -> Reply:
    return call.ok(call.store.add_thread(call.body, call.t).obj)


@routes.get("/threads/{thread_id}")
def _get_thread(call: Call) -> Reply:
    return call.ok(call.store.thread(call.ids[0]).obj)


@routes.post("/threads/{thread_id}")
def _update_thread(call: Call) -> Reply:
    obj = call.store.thread(call.ids[0]).obj
    obj.update({k: v for k, v in call.body.items() if k in ("metadata", "tool_resources")})
    return call.ok(obj)


@routes.delete("/threads/{thread_id}")
def _delete_thread(call: Call) -> Reply:
    call.store.delete_thread(call.ids[0])
    return call.ok({"id": call.ids[0], "object": "thread.deleted", "deleted": True})
