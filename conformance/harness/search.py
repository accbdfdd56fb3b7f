"""The search: Hypothesis draws lifecycles from the model, each is played and judged, and every
failing property is searched for and shrunk on its own; plus the one-lifecycle replays."""

from __future__ import annotations

import functools
import inspect
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from runmodel import RunmodelError, Strictness

from ..emulator import Emulator, Script
from ..emulator.clock import virtual_time_session
from ..sdk import MIN_SDK, quiet_assistants_deprecation, sdk_version
from ..strategies import AppScenario, Scenario, app_scenarios, scenarios
from .options import DEFAULT_ASSISTANT, HANG_AFTER, Options, as_plan, assistant_body
from .results import (
    CannotCheck,
    CheckInterrupted,
    ClientCheckFailed,
    Contract,
    Counterexample,
    Progress,
    SearchSummary,
)
from .run_contracts import PROPERTIES
from .runner import ClientFn, play_lifecycle
from .watchdog import BLOCKED

__all__ = ["check_client", "play", "play_all"]

# Hypothesis's explain phase traces every line of the client (sys.settrace) to say which lines a
# failure ran: several times slower, and the kit's report says what the client did already.
_PHASES = tuple(p for p in Phase if p is not Phase.explain)
_LEAST_EXAMPLES = 10  # lifecycles a search after a finding draws, however little budget is left
_SEARCH_SEED = int(
    "13509542816430517318145784628961975931024014027386551334712100391428469159790492472246749549"
    "045422998270404713365224"
)
"""The seed of a search given none (derandomized): the one earlier versions derived from their
search function's source, fixed here so that a client meets the same lifecycles however the
kit's code is laid out."""


def check_client(
    fn: ClientFn,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    max_examples: int | None = None,
    seed: int | None = None,
    scenario: Scenario | AppScenario | Script | str | None = None,
    cancel: bool = True,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
    raises_on_failure: bool = False,
    assistant: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    reproduce: str | None = None,
    hang_after: float = HANG_AFTER,
    progress: Callable[[Progress], None] | None = None,
) -> SearchSummary:
    """Play `fn` every kind of legal lifecycle; raise `ClientCheckFailed` with the smallest
    lifecycle that breaks each failing property, or return what was explored.

    `fn(client, thread_id, run_id)` (sync, or async with an ``AsyncOpenAI`` client) waits on or
    drives the run; under the app contract `fn(client, thread_id, assistant_id)` creates its own
    runs (sync, async or streamed), each of which follows a drawn lifecycle. `scenario` replays
    one lifecycle instead of searching. `cancel=False` leaves out cancels by another party.
    `settle_polls` is how many requests a client may make about the run after it settled;
    `poll_interval` is the least sleep between two polls (default: the server's
    ``openai-poll-after-ms`` hint, 1 s). With `raises_on_failure` the client may raise once its
    run has ended unsuccessfully (many libraries do by design). `assistant` is the create body of
    the assistant the client is given (default: an order-total assistant with one function
    tool), `tools` replaces its tools; each round's calls name those tools, with arguments drawn
    from their JSON Schemas. With `future_status` (opt-in), one poll while the run is in
    progress answers with a status the model does not know yet (a future API may add one),
    through a client that validates as loosely as the SDK's default: the client must keep
    going. `reproduce` overrides the "how to reproduce" line; ``{scenario}`` in it is filled in
    (``"{scenario}"`` as one shell word, however the scenario's calls are written).
    Every failing property is searched for and shrunk on its own, so one finding (slow polling)
    never hides another (a wrong submit).
    A lifecycle that takes more than `hang_after` real seconds stops the client and the search
    (`ClientBlocked`). `progress` is called after each lifecycle. Raises `CannotCheck` before
    anything runs if `fn` cannot be called as a client, and `CheckInterrupted` on Ctrl-C with what
    was found so far.
    """
    __tracebackhide__ = True  # pytest shows the client's test, not the kit's frames
    level = Strictness(strictness)
    promise = Contract(contract)
    _check_target(fn, promise)
    options = Options(
        promise,
        level,
        settle_polls,
        poll_interval,
        future_status,
        raises_on_failure=raises_on_failure,
        assistant=assistant_body(assistant, tools),
        hang_after=hang_after,
    )
    search = _Search(fn, options, cancel, reproduce, progress)
    with quiet_assistants_deprecation(), virtual_time_session():
        if scenario is not None:
            return search.replay(as_plan(scenario, level, promise))
        return search.run(max_examples, seed)


class _Found(RunmodelError):
    """A search's failing example: which property failed (the counterexample is kept aside)."""

    def __init__(self, prop: str) -> None:
        self.prop = prop
        super().__init__(prop)


class _StopSearch(BaseException):
    """Ends a search at once (Hypothesis lets a BaseException through)."""

    def __init__(self, found: Counterexample) -> None:
        super().__init__(found.message)
        self.found = found


@dataclass
class _Search:
    """One check's searches: what was found per property, and what the running one witnessed."""

    fn: ClientFn
    options: Options
    cancel: bool
    reproduce: str | None
    progress: Callable[[Progress], None] | None
    summary: SearchSummary = field(init=False)
    found: dict[str, Counterexample] = field(default_factory=dict)
    searched: set[str] = field(default_factory=set)
    current: list[Counterexample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.summary = SearchSummary(self.options.contract, self.options.strictness)

    def fail(self, found: list[Counterexample]) -> ClientCheckFailed:
        found = sorted(found, key=lambda f: PROPERTIES.index(f.prop))
        lines = []
        for f in found:
            how = (
                _reproduce(self.fn, self.options, f.scenario, self.cancel)
                if self.reproduce is None
                else self.reproduce
            )
            text = str(f.scenario)
            lines.append(how.replace('"{scenario}"', _quoted(text)).replace("{scenario}", text))
        return ClientCheckFailed(found, lines)

    def tell(self, phase: str) -> None:
        if self.progress is not None:
            failing = len(self.found) + bool(self.current)
            phase = "shrinking" if self.current else phase
            self.progress(Progress(self.summary.examples, failing, phase))

    def replay(self, plan: Scenario | AppScenario) -> SearchSummary:
        """Play one lifecycle; raise its findings."""
        __tracebackhide__ = True
        try:
            paths, findings = play_lifecycle(self.fn, plan, self.options)
            self.summary.add(*paths)
            self.current.extend(findings)
            self.tell("replaying")
        except KeyboardInterrupt:
            raise self.interrupted() from None
        if findings:
            raise self.fail(findings)
        return self.summary

    def interrupted(self) -> CheckInterrupted:
        for f in sorted(self.current, key=_simplicity):
            self.found.setdefault(f.prop, f)
        found = self.fail(list(self.found.values())) if self.found else None
        return CheckInterrupted(self.summary, found)

    def run(self, max_examples: int | None, seed: int | None) -> SearchSummary:
        """Search until every property either held or has its plainest counterexample."""
        __tracebackhide__ = True
        try:
            self._searches(max_examples, seed)
        except _StopSearch as stop:
            self.found[stop.found.prop] = stop.found
            raise self.fail(list(self.found.values())) from None
        except KeyboardInterrupt:
            raise self.interrupted() from None
        if self.found:
            raise self.fail(list(self.found.values()))
        return self.summary

    def _searches(self, max_examples: int | None, seed: int | None) -> None:
        # one search per failing property: each search passes over the properties already found
        # (the client is not stopped for them), so the next one is found and shrunk too; the
        # lifecycles drawn before a failure count against one budget of examples (each later
        # search still draws a few), so a client with one bug costs about what a correct one
        # does, plus shrinking
        promise, level = self.options.contract, self.options.strictness
        strategy: st.SearchStrategy[Scenario] | st.SearchStrategy[AppScenario] = (
            app_scenarios(level, cancel=self.cancel)
            if promise is Contract.APP
            else scenarios(level, cancel=self.cancel)
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
        while len(self.searched) < len(PROPERTIES):
            limit = budget if not self.searched else max(_LEAST_EXAMPLES, budget)
            drawn = [0]
            test = settings(conf, max_examples=limit)(given(strategy, st.data())(self._one(drawn)))
            test = hypothesis_seed(_SEARCH_SEED if seed is None else seed)(test)
            self.current.clear()
            try:
                test()
            except _Found as last:
                # Hypothesis shrinks by its own order; report the simplest failure of the same
                # property the search witnessed, so the lifecycle a reader sees is the plainest.
                same = [f for f in self.current if f.prop == last.prop]
                self.found[last.prop] = min(same, key=_simplicity)
                self.searched.add(last.prop)
                budget -= drawn[0]
                continue
            break

    def _one(self, drawn: list[int]) -> Callable[[Scenario | AppScenario, st.DataObject], None]:
        """The test of one search: play a drawn lifecycle, stop at a fresh failure."""
        options = replace(self.options, ignore=frozenset(self.searched))

        def one(sc: Scenario | AppScenario, data: st.DataObject) -> None:
            paths, findings = play_lifecycle(self.fn, sc, options, data)
            self.summary.add(*paths)
            if not self.current:
                drawn[0] += 1
            fresh = [f for f in findings if f.prop not in self.searched]
            self.current.extend(fresh)
            self.tell("searching")
            for f in fresh:
                if f.prop == "terminates" and f.message.startswith(BLOCKED):
                    raise _StopSearch(f)  # every replay would take `hang_after` again
            if fresh:
                raise _Found(fresh[0].prop)

        return one


def _quoted(text: str) -> str:
    """`text` as one shell word: in double quotes where that is safe, else as shlex quotes it."""
    return f'"{text}"' if not any(c in text for c in '"$`\\!') else shlex.quote(text)


@functools.cache
def _warm_sdk() -> None:
    """Make the SDK import and build what it builds lazily on first use (its resources, the
    pydantic models of a run), once per process: that first-use cost, a second or more on a busy
    machine, must not count against a client's `hang_after`."""
    emu = Emulator(seed=0)
    thread_id, run_id = emu.start_run("start+1, complete+1")
    with quiet_assistants_deprecation():
        emu.client().beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        emu.async_client()


def _check_target(fn: Any, contract: Contract) -> None:
    """A target must take the contract's arguments, and the installed SDK must be one the kit
    drives; otherwise the check is unusable, which is not a finding about the client."""
    version = sdk_version()
    if version < MIN_SDK:
        raise CannotCheck(
            f"openai {'.'.join(map(str, version))} is installed; the kit drives the v2 "
            f"Assistants API of openai {'.'.join(map(str, MIN_SDK))} and later "
            "(pip install 'openai>=1.21')"
        )
    name = getattr(fn, "__qualname__", repr(fn))
    if not callable(fn):
        raise CannotCheck(f"{name} is not callable")
    _warm_sdk()
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check beforehand
    third = "assistant_id" if contract is Contract.APP else "run_id"
    try:
        sig.bind(None, "thread_id", third)
    except TypeError as exc:
        raise CannotCheck(
            f"{name}({', '.join(map(str, sig.replace(return_annotation=sig.empty).parameters))}) "
            f"cannot be called as {name}(client, thread_id, {third}), "
            f"as the {contract.value} contract calls it ({exc})"
        ) from None


def play(
    fn: ClientFn,
    scenario: Scenario | AppScenario | Script | str,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
    raises_on_failure: bool = False,
    assistant: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    hang_after: float = HANG_AFTER,
) -> Counterexample | None:
    """Play one lifecycle to `fn` and judge it: the first counterexample (in order of root
    cause), or None if all held."""
    found = play_all(
        fn,
        scenario,
        contract,
        strictness=strictness,
        settle_polls=settle_polls,
        poll_interval=poll_interval,
        future_status=future_status,
        raises_on_failure=raises_on_failure,
        assistant=assistant,
        tools=tools,
        hang_after=hang_after,
    )
    return found[0] if found else None


def play_all(
    fn: ClientFn,
    scenario: Scenario | AppScenario | Script | str,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
    raises_on_failure: bool = False,
    assistant: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    hang_after: float = HANG_AFTER,
) -> list[Counterexample]:
    """Play one lifecycle to `fn` and judge it: a counterexample for every property that
    failed, in order of root cause."""
    level = Strictness(strictness)
    promise = Contract(contract)
    _check_target(fn, promise)
    options = Options(
        promise,
        level,
        settle_polls,
        poll_interval,
        future_status,
        raises_on_failure=raises_on_failure,
        assistant=assistant_body(assistant, tools),
        hang_after=hang_after,
    )
    with quiet_assistants_deprecation():
        return play_lifecycle(fn, as_plan(scenario, level, promise), options)[1]


def _simplicity(found: Counterexample) -> tuple[Any, ...]:
    """Plainer first: fewer runs, fewer moves, fewer rounds, no other party, shorter delays."""
    sc = found.scenario
    runs = sc.runs if isinstance(sc, AppScenario) else (sc,)
    return (
        len(runs),
        sum(len(r.script.moves) for r in runs),
        sum(r.script.rounds for r in runs),
        sum(r.cancel_at is not None for r in runs),
        sum(m.delay for r in runs for m in r.script.moves),
        len(str(sc)),
        str(sc),
    )


def _reproduce(
    fn: ClientFn, options: Options, scenario: Scenario | AppScenario, cancel: bool
) -> str:
    """The call that plays this counterexample again, with every option that shaped it."""
    name = getattr(fn, "__qualname__", "fn")
    parts = [name, repr(options.contract.value), f"strictness={options.strictness.value!r}"]
    if options.poll_interval is not None:
        parts.append(f"poll_interval={options.poll_interval:g}")
    if options.settle_polls != 10:
        parts.append(f"settle_polls={options.settle_polls}")
    if options.raises_on_failure:
        parts.append("raises_on_failure=True")
    if options.future_status:
        parts.append("future_status=True")
    if not cancel:
        parts.append("cancel=False")
    if options.assistant != DEFAULT_ASSISTANT:
        parts.append("assistant=..., tools=...")
    if options.hang_after != HANG_AFTER:
        parts.append(f"hang_after={options.hang_after:g}")
    parts.append(f"scenario={str(scenario)!r}")
    return f"check_client({', '.join(parts)})"
