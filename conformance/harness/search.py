"""The search: Hypothesis draws lifecycles from the model, each is played and judged, and every
failing property is searched for and shrunk on its own; plus the one-lifecycle replays."""

from __future__ import annotations

import functools
import inspect
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from runmodel import Strictness

from ..emulator import Emulator, Script
from ..emulator.clock import virtual_time_session
from ..sdk import MIN_SDK, quiet_assistants_deprecation, sdk_version
from ..strategies import AppScenario, Scenario, app_scenarios, scenarios
from .options import DEFAULT_ASSISTANT, HANG_AFTER, Options, as_plan, assistant_body
from .property_search import PropertySearch
from .results import (
    CannotCheck,
    ClientCheckFailed,
    Contract,
    Counterexample,
    Progress,
    SearchSummary,
)
from .run_contracts import PROPERTIES
from .runner import ClientFn, play_lifecycle

__all__ = ["check_client", "play", "play_all"]

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


class _Search(PropertySearch[Scenario | AppScenario, Counterexample, SearchSummary]):
    """One check's searches of a run client (`PropertySearch` does the searching)."""

    seed = _SEARCH_SEED

    def __init__(
        self,
        fn: ClientFn,
        options: Options,
        cancel: bool,
        reproduce: str | None,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        super().__init__(SearchSummary(options.contract, options.strictness), progress)
        self.fn, self.options, self.cancel, self.reproduce = fn, options, cancel, reproduce

    def properties(self) -> Sequence[str]:
        return PROPERTIES

    def strategy(self) -> st.SearchStrategy[Scenario | AppScenario]:
        level = self.options.strictness
        if self.options.contract is Contract.APP:
            return app_scenarios(level, cancel=self.cancel)
        return scenarios(level, cancel=self.cancel)

    def play(
        self,
        plan: Scenario | AppScenario,
        ignore: frozenset[str] | None,
        data: st.DataObject | None,
    ) -> tuple[list[tuple[str, ...]], list[Counterexample]]:
        options = self.options if ignore is None else replace(self.options, ignore=ignore)
        return play_lifecycle(self.fn, plan, options, data)

    def simplicity(self, found: Counterexample) -> tuple[Any, ...]:
        return _simplicity(found)

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
