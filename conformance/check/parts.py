"""A lifecycle's own traffic, judged by its part: registered by lifecycle name, so that a new
lifecycle brings its part without editing the checker.

A part judges what only its lifecycle knows: the client's requests on its routes, the server's
replies to them, its streams. It reaches the checker through `Host` alone. The checker offers
each exchange and each stream event to its parts, latest registered first, until one takes it;
the Assistants run's part (registered first) takes whatever no other part did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from runmodel import Strictness

from ..observations import Exchange, Location, StreamEvent
from .findings import Findings
from .state import RunState

__all__ = ["Host", "Part", "PartFactory", "register_part", "registered_parts", "unregister_part"]


class Host(Protocol):
    """What a part may ask of the checker."""

    strictness: Strictness
    findings: Findings
    """Where findings go (`Findings.add`), and the untrusted edges a legal action needs."""
    checkable: int
    """Items that gave something to check: a part counts each request it judges."""
    memory: int
    """How many finished things (e.g. streams) a part may remember, at most."""

    def run(self, oid: str) -> RunState:
        """The run's state (opened, if it is not open)."""
        ...

    def tracked(self, lifecycle: str, oid: str) -> RunState:
        """The state of `oid`, an object of a lifecycle tracked on its own, as runs are (e.g. a
        response): opened, if it is not open."""
        ...

    def status_of(self, oid: str) -> str | None:
        """The last known status of such an object, open or closed (None: not seen)."""
        ...

    def active_run(self, thread_id: str) -> RunState | None:
        """The thread's active run as last observed, if any."""
        ...

    def server_time(self, loc: Location, wall: float | None) -> float | None:
        """The server's time at `wall` in `loc`'s file (see `ServerClock.server_time`)."""
        ...

    def observe(
        self, body: Any, loc: Location, seq: int | None, wall: float | None, http: bool
    ) -> None:
        """Observe the objects a reply's body carries (runs, steps, messages, responses, lists
        of them)."""
        ...

    def observe_status(self, run: RunState, status: str, loc: Location, seq: int | None) -> None:
        """A status a reply names without carrying the run (e.g. a refusal's text): a move."""
        ...

    def refusal_observed(self) -> None:
        """Count a documented refusal that names a run's status as an observation of it."""
        ...

    def is_settled(self, lifecycle: str, oid: str) -> bool:
        """Whether a step or message is known to have settled."""
        ...


class Part(Protocol):
    """A lifecycle's part: each method says whether it took the item (False: not its own)."""

    def exchange(self, ex: Exchange) -> bool:
        """Judge an HTTP exchange (the client's action, the server's reply) and have its body
        observed."""
        ...

    def stream_event(self, ev: StreamEvent) -> bool:
        """Judge a server-sent event's place in its stream (its data is observed by the
        checker)."""
        ...

    def finish(self) -> None:
        """End of input: judge what only the end shows."""
        ...


PartFactory = Callable[[Host], Part]
"""Makes a lifecycle's part for one checker."""

_REGISTRY: dict[str, PartFactory] = {}


def register_part(lifecycle: str, factory: PartFactory) -> None:
    """Register the part of `lifecycle` (a `runmodel.LIFECYCLES` name) for checkers made from
    now on; a part registered again is replaced in its place."""
    _REGISTRY[lifecycle] = factory


def unregister_part(lifecycle: str) -> None:
    """Remove the part of `lifecycle` (checkers made later go without it)."""
    _REGISTRY.pop(lifecycle, None)


def registered_parts() -> tuple[tuple[str, PartFactory], ...]:
    """(lifecycle, factory) of every registered part, latest registered first."""
    return tuple(reversed(_REGISTRY.items()))
