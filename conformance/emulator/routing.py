"""Routes: which handler answers a method and path, and the `Call` a handler is given.

A route's path names its ids as placeholders (``/threads/{thread_id}/runs/{run_id}``); ids sit
at the odd segments, as in every OpenAI path. A routes module fills a `RouteTable` with
decorators, and the emulator answers from the tables of all its modules (`routes.ROUTES`), so
a new family of endpoints is one new module, not an edit of the core.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson

from .apierror import refuse
from .clock import Clock
from .engine import RunEngine
from .script import Script
from .storage import Run
from .wire import JSON, SSE, Reply, Request, reply_headers

__all__ = ["Call", "Handler", "Route", "RouteTable", "page"]

_T = TypeVar("_T")
_PLACEHOLDER = re.compile(r"\{\w*\}")


@dataclass(slots=True)
class Call:
    """One request as its handler sees it: the path's ids, the query, the JSON body, the time,
    the log entry, and the emulator's state and services."""

    ids: list[str]
    query: str
    body: dict[str, Any]
    t: float
    rec: Request
    store: RunEngine
    clock: Clock
    lock: Any
    choose: Callable[[Mapping[str, Any], Mapping[str, Any]], Script]
    poll_header: tuple[str, str] | None
    shared: dict[str, Any]

    def ok(self, obj: Any, *, run: bool = False) -> Reply:
        """200 with `obj` as JSON (`run`: a run reply, which carries the poll hint)."""
        headers = reply_headers(JSON, self.rec)
        if run and self.poll_header is not None:
            headers.append(self.poll_header)
        return Reply(200, headers, orjson.dumps(obj))

    def stream(self, run: Run, start: int, prefix: tuple[bytes, ...] = ()) -> Reply:
        """200 with the run's events from index `start` as server-sent events, logged."""
        return self.events(self.store.stream(run, start, self.lock, prefix))

    def events(self, chunks: Iterator[tuple[str, bytes]]) -> Reply:
        """200 with `chunks` ((event name, SSE chunk) pairs) as server-sent events, each logged
        with its time as it is sent."""
        headers = reply_headers(SSE, self.rec)
        self.rec.events = []
        return Reply(200, headers, stream=_recorded(chunks, self.rec.events, self.clock))

    def params(self) -> dict[str, str]:
        """The query's parameters."""
        return dict(parse_qsl(self.query)) if self.query else {}

    def required(self, name: str) -> Any:
        """The body's `name` (400 if it is missing)."""
        value = self.body.get(name)
        if value is None:
            raise refuse("missing_param", param=name)
        return value

    def page(self, objs: list[dict[str, Any]]) -> dict[str, Any]:
        """A cursor page of `objs` (oldest first) as the query asks for it."""
        return page(objs, self.params())

    def state(self, key: str, factory: Callable[[], _T]) -> _T:
        """This emulator's state under `key`, made by `factory` on first use: where the routes
        of another family of endpoints keep their objects."""
        found = self.shared.get(key)
        if found is None:
            found = self.shared[key] = factory()
        return found


Handler = Callable[[Call], Reply]
"""Answers one request."""


@dataclass(frozen=True, slots=True)
class Route:
    """A handler for a method and path; `beta` is the ``OpenAI-Beta`` value the route needs."""

    method: str
    path: str
    handler: Handler
    beta: str | None = "assistants=v2"


class RouteTable:
    """Routes by method and path; handlers are added with `add` or the method decorators."""

    def __init__(self, *tables: RouteTable) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._shaped: dict[tuple[str, tuple[str, ...]], Route] = {}
        for table in tables:
            for route in table:
                self.add(route)

    def __iter__(self) -> Iterator[Route]:
        yield from self._exact.values()
        yield from self._shaped.values()

    def add(self, route: Route) -> None:
        """Add a route (ValueError if its method and path are taken)."""
        segments = tuple(route.path.strip("/").split("/"))
        wild = [bool(_PLACEHOLDER.fullmatch(s)) for s in segments]
        if any(w for i, w in enumerate(wild) if i % 2 == 0):
            raise ValueError(f"{route.path}: ids sit at odd segments only")
        if all(w for i, w in enumerate(wild) if i % 2 == 1):
            shape = (
                route.method,
                tuple("*" if w else s for s, w in zip(segments, wild, strict=True)),
            )
            taken = shape in self._shaped
            self._shaped.setdefault(shape, route)
        else:  # a word where an id would be (``/threads/runs``): matched before the shapes
            exact = (route.method, route.path.rstrip("/"))
            taken = exact in self._exact
            self._exact.setdefault(exact, route)
        if taken:
            raise ValueError(f"{route.method} {route.path} has a handler already")

    def route(
        self, method: str, path: str, *, beta: str | None = "assistants=v2"
    ) -> Callable[[Handler], Handler]:
        """A decorator adding its function as the handler of `method` `path`."""

        def register(handler: Handler) -> Handler:
            self.add(Route(method, path, handler, beta))
            return handler

        return register

    def get(self, path: str, *, beta: str | None = "assistants=v2") -> Callable[[Handler], Handler]:
        """`route` for GET."""
        return self.route("GET", path, beta=beta)

    def post(
        self, path: str, *, beta: str | None = "assistants=v2"
    ) -> Callable[[Handler], Handler]:
        """`route` for POST."""
        return self.route("POST", path, beta=beta)

    def delete(
        self, path: str, *, beta: str | None = "assistants=v2"
    ) -> Callable[[Handler], Handler]:
        """`route` for DELETE."""
        return self.route("DELETE", path, beta=beta)

    def match(self, method: str, route: str) -> tuple[Route, list[str]] | None:
        """The route answering `method` `route` (a path below ``/v1``) and the path's ids."""
        segments = route.strip("/").split("/")
        found = self._exact.get((method, route.rstrip("/")))
        if found is None:
            shape = tuple(s if i % 2 == 0 else "*" for i, s in enumerate(segments))
            found = self._shaped.get((method, shape))
        return None if found is None else (found, segments[1::2])


def page(objs: list[dict[str, Any]], q: Mapping[str, str]) -> dict[str, Any]:
    """A cursor page: `objs` oldest first; ``limit``, ``order``, ``after``, ``before``."""
    try:
        limit = int(q.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise refuse("invalid_limit", limit=q.get("limit"))
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise refuse("invalid_order", order=order)
    items = objs if order == "asc" else objs[::-1]
    ids = [o["id"] for o in items]
    start, end = 0, len(items)
    after, before = q.get("after"), q.get("before")
    if after:
        start = ids.index(after) + 1 if after in ids else end
    if before:
        end = ids.index(before) if before in ids else start
    window = items[start:end]
    chosen = window[-limit:] if before and not after else window[:limit]
    return {
        "object": "list",
        "data": chosen,
        "first_id": chosen[0]["id"] if chosen else None,
        "last_id": chosen[-1]["id"] if chosen else None,
        "has_more": len(window) > limit,
    }


def _recorded(
    chunks: Iterator[tuple[str, bytes]], into: list[tuple[str, bytes, float]], clock: Clock
) -> Iterator[bytes]:
    for name, chunk in chunks:
        into.append((name, chunk, clock.now()))
        yield chunk
