"""Responses: create (background or not, streamed or not), retrieve (or resume its stream with
``stream=true&starting_after=N``), cancel, delete, and list input items.

A foreground create (``background`` false) answers once the response has ended, or streams it;
a background create answers ``queued`` at once. Only a background response's stream can be
resumed (a foreground one answers 404, fact ``response.stream.background_only``); one created
without ``stream`` is streamed too, from its event log (whether OpenAI allows that is not
known). The responses live in the emulator's `responses.ResponseStore` (`STORE_KEY` in the
shared state).
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from ..response_objects import response_error
from ..response_script import default_response_script
from ..responses import Response, ResponseStore
from ..routing import Call, RouteTable
from ..wire import JSON, Reply, reply_headers

__all__ = ["STORE_KEY", "routes", "store_of"]

STORE_KEY = "responses"
"""Where an emulator's `ResponseStore` sits in its shared route state."""

routes = RouteTable()


def store_of(call: Call) -> ResponseStore:
    """The emulator's response store (made with the default scripts if it has none yet)."""
    return call.state(
        STORE_KEY, lambda: ResponseStore(call.clock, call.store.new_id, default_response_script)
    )


def _response(call: Call) -> Response:
    resp = store_of(call).get(call.ids[0], call.t)
    call.rec.response_id = resp.id
    return resp


def _when_ended(call: Call, store: ResponseStore, resp: Response) -> Reply:
    """200 with the response once it has ended: the clock runs outside the lock meanwhile."""
    rec = call.rec

    def body() -> Iterator[bytes]:
        store.settle(resp, call.lock)
        with call.lock:
            data = orjson.dumps(resp.obj)
        rec.response = data
        yield data

    return Reply(200, reply_headers(JSON, rec), stream=body())


@routes.post("/responses", beta=None)
def _create(call: Call) -> Reply:
    store = store_of(call)
    resp = store.create(call.body, call.t)
    call.rec.response_id = resp.id
    if call.body.get("stream"):
        return call.events(store.follow(resp, 0, call.lock))
    if not resp.background:
        return _when_ended(call, store, resp)
    return call.ok(resp.obj)


@routes.get("/responses/{response_id}", beta=None)
def _retrieve(call: Call) -> Reply:
    resp = _response(call)
    params = call.params()
    if params.get("stream", "false").lower() not in ("true", "1"):
        return call.ok(resp.obj)
    if not resp.background:  # only a background response's stream can be resumed
        raise response_error(404, f"Response with id '{resp.id}' not found.")
    after = params.get("starting_after")
    try:
        start = 0 if after is None else int(after) + 1
    except ValueError:
        raise response_error(
            400,
            f"Invalid 'starting_after': integer expected, got {after!r}.",
            param="starting_after",
        ) from None
    return call.events(store_of(call).follow(resp, max(0, start), call.lock))


@routes.post("/responses/{response_id}/cancel", beta=None)
def _cancel(call: Call) -> Reply:
    resp = _response(call)
    store_of(call).cancel(resp, call.t)
    return call.ok(resp.obj)


@routes.delete("/responses/{response_id}", beta=None)
def _delete(call: Call) -> Reply:
    resp = _response(call)
    return call.ok(store_of(call).delete(resp))


@routes.get("/responses/{response_id}/input_items", beta=None)
def _input_items(call: Call) -> Reply:
    return call.ok(call.page(_response(call).inputs))
