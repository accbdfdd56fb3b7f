"""A thread's messages: create, list (optionally of one run), retrieve, update, delete."""

from __future__ import annotations

from typing import Any

from ..apierror import not_found
from ..routing import Call, RouteTable
from ..wire import Reply

__all__ = ["routes"]

routes = RouteTable()


def _message(call: Call) -> dict[str, Any]:
    thread = call.store.thread(call.ids[0])
    call.store.settle_thread(thread, call.t)
    message = call.store.messages.get(call.ids[1])
    if message is None or message["thread_id"] != call.ids[0]:
        raise not_found(call.ids[1])
    return message


@routes.post("/threads/{thread_id}/messages")
def _create_message(call: Call) -> Reply:
    thread = call.store.thread(call.ids[0])
    return call.ok(call.store.add_message(thread, call.body, call.t))


@routes.get("/threads/{thread_id}/messages")
def _list_messages(call: Call) -> Reply:
    store = call.store
    thread = store.thread(call.ids[0])
    store.settle_thread(thread, call.t)
    messages = [store.messages[m] for m in thread.messages]
    run_id = call.params().get("run_id")
    if run_id:
        messages = [m for m in messages if m["run_id"] == run_id]
    return call.ok(call.page(messages))


@routes.get("/threads/{thread_id}/messages/{message_id}")
def _get_message(call: Call) -> Reply:
    return call.ok(_message(call))


@routes.post("/threads/{thread_id}/messages/{message_id}")
def _update_message(call: Call) -> Reply:
    message = _message(call)
    if "metadata" in call.body:
        message["metadata"] = call.body["metadata"] or {}
    return call.ok(message)


@routes.delete("/threads/{thread_id}/messages/{message_id}")
def _delete_message(call: Call) -> Reply:
    _message(call)
    del call.store.messages[call.ids[1]]
    call.store.threads[call.ids[0]].messages.remove(call.ids[1])
    return call.ok({"id": call.ids[1], "object": "thread.message.deleted", "deleted": True})
