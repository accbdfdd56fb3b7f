"""A run's steps: list and retrieve."""

from __future__ import annotations

from ..apierror import not_found
from ..routing import Call, RouteTable
from ..wire import Reply
from .runs import run_of

__all__ = ["routes"]

routes = RouteTable()


@routes.get("/threads/{thread_id}/runs/{run_id}/steps")
def _list_steps(call: Call) -> Reply:
    return call.ok(call.page(run_of(call).steps))


@routes.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}")
def _get_step(call: Call) -> Reply:
    run = run_of(call)
    found = call.store.steps.get(call.ids[2])
    if found is None or found[0] is not run:
        raise not_found(call.ids[2])
    return call.ok(found[1])
