"""Server-sent events: each run keeps its events as SSE chunks, and a stream follows them.

A stream replays a run's events from an index and waits on the clock for the next move, until
a requires_action or terminal run event; then it ends with ``done``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from runmodel import RUN

from .clock import Clock
from .storage import Run

__all__ = ["DONE", "emit", "follow", "sse"]

DONE = b"event: done\ndata: [DONE]\n\n"
"""The chunk that ends every stream."""

_ENDS = frozenset(f"thread.run.{s}" for s in RUN.settled)


def sse(event: str, obj: Mapping[str, Any]) -> bytes:
    """One SSE chunk: the event's name and its object as JSON."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def emit(run: Run, event: str, obj: Mapping[str, Any]) -> None:
    """Add an event to the run's log, as it stands now (streams send it from there)."""
    run.events.append((event, sse(event, obj)))


def follow(
    run: Run,
    start: int,
    lock: Any,
    clock: Clock,
    next_wake: Callable[[Run], float | None],
    advance: Callable[[Run, float], None],
    prefix: tuple[bytes, ...] = (),
) -> Iterator[tuple[str, bytes]]:
    """The run's events from index `start` as (name, SSE chunk), waiting on the clock for the
    next move, until a requires_action or terminal run event; then ``done``."""
    for chunk in prefix:
        yield "thread.created", chunk
    index = start
    while True:
        with lock:
            fresh = run.events[index:]
            index += len(fresh)
            wake = None if fresh else next_wake(run)
        if not fresh and wake is None:  # settled before this stream began: nothing to wait for
            yield "done", DONE
            return
        for name, chunk in fresh:
            yield name, chunk
            if name in _ENDS:
                yield "done", DONE
                return
        if wake is not None:
            clock.wait_until(wake)
            with lock:
                advance(run, max(clock.now(), wake))
