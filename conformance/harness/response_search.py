"""The search for background-responses clients: Hypothesis draws lifecycles from the model
(`conformance.response_strategies`), each is played and judged, and every failing property is
searched for and shrunk on its own; plus the one-lifecycle replay."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from runmodel import RunmodelError, Strictness

from ..emulator.clock import virtual_time_session
from ..response_strategies import ResponseScenario, parse_response_scenario, response_scenarios
from .options import HANG_AFTER
from .response_contracts import RESPONSE_PROPERTIES
from .response_results import (
    ResponseCheckFailed,
    ResponseContract,
    ResponseCounterexample,
    ResponseOptions,
    ResponseSummary,
)
from .response_runner import play_response_lifecycle
from .results import CannotCheck, CheckInterrupted, Progress

__all__ = ["check_response_client", "play_response"]

_PHASES = tuple(p for p in Phase if p is not Phase.explain)
_LEAST_EXAMPLES = 10
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
        ResponseContract(contract), level, settle_polls, poll_interval, hang_after=hang_after
    )
    with virtual_time_session():
        return play_response_lifecycle(fn, plan, options)[1]


class _Found(RunmodelError):
    def __init__(self, prop: str) -> None:
        self.prop = prop
        super().__init__(prop)


@dataclass
class _Search:
    """One check's searches: what was found per property, and what the running one witnessed."""

    fn: Callable[..., Any]
    options: ResponseOptions
    reproduce: str | None
    progress: Callable[[Progress], None] | None
    summary: ResponseSummary = field(init=False)
    found: dict[str, ResponseCounterexample] = field(default_factory=dict)
    searched: set[str] = field(default_factory=set)
    current: list[ResponseCounterexample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.summary = ResponseSummary(self.options.contract, self.options.strictness)

    @property
    def order(self) -> tuple[str, ...]:
        return RESPONSE_PROPERTIES[self.options.contract]

    def fail(self, found: list[ResponseCounterexample]) -> ResponseCheckFailed:
        found = sorted(found, key=lambda f: self.order.index(f.prop))
        how = self.reproduce if self.reproduce is not None else _reproduce(self.fn, self.options)
        lines = [how.replace("{scenario}", str(f.scenario)) for f in found]
        return ResponseCheckFailed(found, lines)

    def tell(self, phase: str) -> None:
        if self.progress is not None:
            failing = len(self.found) + bool(self.current)
            self.progress(Progress(self.summary.examples, failing, phase))

    def replay(self, plan: ResponseScenario) -> ResponseSummary:
        __tracebackhide__ = True
        try:
            paths, findings = play_response_lifecycle(self.fn, plan, self.options)
        except KeyboardInterrupt:
            raise CheckInterrupted(self.summary, None) from None  # type: ignore[arg-type]
        self.summary.add(*paths)
        self.tell("replaying")
        if findings:
            raise self.fail(findings)
        return self.summary

    def run(self, max_examples: int | None, seed: int | None) -> ResponseSummary:
        __tracebackhide__ = True
        try:
            self._searches(max_examples, seed)
        except KeyboardInterrupt:
            for f in sorted(self.current, key=_simplicity):
                self.found.setdefault(f.prop, f)
            failed = self.fail(list(self.found.values())) if self.found else None
            raise CheckInterrupted(self.summary, failed) from None  # type: ignore[arg-type]
        if self.found:
            raise self.fail(list(self.found.values()))
        return self.summary

    def _searches(self, max_examples: int | None, seed: int | None) -> None:
        opts = self.options
        strategy = response_scenarios(
            opts.strictness, opts.contract.value, cancel=opts.cancel, stay=opts.stay
        )
        budget = max_examples if max_examples is not None else settings().max_examples
        conf = settings(
            max_examples=budget,
            deadline=None,
            database=None,
            derandomize=seed is None,
            verbosity=Verbosity.quiet,
            print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            phases=_PHASES,
        )
        while len(self.searched) < len(self.order):
            limit = budget if not self.searched else max(_LEAST_EXAMPLES, budget)
            drawn = [0]
            test = settings(conf, max_examples=limit)(given(strategy)(self._one(drawn)))
            test = hypothesis_seed(_SEED if seed is None else seed)(test)
            self.current.clear()
            try:
                test()
            except _Found as last:
                same = [f for f in self.current if f.prop == last.prop]
                self.found[last.prop] = min(same, key=_simplicity)
                self.searched.add(last.prop)
                budget -= drawn[0]
                continue
            break

    def _one(self, drawn: list[int]) -> Callable[[ResponseScenario], None]:
        options = replace(self.options, ignore=frozenset(self.searched))

        def one(sc: ResponseScenario) -> None:
            paths, findings = play_response_lifecycle(self.fn, sc, options)
            self.summary.add(*paths)
            if not self.current:
                drawn[0] += 1
            fresh = [f for f in findings if f.prop not in self.searched]
            self.current.extend(fresh)
            self.tell("shrinking" if self.current else "searching")
            if fresh:
                raise _Found(fresh[0].prop)

        return one


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
