"""Assistants: create, list, retrieve, update, delete."""

from __future__ import annotations

from ..routing import Call, RouteTable
from ..wire import Reply

__all__ = ["routes"]

routes = RouteTable()


@routes.post("/assistants")
def _create_assistant(call: Call) -> Reply:
    return call.ok(call.store.add_assistant(call.body, call.t))


@routes.get("/assistants")
def _list_assistants(call: Call) -> Reply:
    return call.ok(call.page(list(call.store.assistants.values())))


@routes.get("/assistants/{assistant_id}")
def _get_assistant(call: Call) -> Reply:
    return call.ok(call.store.assistant(call.ids[0]))


@routes.post("/assistants/{assistant_id}")
def _update_assistant(call: Call) -> Reply:
    obj = call.store.assistant(call.ids[0])
    obj.update(
        {k: v for k, v in call.body.items() if k in obj and k not in ("id", "object", "created_at")}
    )
    return call.ok(obj)


@routes.delete("/assistants/{assistant_id}")
def _delete_assistant(call: Call) -> Reply:
    call.store.assistant(call.ids[0])
    del call.store.assistants[call.ids[0]]
    return call.ok({"id": call.ids[0], "object": "assistant.deleted", "deleted": True})
