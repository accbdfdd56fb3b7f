"""The search for background-responses clients: Hypothesis draws lifecycles from the model
(`conformance.response_strategies`), each is played and judged, and every failing property is
searched for and shrunk on its own; plus the one-lifecycle replay."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from runmodel import RESPONSE, Strictness

from ..emulator.clock import virtual_time_session
from ..response_strategies import ResponseScenario, parse_response_scenario, response_scenarios
from .options import HANG_AFTER
from .property_search import PropertySearch
from .response_contracts import RESPONSE_PROPERTIES
from .response_results import (
    ResponseCheckFailed,
    ResponseContract,
    ResponseCounterexample,
    ResponseOptions,
    ResponseSummary,
)
from .response_runner import play_response_lifecycle
from .results import CannotCheck, Progress

__all__ = ["check_response_client", "play_response"]

_SEED = 20260826  # a search given no seed meets the same lifecycles every time


def check_response_client(
    fn: Callable[..., Any],
    contract: ResponseContract | str = ResponseContract.POLLER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    max_examples: int | None = None,
    seed: int | None = None,
    scenario: ResponseScenario | str | None = None,
    cancel: bool = True,
    stay: bool = True,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    reproduce: str | None = None,
    hang_after: float = HANG_AFTER,
    raises_on_failure: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> ResponseSummary:
    """Play `fn` every kind of legal background-response lifecycle of its contract; raise
    `ResponseCheckFailed` with the smallest lifecycle that breaks each failing property, or
    return what was explored.

    The contracts (`ResponseContract`): a poller ``fn(client, response_id)``, a stream consumer
    ``fn(client)``, a tool loop ``fn(client, tools)`` (sync, or async with an ``AsyncOpenAI``
    client). `scenario` replays one lifecycle instead of searching. `cancel=False` leaves out a
    third party's cancel, `stay=False` a response the server never moves again.
    `poll_interval` is the least sleep between two polls (default 1 s: the Responses API sends
    no hint). `settle_polls` is how many requests a client may make about a terminal response.
    `reproduce` overrides the "how to reproduce" line (``{scenario}`` in it is filled in).
    With `raises_on_failure` the client may raise once its response has ended unsuccessfully
    (failed, incomplete, cancelled), as many libraries do by design.
    Raises `CannotCheck` if `fn` cannot be called so, `CheckInterrupted` on Ctrl-C.
    """
    __tracebackhide__ = True
    level = Strictness(strictness)
    promise = ResponseContract(contract)
    _check_target(fn, promise)
    options = ResponseOptions(
        promise,
        level,
        settle_polls,
        poll_interval,
        cancel,
        stay,
        tuple(dict(t) for t in tools or ()),
        hang_after=hang_after,
        raises_on_failure=raises_on_failure,
    )
    search = _Search(fn, options, reproduce, progress)
    with virtual_time_session():
        if scenario is not None:
            plan = (
                scenario
                if isinstance(scenario, ResponseScenario)
                else parse_response_scenario(scenario, level)
            )
            return search.replay(plan)
        return search.run(max_examples, seed)


def play_response(
    fn: Callable[..., Any],
    scenario: ResponseScenario | str,
    contract: ResponseContract | str = ResponseContract.POLLER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    poll_interval: float | None = None,
    settle_polls: int = 10,
    hang_after: float = HANG_AFTER,
    raises_on_failure: bool = False,
) -> list[ResponseCounterexample]:
    """Play one lifecycle to `fn` and judge it: every counterexample, in order of root cause
    (none if all held)."""
    level = Strictness(strictness)
    plan = (
        scenario
        if isinstance(scenario, ResponseScenario)
        else parse_response_scenario(scenario, level)
    )
    options = ResponseOptions(
        ResponseContract(contract),
        level,
        settle_polls,
        poll_interval,
        hang_after=hang_after,
        raises_on_failure=raises_on_failure,
    )
    with virtual_time_session():
        return play_response_lifecycle(fn, plan, options)[1]


class _Search(PropertySearch[ResponseScenario, ResponseCounterexample, ResponseSummary]):
    """One check's searches of a response client (`PropertySearch` does the searching)."""

    seed = _SEED

    def __init__(
        self,
        fn: Callable[..., Any],
        options: ResponseOptions,
        reproduce: str | None,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        summary = ResponseSummary(options.contract, options.strictness, lifecycle=RESPONSE)
        super().__init__(summary, progress)
        self.fn, self.options, self.reproduce = fn, options, reproduce

    def properties(self) -> Sequence[str]:
        return RESPONSE_PROPERTIES[self.options.contract]

    def strategy(self) -> st.SearchStrategy[ResponseScenario]:
        opts = self.options
        return response_scenarios(
            opts.strictness, opts.contract.value, cancel=opts.cancel, stay=opts.stay
        )

    def play(
        self, plan: ResponseScenario, ignore: frozenset[str] | None, data: st.DataObject | None
    ) -> tuple[list[tuple[str, ...]], list[ResponseCounterexample]]:
        options = self.options if ignore is None else replace(self.options, ignore=ignore)
        return play_response_lifecycle(self.fn, plan, options)

    def simplicity(self, found: ResponseCounterexample) -> tuple[Any, ...]:
        return _simplicity(found)

    def fail(self, found: list[ResponseCounterexample]) -> ResponseCheckFailed:
        order = self.properties()
        found = sorted(found, key=lambda f: order.index(f.prop))
        how = self.reproduce if self.reproduce is not None else _reproduce(self.fn, self.options)
        lines = [how.replace("{scenario}", str(f.scenario)) for f in found]
        return ResponseCheckFailed(found, lines)


def _simplicity(found: ResponseCounterexample) -> tuple[Any, ...]:
    """Plainer first: fewer responses, fewer moves, fewer calls, no drop or cancel, shorter
    delays."""
    sc = found.scenario
    return (
        len(sc.scripts),
        sum(len(s.moves) for s in sc.scripts),
        sum(s.calls for s in sc.scripts),
        sc.cancel_at is not None,
        sc.drop_after or 0,
        sum(m.delay for s in sc.scripts for m in s.moves),
        len(str(sc)),
        str(sc),
    )


def _reproduce(fn: Callable[..., Any], options: ResponseOptions) -> str:
    name = getattr(fn, "__qualname__", "fn")
    parts = [name, repr(options.contract.value), f"strictness={options.strictness.value!r}"]
    if options.poll_interval is not None:
        parts.append(f"poll_interval={options.poll_interval:g}")
    if options.settle_polls != 10:
        parts.append(f"settle_polls={options.settle_polls}")
    if options.tools:
        parts.append("tools=...")
    if options.hang_after != HANG_AFTER:
        parts.append(f"hang_after={options.hang_after:g}")
    if options.raises_on_failure:
        parts.append("raises_on_failure=True")
    parts.append('scenario="{scenario}"')
    return f"check_response_client({', '.join(parts)})"


def _check_target(fn: Any, contract: ResponseContract) -> None:
    """A target must be callable with the contract's arguments."""
    name = getattr(fn, "__qualname__", repr(fn))
    if not callable(fn):
        raise CannotCheck(f"{name} is not callable")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    args: tuple[Any, ...] = {
        ResponseContract.POLLER: (None, "resp_id"),
        ResponseContract.STREAM: (None,),
        ResponseContract.POLLER_APP: (None,),
        ResponseContract.TOOL_LOOP: (None, []),
    }[contract]
    try:
        sig.bind(*args)
    except TypeError as exc:
        raise CannotCheck(
            f"{name}({', '.join(sig.parameters)}) cannot be called as "
            f"{name}{contract.arguments}, as the {contract.value} contract calls it ({exc})"
        ) from None
