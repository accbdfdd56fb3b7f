"""What a check of a background-responses client tells its user: the contracts, the options of
one check, the counterexamples and the summary of a passing search, and how they are rendered
(as the run's are: `Action` lines compressed the same way)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runmodel import RunmodelError, Strictness

from ..response_strategies import ResponseScenario
from .options import HANG_AFTER
from .results import Action, SearchSummary, compress, render_failures

__all__ = [
    "GIVE_UP_AFTER",
    "POLL_INTERVAL",
    "ResponseCheckFailed",
    "ResponseContract",
    "ResponseCounterexample",
    "ResponseOptions",
    "ResponseSummary",
]

POLL_INTERVAL = 1.0
"""The least sleep between two polls of a response unless told otherwise (the Responses API
sends no ``openai-poll-after-ms``)."""
GIVE_UP_AFTER = 900.0
"""Virtual seconds a client may keep polling a response the server never moves again before it
is judged endless (longer than the ten minutes a background response is kept to be polled)."""


class ResponseContract(str, enum.Enum):
    """What a background-responses client promises.

    poller: ``f(client, response_id)`` polls a background response the kit created and returns
    it terminal (as the server last had it), at the pace it is given; stops once terminal; and
    cancels the response if it gives up on it.
    stream: ``f(client)`` creates a response with ``background=True, stream=True``, resumes a
    dropped stream from the last sequence number it received, and returns the events (or the
    response), ending on a terminal one.
    tool-loop: ``f(client, tools)`` creates a background response with the tools, answers every
    round of function calls with a new background response chained by
    ``previous_response_id``, and returns the terminal response that ends the loop.
    poller-app: ``f(client)`` creates its own background response and polls it as a poller
    does (the guide's whole example).
    """

    POLLER = "poller"
    POLLER_APP = "poller-app"
    STREAM = "stream"
    TOOL_LOOP = "tool-loop"

    @property
    def arguments(self) -> str:
        """How the contract calls the client, in words."""
        return {"poller": "(client, response_id)", "tool-loop": "(client, tools)"}.get(
            self.value, "(client)"
        )


@dataclass(frozen=True, slots=True)
class ResponseOptions:
    """Everything that shapes how a lifecycle is played and judged (and reproduced)."""

    contract: ResponseContract
    strictness: Strictness
    settle_polls: int = 10
    poll_interval: float | None = None
    cancel: bool = True
    stay: bool = True
    tools: tuple[Mapping[str, Any], ...] = ()
    ignore: frozenset[str] = frozenset()
    hang_after: float = HANG_AFTER
    raises_on_failure: bool = False
    """The client may raise once its response has ended unsuccessfully (failed, incomplete,
    cancelled), as many libraries do by design."""

    @property
    def least(self) -> float:
        """The least sleep between two polls of a response."""
        return self.poll_interval if self.poll_interval is not None else POLL_INTERVAL


@dataclass(frozen=True, slots=True)
class ResponseCounterexample:
    """A lifecycle that breaks a client: which property, the responses' paths, what happened."""

    prop: str
    contract: ResponseContract
    scenario: ResponseScenario
    path: tuple[str, ...]
    message: str
    actions: tuple[Action, ...]

    def render(self, reproduce: str | None = None) -> str:
        """The report a developer reads: the path and the failure first, then the evidence."""
        lines = [
            f"{' → '.join(self.path)}: {self.message}",
            "",
            f"  contract:  {self.contract.value} (property: {self.prop})",
            f"  scenario:  {self.scenario}",
            "  the client did (virtual seconds since it began):",
            *(f"    {line}" for line in compress(self.actions)),
        ]
        if reproduce:
            lines += ["", f"  reproduce: {reproduce}"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "property": self.prop,
            "contract": self.contract.value,
            "scenario": str(self.scenario),
            "path": list(self.path),
            "message": self.message,
            "actions": compress(self.actions),
        }


class ResponseCheckFailed(RunmodelError, AssertionError):
    """Properties failed; the message is each one's smallest counterexample, rendered (in order
    of root cause); `counterexample` is the first."""

    def __init__(
        self, found: Sequence[ResponseCounterexample], reproduce: Sequence[str | None]
    ) -> None:
        self.counterexamples = tuple(found)
        self.counterexample = self.counterexamples[0]
        self.reproduce = tuple(reproduce)
        super().__init__(render_failures(self.counterexamples, self.reproduce))


ResponseSummary = SearchSummary
"""What a passing check of a response client explored (a `SearchSummary` of the response
lifecycle)."""
