"""Property-test client code against the model: play it every legal lifecycle, report the smallest
that breaks each property.

`check_client(fn, contract=...)` is the one call a user's test makes. Hypothesis draws scenarios
from the model (`conformance.strategies`), the emulator plays each one to ``fn(client, thread_id,
run_id)`` (or, for an app that creates its own runs, ``fn(client, thread_id, assistant_id)``)
through the real ``openai`` SDK on a virtual clock, and the contract's properties are judged from
what the client did (every request and sleep) and what the server's runs did.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import inspect
import itertools
import shlex
import signal
import sys
import sysconfig
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from runmodel import RUN, Actor, Strictness

from .._sdk import MIN_SDK, quiet_assistants_deprecation, sdk_version
from ..emulator import Emulator, Move, Script, ScriptError, parse_script
from ..emulator.api import Reply, Request
from ..emulator.clock import ClientInterrupted, Sleep, virtual_time_session
from ..errors import parse_error
from ..strategies import AppScenario, Scenario, app_scenarios, scenarios
from ..tools import arguments, function_tools, plainest

__all__ = [
    "DEFAULT_ASSISTANT",
    "FUTURE_STATUS",
    "PROPERTIES",
    "Action",
    "CannotCheck",
    "CheckInterrupted",
    "ClientBlocked",
    "ClientCheckFailed",
    "ClientHung",
    "Contract",
    "Counterexample",
    "PolledTooFast",
    "Progress",
    "Summary",
    "check_client",
    "play",
    "play_all",
]

_WAITING = RUN.waiting
_HEADERS = {"openai-beta": "assistants=v2"}
_TIME_BUDGET = 4 * 3600.0  # virtual seconds after which a client is stopped (a runaway)
HANG_AFTER = 10.0
"""Real seconds one lifecycle may take before the client is stopped as blocked (a wait that
nothing virtual can end: an Event with no timeout, a lock, a socket; or a loop that never polls)."""
# Hypothesis's explain phase traces every line of the client (sys.settrace) to say which lines a
# failure ran: several times slower, and the kit's report says what the client did already.
_PHASES = tuple(p for p in Phase if p is not Phase.explain)
FUTURE_STATUS = "a_future_status"
"""What `future_status` checks serve once in place of in_progress: a status no model knows."""


class Contract(str, enum.Enum):
    """What a client promises.

    waiter: returns a settled run (terminal or requires_action) whose status is the server's.
    driver: answers every tool call of every round (all ids, one request per round), never
    submits or cancels illegally, and returns only when the run is terminal.
    app: creates its own runs on the thread and assistant it is given; drives each as a driver
    does, leaves none active, and starts a new run only once the last one was cancelled or ended.
    """

    WAITER = "waiter"
    DRIVER = "driver"
    APP = "app"

    @property
    def done(self) -> frozenset[str]:
        """Statuses after which the client should stop asking."""
        return RUN.settled if self is Contract.WAITER else RUN.terminal


class ClientHung(ClientInterrupted):
    """Raised into a client that keeps asking after the run settled; ``except Exception`` cannot
    swallow it."""


class PolledTooFast(ClientInterrupted):
    """Raised into a client that polls again sooner than the server asked."""


class ClientBlocked(ClientInterrupted):
    """Raised into a client still running after `HANG_AFTER` real seconds; `where` says where it
    was (its own file and line)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


class CannotCheck(Exception):
    """The check cannot start: a target with the wrong signature, or an openai SDK the kit cannot
    drive. A usage error, not a finding about the client."""


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: what was explored, and the plainest counterexample found so far."""

    def __init__(self, summary: Summary, found: ClientCheckFailed | None) -> None:
        super().__init__()
        self.summary = summary
        self.found = found


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a search is, after each lifecycle: for a progress line on a terminal."""

    lifecycles: int
    failures: int
    phase: str  # "searching", "shrinking" (a failure was found) or "replaying"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the client did: a request (with the run status it saw) or a sleep."""

    at: float  # virtual seconds since the run was created
    what: str  # "GET /threads/{thread}/runs/{run}", "sleep"
    status: int | None = None  # HTTP status (None for sleeps and dropped connections)
    seen: str | None = None  # the run status in the reply, where there was one
    seconds: float = 0.0  # for sleeps

    def key(self) -> tuple[str, int | None, str | None]:
        return (self.what, self.status, self.seen)


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A lifecycle that breaks a client: which property, the run's path, and what happened."""

    prop: str
    contract: Contract
    scenario: Scenario | AppScenario
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
            f"  the client did (virtual seconds since {self._since}):",
            *(f"    {line}" for line in _compress(self.actions)),
        ]
        if reproduce:
            lines += ["", f"  reproduce: {reproduce}"]
        return "\n".join(lines)

    @property
    def _since(self) -> str:
        return "it began" if self.contract is Contract.APP else "the run was created"

    def as_dict(self) -> dict[str, Any]:
        return {
            "property": self.prop,
            "contract": self.contract.value,
            "scenario": str(self.scenario),
            "path": list(self.path),
            "message": self.message,
            "actions": [_compress_line(group) for group in _groups(self.actions)],
        }


class ClientCheckFailed(AssertionError):
    """Properties failed; the message is each one's minimal counterexample, rendered.

    `counterexamples` lists them in order of root cause; `counterexample` is the first.
    """

    def __init__(
        self,
        found: Counterexample | Sequence[Counterexample],
        reproduce: str | Sequence[str | None] | None = None,
    ) -> None:
        self.counterexamples = (found,) if isinstance(found, Counterexample) else tuple(found)
        self.counterexample = self.counterexamples[0]
        how = (
            [reproduce] * len(self.counterexamples)
            if reproduce is None or isinstance(reproduce, str)
            else list(reproduce)
        )
        texts = [c.render(r) for c, r in zip(self.counterexamples, how, strict=False)]
        if len(texts) > 1:
            props = ", ".join(c.prop for c in self.counterexamples)
            texts = [
                f"{len(texts)} properties failed ({props}), each with its smallest lifecycle:",
                *(f"\n[{i}] {t}" for i, t in enumerate(texts, 1)),
            ]
        super().__init__("\n".join(texts))


@dataclass(slots=True)
class Summary:
    """What a passing check explored: examples, statuses and edges reached."""

    contract: Contract
    strictness: Strictness
    examples: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, *paths: tuple[str, ...]) -> None:
        """One lifecycle played: the paths of the runs it covered."""
        self.examples += 1
        for path in paths:
            self.statuses.update(path)
            self.edges.update(itertools.pairwise(path))

    def render(self) -> str:
        model = RUN.edges(self.strictness)
        covered = [e for e in model if (e.source, e.dest) in self.edges]
        missing = [f"{e.source} → {e.dest}" for e in model if (e.source, e.dest) not in self.edges]
        lines = [
            f"every property of the {self.contract.value} contract held in {self.examples} "
            f"lifecycle{'' if self.examples == 1 else 's'} ({self.strictness.value})",
            f"  statuses reached: {len(self.statuses)} of {len(RUN.statuses)}",
            f"  edges exercised:  {len(covered)} of {len(model)}",
        ]
        if missing:
            lines.append(f"  not reached: {', '.join(missing)}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract.value,
            "strictness": self.strictness.value,
            "examples": self.examples,
            "statuses": dict(sorted(self.statuses.items())),
            "edges": {f"{a} → {b}": n for (a, b), n in sorted(self.edges.items())},
        }


ClientFn = Callable[..., Any]

PROPERTIES: tuple[str, ...] = (
    "legal_actions",
    "owns_what_it_deletes",
    "sleeps_between_polls",
    "terminates",
    "forward_compatible",
    "answers_every_round",
    "leaves_no_active_run",
    "returns",
)
"""Every property a contract checks, in order of root cause (a report lists them so)."""


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
) -> Summary:
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
    summary = Summary(promise, level)
    body = _assistant(assistant, tools)
    options = _Options(
        promise,
        level,
        settle_polls,
        poll_interval,
        future_status,
        raises_on_failure=raises_on_failure,
        assistant=body,
        hang_after=hang_after,
    )

    def fail(found: list[Counterexample]) -> ClientCheckFailed:
        found = sorted(found, key=lambda f: PROPERTIES.index(f.prop))
        lines = []
        for f in found:
            how = _reproduce(fn, options, f.scenario, cancel) if reproduce is None else reproduce
            text = str(f.scenario)
            lines.append(how.replace('"{scenario}"', _quoted(text)).replace("{scenario}", text))
        return ClientCheckFailed(found, lines)

    found: dict[str, Counterexample] = {}
    searched: set[str] = set()
    current: list[Counterexample] = []  # what the running search witnessed

    def tell(phase: str) -> None:
        if progress is not None:
            failing = len(found) + bool(current)
            progress(Progress(summary.examples, failing, "shrinking" if current else phase))

    def stop_if_blocked(findings: list[Counterexample]) -> None:
        for f in findings:
            if f.prop == "terminates" and f.message.startswith(_BLOCKED):
                raise _StopSearch(f)  # every replay would take `hang_after` again

    with quiet_assistants_deprecation(), virtual_time_session():
        try:
            if scenario is not None:
                sc = _as_plan(scenario, level, promise)
                paths, findings = _play(fn, sc, options)
                summary.add(*paths)
                current.extend(findings)
                tell("replaying")
                if findings:
                    raise fail(findings)
                return summary

            strategy: st.SearchStrategy[Scenario] | st.SearchStrategy[AppScenario] = (
                app_scenarios(level, cancel=cancel)
                if promise is Contract.APP
                else scenarios(level, cancel=cancel)
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
            # one search per failing property: each search passes over the properties already
            # found (the client is not stopped for them), so the next one is found and shrunk
            # too; the lifecycles drawn before a failure count against one budget of examples
            # (each later search still draws a few), so a client with one bug costs about what
            # a correct one does, plus shrinking
            while len(searched) < len(PROPERTIES):
                run_options = replace(options, ignore=frozenset(searched))
                current.clear()
                drawn = [0]

                def one(sc: Scenario | AppScenario, data: st.DataObject) -> None:
                    paths, findings = _play(fn, sc, run_options, data)  # noqa: B023
                    summary.add(*paths)
                    if not current:
                        drawn[0] += 1  # noqa: B023
                    fresh = [f for f in findings if f.prop not in searched]
                    current.extend(fresh)
                    tell("searching")
                    stop_if_blocked(fresh)
                    if fresh:
                        raise _Found(fresh[0].prop)

                limit = budget if not searched else max(_LEAST_EXAMPLES, budget)
                test = settings(conf, max_examples=limit)(given(strategy, st.data())(one))
                if seed is not None:
                    test = hypothesis_seed(seed)(test)
                try:
                    test()
                except _Found as last:
                    # Hypothesis shrinks by its own order; report the simplest failure of the
                    # same property the search witnessed, so the lifecycle a reader sees is
                    # the plainest.
                    same = [f for f in current if f.prop == last.prop]
                    found[last.prop] = min(same, key=_simplicity)
                    searched.add(last.prop)
                    budget -= drawn[0]
                    continue
                break
        except _StopSearch as stop:
            found[stop.found.prop] = stop.found
            raise fail(list(found.values())) from None
        except KeyboardInterrupt:
            for f in sorted(current, key=_simplicity):
                found.setdefault(f.prop, f)
            raise CheckInterrupted(summary, fail(list(found.values())) if found else None) from None
    if found:
        raise fail(list(found.values()))
    return summary


_LEAST_EXAMPLES = 10  # lifecycles a search after a finding draws, however little budget is left


def _quoted(text: str) -> str:
    """`text` as one shell word: in double quotes where that is safe, else as shlex quotes it."""
    return f'"{text}"' if not any(c in text for c in '"$`\\!') else shlex.quote(text)


class _Found(Exception):
    """A search's failing example: which property failed (the counterexample is kept aside)."""

    def __init__(self, prop: str) -> None:
        self.prop = prop
        super().__init__(prop)


class _StopSearch(BaseException):
    """Ends a search at once (Hypothesis lets a BaseException through)."""

    def __init__(self, found: Counterexample) -> None:
        super().__init__(found.message)
        self.found = found


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
    options = _Options(
        promise,
        level,
        settle_polls,
        poll_interval,
        future_status,
        raises_on_failure=raises_on_failure,
        assistant=_assistant(assistant, tools),
        hang_after=hang_after,
    )
    with quiet_assistants_deprecation():
        return _play(fn, _as_plan(scenario, level, promise), options)[1]


# -- playing one lifecycle --------------------------------------------------------------------


def _assistant(
    assistant: Mapping[str, Any] | None, tools: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """The create body of the assistant a client is given."""
    body = dict(assistant if assistant is not None else DEFAULT_ASSISTANT)
    body.setdefault("model", DEFAULT_ASSISTANT["model"])
    if tools is not None:
        body["tools"] = [dict(t) for t in tools]
    return body


DEFAULT_ASSISTANT: Mapping[str, Any] = {
    "name": "Order assistant",
    "instructions": "Helps customers work out the total price of their shopping cart.",
    "model": "gpt-4o",
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "calculate_order_total",
                "description": "Compute an order's total from item types and quantities",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "item_type": {
                                        "type": "string",
                                        "description": "the kind of item, e.g. book, pen",
                                    },
                                    "quantity": {"type": "integer", "minimum": 1},
                                },
                                "required": ["item_type", "quantity"],
                            },
                        }
                    },
                    "required": ["items"],
                },
            },
        }
    ],
}
"""The assistant a client is given unless told otherwise: one function tool."""

_MESSAGE = "I bought a book and a laptop. What is my order total?"
_SUCCESS = next(e.dest for e in RUN.all_edges if e.trigger == "complete")
_UNSUCCESSFUL = RUN.terminal - {_SUCCESS}  # where a client may raise, if its library says so


@dataclass(frozen=True, slots=True)
class _Options:
    contract: Contract
    strictness: Strictness
    settle_polls: int
    poll_interval: float | None
    future_status: bool = False
    raises_on_failure: bool = False
    assistant: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_ASSISTANT)
    ignore: frozenset[str] = frozenset()
    hang_after: float = HANG_AFTER


def _as_scenario(value: Scenario | Script | str, level: Strictness) -> Scenario:
    if isinstance(value, Scenario):
        return value
    if isinstance(value, Script):
        return Scenario(value)
    text, _, calls_text = value.partition("; calls=")
    text, _, cancel = text.partition("; cancel_at=")
    calls: tuple[tuple[str, Any], ...] = ()
    if calls_text:
        try:
            data = orjson.loads(calls_text)
            calls = tuple((str(name), args) for name, args in data)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            raise ScriptError(
                f"calls: expected a JSON list of [name, arguments] pairs, not {calls_text!r}"
            ) from None
    try:
        cancel_at = float(cancel) if cancel else None
    except ValueError:
        raise ScriptError(f"cancel_at: expected a number of seconds, not {cancel!r}") from None
    return Scenario(parse_script(text, strictness=level), cancel_at, calls)


def _as_plan(
    value: Scenario | AppScenario | Script | str, level: Strictness, contract: Contract
) -> Scenario | AppScenario:
    """The scenario to play: one run's, or (app contract) the runs' separated by `` | ``."""
    if contract is not Contract.APP:
        if isinstance(value, AppScenario):
            raise ScriptError(f"the {contract.value} contract plays one run, not several")
        return _as_scenario(value, level)
    if isinstance(value, AppScenario):
        return value
    if isinstance(value, str):
        return AppScenario(tuple(_as_scenario(part, level) for part in value.split("|")))
    return AppScenario((_as_scenario(value, level),))


_PLAIN = Scenario(Script((Move("start", 1.0), Move("complete", 1.0))))
"""What a created run past the drawn ones does: it completes."""


@dataclass(slots=True)
class _Tracked:
    """A run the contract covers: where it came from, what it plays, how the client treats it."""

    run_id: str
    thread_id: str
    created: float
    scenario: Scenario
    label: str = "{run}"
    cancelled: bool = False  # the other party's cancel has been played
    settled_status: str | None = None
    after_settled: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)


class _Watch:
    """Follows a client's requests while it runs: plays the other party's cancels, stops hangs,
    and notes the runs it creates and what it owns."""

    def __init__(self, emu: Emulator, options: _Options, plan: Scenario | AppScenario) -> None:
        self.emu = emu
        self.options = options
        self.plan = plan.runs if isinstance(plan, AppScenario) else (plan,)
        self.runs: dict[str, _Tracked] = {}
        self.thread_id = self.assistant_id = ""
        self.start = emu.clock.now()
        self.external: set[int] = set()
        self.owned: set[str] = set()  # threads and assistants the client created
        self.busy = False
        self.previous: Request | None = None
        self.sleep_mark = 0
        self.too_fast: str | None = None
        self.hung_run: _Tracked | None = None
        self.stop: ClientInterrupted | None = None  # raised into the client; raised again below
        hint = (emu.poll_after_ms or 1000) / 1000
        self.least = options.poll_interval if options.poll_interval is not None else hint

    @property
    def app(self) -> bool:
        return self.options.contract is Contract.APP

    def track(self, run_id: str, thread_id: str, created: float) -> _Tracked:
        index = len(self.runs)
        scenario = self.plan[index] if index < len(self.plan) else _PLAIN
        label = f"{{run{index + 1}}}" if self.app else "{run}"
        tracked = _Tracked(run_id, thread_id, created, scenario, label)
        self.runs[run_id] = tracked
        return tracked

    def choose(self, thread: Mapping[str, Any], run: Mapping[str, Any]) -> Script:
        """The script of a run the client creates: the plan's next one."""
        index = len(self.runs)
        return (self.plan[index] if index < len(self.plan) else _PLAIN).script

    def on_request(self, rec: Request) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            self._note(rec)
            self._pace(rec)
            for tracked in list(self.runs.values()):
                self._other_party(tracked, rec.at)
            self._hang(rec)
        finally:
            self.busy = False

    def _note(self, rec: Request) -> None:
        """A run, thread or assistant the client created."""
        if rec.method != "POST" or rec.status != 200:
            return
        parts = _segments(rec.path)
        body = _json(rec.response) if rec.response is not None else None
        if parts in (["assistants"], ["threads"]) and isinstance(body, dict):
            self.owned.add(str(body.get("id")))
        created_run = parts == ["threads", "runs"] or (
            len(parts) == 3 and parts[0] == "threads" and parts[2] == "runs"
        )
        if created_run and rec.run_id is not None and rec.run_id in self.emu.store.runs:
            thread_id = self.emu.store.runs[rec.run_id].obj["thread_id"]
            if parts == ["threads", "runs"]:
                self.owned.add(thread_id)
            if self.app and rec.run_id not in self.runs:
                self.track(rec.run_id, thread_id, rec.at)

    def _is_poll(self, rec: Request) -> str | None:
        """The tracked run a request polls (GET of the run), if any."""
        if rec.method != "GET" or rec.run_id not in self.runs:
            return None
        return rec.run_id if rec.path.endswith(f"/runs/{rec.run_id}") else None

    def _pace(self, rec: Request) -> None:
        """Two polls of a run in a row need the hint's sleep between them (a poll right after
        another action, e.g. a submit, needs none); a client that polls faster is stopped at
        once, or, once that is a known finding, made to wait (so that the search goes on to find
        what else is wrong)."""
        sleeps = self.emu.clock.sleeps
        slept = sum(s.seconds for s in sleeps[self.sleep_mark :])
        self.sleep_mark = len(sleeps)
        previous, self.previous = self.previous, rec
        polled = self._is_poll(rec)
        if previous is None or polled is None or self._is_poll(previous) != polled:
            return
        if slept + 1e-9 < self.least:
            how = "without sleeping" if slept == 0 else f"after sleeping only {slept:g} s"
            asked = "the interval it was given" if self.options.poll_interval else "the server"
            source = "poll_interval" if self.options.poll_interval else "openai-poll-after-ms"
            message = (
                f"the client polled the run again {how}; {asked} asked for {self.least:g} s "
                f"({source})"
            )
            if "sleeps_between_polls" not in self.options.ignore:
                raise self._stopping(PolledTooFast(message))
            self.too_fast = self.too_fast or message

    def before_request(self, method: str, path: str) -> None:
        """Once polling too fast is a known finding, a poll that comes too soon is made to wait
        first, as long as it should have or until its run next changes, so that the search goes
        on to find what else is wrong (at the pace of a patient client)."""
        if "sleeps_between_polls" not in self.options.ignore or method != "GET":
            return
        previous = self.previous
        polled = _segments(path)[-1]
        if previous is None or polled not in self.runs or self._is_poll(previous) != polled:
            return
        if not path.endswith(f"/runs/{polled}"):
            return
        clock = self.emu.clock
        slept = sum(s.seconds for s in clock.sleeps[self.sleep_mark :])
        if slept + 1e-9 >= self.least:
            return
        target = clock.now() + self.least - slept
        with self.emu.lock:
            run = self.emu.store.runs[polled]
            waiting = run.status in RUN.waiting
            wake = None if waiting else self.emu.store.next_wake(run)
        tracked = self.runs[polled]
        if tracked.scenario.cancel_at is not None and not tracked.cancelled:
            due = tracked.created + tracked.scenario.cancel_at
            wake = due if wake is None else min(wake, due)
        clock.advance_to(max(target, wake or 0.0))

    def _other_party(self, tracked: _Tracked, now: float) -> None:
        cancel_at = tracked.scenario.cancel_at
        if cancel_at is None or tracked.cancelled or now - tracked.created < cancel_at:
            return
        if tracked.run_id not in self.emu.store.runs:  # its thread was deleted
            return
        tracked.cancelled = True
        status = self.emu.run_object(tracked.run_id)["status"]
        if any(
            e.trigger == "cancel"
            for e in RUN.triggers(status, Actor.CLIENT, self.options.strictness)
        ):
            path = f"/v1/threads/{tracked.thread_id}/runs/{tracked.run_id}/cancel"
            self.emu.handle("POST", path, "", _HEADERS, b"")
            self.external.add(self.emu.requests[-1].seq)

    def _hang(self, rec: Request) -> None:
        for tracked in self.runs.values():
            if tracked.run_id not in self.emu.store.runs:  # its thread was deleted
                continue
            status = self.emu.run_object(tracked.run_id)["status"]
            if status not in self.options.contract.done:
                continue
            if tracked.settled_status is None:
                tracked.settled_status = status
                continue
            if rec.run_id == tracked.run_id:
                tracked.after_settled += 1
            if tracked.after_settled >= self.options.settle_polls:
                self.hung_run = tracked
                raise self._stopping(
                    ClientHung(f"the client kept asking after the run became {status}")
                )

    def _stopping(self, stop: ClientInterrupted) -> ClientInterrupted:
        """Remember the stop raised into the client, so that a client which swallows it (an
        ``except BaseException``) meets it again at its next sleep, not hours of polls later."""
        self.stop = self.stop or stop
        return stop

    def on_sleep(self, _sleep: Sleep) -> None:
        """A client that sleeps after it was stopped swallowed the stop: raise it again."""
        if self.stop is not None:
            raise type(self.stop)(*self.stop.args)


@dataclass(slots=True)
class _Outcome:
    returned: Any = None
    raised: BaseException | None = None
    hung: ClientInterrupted | None = None


def _serve_future_status(emu: Emulator, runs: Callable[[], Iterable[str]]) -> None:
    """Make this emulator answer one in-progress poll of a run in `runs()` with
    `FUTURE_STATUS`."""
    handle = emu.handle
    served = False

    def handle_once(
        method: str, path: str, query: str = "", headers: Any = None, body: bytes = b""
    ) -> Reply:
        nonlocal served
        reply = handle(method, path, query, headers, body)
        if served or method != "GET" or reply.stream:
            return reply
        if not any(path.endswith(f"/runs/{run_id}") for run_id in runs()):
            return reply
        obj = _json(reply.body)
        if isinstance(obj, dict) and obj.get("status") == "in_progress":
            served = True
            reply.body = orjson.dumps({**obj, "status": FUTURE_STATUS})
            emu.requests[-1].response = reply.body  # the log shows what the client saw
        return reply

    emu.handle = handle_once  # type: ignore[method-assign]  # this emulator only


class _Caller:
    """Names each tool call of a round from the run's function tools, with arguments drawn from
    their schemas (or played again from the scenario), and keeps what it drew per run."""

    def __init__(self, watch: _Watch, data: st.DataObject | None) -> None:
        self.watch = watch
        self.data = data

    def __call__(self, run: Mapping[str, Any], n: int) -> list[tuple[str, str]]:
        tracked = self.watch.runs.get(str(run.get("id")))
        functions = function_tools(run.get("tools"))
        if tracked is None or not functions:
            return []
        by_name = {str(f["name"]): f for f in functions}
        out: list[tuple[str, str]] = []
        for _ in range(n):
            given = tracked.scenario.calls
            at = len(tracked.calls)
            if at < len(given) and given[at][0] in by_name:
                name, args = given[at]
            elif self.data is not None:
                chosen = self.data.draw(st.sampled_from(functions), label="tool")
                name = str(chosen["name"])
                args = self.data.draw(arguments(chosen.get("parameters")), label=name)
            else:
                name = str(functions[0]["name"])
                args = plainest(functions[0].get("parameters"))
            tracked.calls.append((name, args))
            out.append((name, orjson.dumps(args).decode()))
        return out


def _call(
    fn: ClientFn, emu: Emulator, watch: _Watch, first: str, future: bool, hang_after: float
) -> _Outcome:
    out = _Outcome()
    is_async = inspect.iscoroutinefunction(fn)
    if future:
        _serve_future_status(emu, lambda: watch.runs)
    strict = not future  # a future status fails strict validation; the SDK's default is loose
    client = emu.async_client(strict=strict) if is_async else emu.client(strict=strict)
    emu.clock.on_sleep = watch.on_sleep
    with quiet_assistants_deprecation(), emu.virtual_time():
        dog = _Watchdog(hang_after)
        try:
            with dog:
                try:
                    if is_async:
                        out.returned = asyncio.run(fn(client, watch.thread_id, first))
                    else:
                        out.returned = fn(client, watch.thread_id, first)
                except ClientInterrupted as exc:
                    out.hung = exc
                except (Exception, SystemExit) as exc:  # SystemExit: the client's own exit()
                    out.raised = exc
        except ClientBlocked as exc:  # the alarm rang as the client returned
            out.hung = exc
    emu.clock.on_sleep = None
    if isinstance(out.hung, _AsyncBlocked) and dog.pending is not None:
        out.hung = dog.pending
    return out


_BLOCKED = "the client was still running after"


class _Watchdog:
    """Stops a client that runs longer than `seconds` of real time, wherever it is: by SIGALRM on
    the main thread (it interrupts blocking waits too), else by an asynchronous exception
    (which reaches a client busy in Python code, not one blocked in a wait)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False
        self.target = threading.get_ident()
        self.previous: Any = None
        self.timer: threading.Timer | None = None
        self.pending: ClientBlocked | None = None
        self.signal = (
            hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )

    def blocked(self, frame: types.FrameType | None) -> ClientBlocked:
        where = _blocked_where(frame)
        at = f", at {where}" if where else ""
        return ClientBlocked(
            f"{_BLOCKED} {self.seconds:g} s of real time{at}: a wait that nothing in the "
            "lifecycle ends (an Event or lock with no timeout, a socket) or a loop that never "
            "polls",
            where,
        )

    def _ring(self, signum: int, frame: types.FrameType | None) -> None:
        if self.armed:
            raise self.blocked(frame)

    def _ring_thread(self) -> None:
        import ctypes

        if not self.armed:
            return
        frame = sys._current_frames().get(self.target)
        self.pending = self.blocked(frame)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self.target), ctypes.py_object(_AsyncBlocked)
        )

    def __enter__(self) -> _Watchdog:
        if self.seconds <= 0 or self.seconds == float("inf"):
            return self
        self.armed = True
        if self.signal:
            self.previous = signal.signal(signal.SIGALRM, self._ring)
            # repeats, in case the client swallows the first one
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.05)
        else:
            self.timer = threading.Timer(self.seconds, self._ring_thread)
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.armed:
            return
        self.armed = False
        if self.signal:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        elif self.timer is not None:
            self.timer.cancel()


class _AsyncBlocked(ClientBlocked):
    """What a watchdog off the main thread raises (it can only name a class)."""

    def __init__(self) -> None:
        super().__init__(f"{_BLOCKED} its real-time budget")


_STDLIB = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_KIT = tuple(
    str(Path(m.__file__).resolve().parent)
    for m in (sys.modules["runmodel"], sys.modules["conformance"])
    if m.__file__
)
_LIBRARIES = frozenset(
    {
        "openai",
        "httpx",
        "httpx2",
        "httpcore",
        "httpcore2",
        "h11",
        "anyio",
        "sniffio",
        "pydantic",
        "pydantic_core",
        "hypothesis",
        "_pytest",
        "pluggy",
        "typing_extensions",
    }
)


def _is_client_file(filename: str) -> bool:
    """Code the user wrote (or the library under test), not the kit, the SDK or Python's own."""
    if filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    if path.startswith(_KIT) or (path.startswith(_STDLIB) and "site-packages" not in path):
        return False
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages"):
            return Path(parts[i + 1]).stem not in _LIBRARIES
    return True


def _frame_text(frame: types.FrameType, lineno: int | None = None) -> str:
    code = frame.f_code
    path = Path(code.co_filename)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(Path.cwd())
    return f"{path}:{lineno or frame.f_lineno} in {code.co_name}"


def _innermost_client(frames: Iterable[tuple[types.FrameType, int]]) -> str | None:
    found = None
    for frame, lineno in frames:
        if _is_client_file(frame.f_code.co_filename):
            found = _frame_text(frame, lineno)
    return found


def _blocked_where(frame: types.FrameType | None) -> str | None:
    """Where a client was when stopped: its innermost own frame (for a coroutine, in its task)."""
    chain: list[tuple[types.FrameType, int]] = []
    while frame is not None and frame.f_code is not _call.__code__:  # the client's frames only
        chain.append((frame, frame.f_lineno))
        frame = frame.f_back
    found = _innermost_client(reversed(chain))
    if found is not None:
        return found
    try:  # a client suspended in an await: look at its tasks
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    for task in asyncio.all_tasks(loop):
        stack = [(f, f.f_lineno) for f in task.get_stack()]
        found = _innermost_client(stack)
        if found is not None:
            return found
    return None


def _raised_where(exc: BaseException) -> str | None:
    """The client's own line an exception came through: its innermost frame in the traceback."""
    frames: list[tuple[types.FrameType, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return _innermost_client(frames)


def _play(
    fn: ClientFn,
    plan: Scenario | AppScenario,
    options: _Options,
    data: st.DataObject | None = None,
) -> tuple[list[tuple[str, ...]], list[Counterexample]]:
    emu = Emulator(strictness=options.strictness, seed=0)
    watch = _Watch(emu, options, plan)
    emu.on_request = watch.on_request
    emu.before_request = watch.before_request
    emu.script_chooser = watch.choose
    emu.tool_calls = _Caller(watch, data)
    emu.clock.budget = _TIME_BUDGET
    if options.contract is Contract.APP:
        watch.thread_id, first = emu.start_thread(assistant=options.assistant, message=_MESSAGE)
        watch.assistant_id = first
    else:
        script = watch.plan[0].script
        watch.thread_id, first = emu.start_run(
            script, assistant=options.assistant, message=_MESSAGE
        )
        watch.track(first, watch.thread_id, emu.clock.now())
        watch.assistant_id = emu.run_object(first)["assistant_id"]
    watch.start = emu.clock.now()
    out = _call(fn, emu, watch, first, options.future_status, options.hang_after)
    played = tuple(
        replace(t.scenario, calls=tuple(t.calls)) if _drawn(emu, t) else t.scenario
        for t in watch.runs.values()
    )
    scenario: Scenario | AppScenario
    if options.contract is Contract.APP:
        scenario = AppScenario(played + watch.plan[len(played) :])
    else:
        scenario = played[0]
    paths = {run_id: _server_path(emu, run_id) for run_id in watch.runs}
    actions = _actions(emu, watch)
    found = []
    for prop, message, run_id in _findings(out, emu, watch, options):
        path = paths.get(run_id, ()) if run_id is not None else ()
        found.append(Counterexample(prop, options.contract, scenario, path, message, actions))
    return list(paths.values()), found


def _drawn(emu: Emulator, tracked: _Tracked) -> bool:
    """Whether a run's calls differ from what a replay without them would ask for."""
    if tracked.scenario.calls:
        return True
    run = emu.store.runs.get(tracked.run_id)
    functions = function_tools(run.obj["tools"]) if run is not None else []
    if not functions:
        return False
    plain = (str(functions[0]["name"]), plainest(functions[0].get("parameters")))
    return any(call != plain for call in tracked.calls)


def _server_path(emu: Emulator, run_id: str) -> tuple[str, ...]:
    """The statuses the server's run went through, from its own event log."""
    path = [RUN.initial]
    run = emu.store.runs.get(run_id)
    for name, _ in run.events if run is not None else ():
        status = name.removeprefix("thread.run.")
        if name.startswith("thread.run.") and status in RUN and status != path[-1]:
            path.append(status)
    return tuple(path)


# -- judging ----------------------------------------------------------------------------------

_Finding = tuple[str, str, str | None]  # property, message, the run it concerns


def _findings(out: _Outcome, emu: Emulator, watch: _Watch, options: _Options) -> list[_Finding]:
    """Every property that failed and is not ignored, as (property, message, run), in order of
    root cause."""
    return [f for f in _all_findings(out, emu, watch, options) if f[0] not in options.ignore]


def _all_findings(out: _Outcome, emu: Emulator, watch: _Watch, options: _Options) -> list[_Finding]:
    contract = options.contract
    found: list[_Finding] = []
    runs = list(watch.runs.values())
    last = runs[-1].run_id if runs else None
    final = {t.run_id: _final_status(emu, t.run_id) for t in runs}

    for tracked in runs:
        illegal = _illegal_action(emu, watch, tracked, options.strictness)
        if illegal is not None:
            found.append(("legal_actions", illegal, tracked.run_id))
            break
    else:
        busy = _created_while_active(emu, watch)
        if busy is not None:
            found.append(("legal_actions", busy, last))
    deleted = _deleted_unowned(emu, watch)
    if deleted is not None:
        found.append(("owns_what_it_deletes", deleted, last))
    if watch.too_fast is not None:
        found.append(("sleeps_between_polls", watch.too_fast, last))
    if isinstance(out.hung, PolledTooFast):
        return [*found, ("sleeps_between_polls", str(out.hung), last)]
    if isinstance(out.hung, ClientBlocked):
        return [*found, ("terminates", str(out.hung), last)]
    if out.hung is not None:
        hung = watch.hung_run
        if hung is None or hung.settled_status is None:
            return [*found, ("terminates", f"the client was stopped: {out.hung}", last)]
        kind = "terminal" if hung.settled_status in RUN.terminal else "settled"
        shown = sum(  # counted as the timeline lists them
            1
            for r in _client_requests(emu, watch)
            if r.run_id == hung.run_id
            and (seen := _seen(r, r.run_id)) is not None
            and seen["status"] == hung.settled_status
        )
        return [
            *found,
            (
                "terminates",
                f"the client fetched the run {shown} times after it became "
                f"{hung.settled_status} ({kind}) and never returned",
                hung.run_id,
            ),
        ]
    where = _raised_where(out.raised) if out.raised is not None else None
    what = (
        f"the client raised {_describe(out.raised)}" + (f" (at {where})" if where else "")
        if out.raised is not None
        else "the client returned"
    )
    if out.raised is not None and options.future_status and _served_future(emu, watch):
        return [
            *found,
            (
                "forward_compatible",
                f"{what}, after the run reported status {FUTURE_STATUS!r}, which the model does "
                "not know (a future API may add statuses: keep polling through unknown ones)",
                last,
            ),
        ]
    # a raise that is the server's refusal of an illegal action already reported is that action
    refused = getattr(out.raised, "status_code", None) == 400 and any(
        f[0] == "legal_actions" for f in found
    )
    left = [
        t
        for t in runs
        if final[t.run_id] in RUN.active and not _client_cancelled(emu, watch, t) and not refused
    ]
    found_left = list(left) if (out.raised is not None or contract is Contract.APP) else []
    if contract is Contract.APP:
        waiting = [t for t in left if final[t.run_id] in RUN.waiting]
        if waiting:
            t = waiting[0]
            calls = [c["id"] for c in _required_calls(emu, t.run_id)]
            status = final[t.run_id]
            can_cancel = any(
                e.trigger == "cancel"
                for e in RUN.triggers(status, Actor.CLIENT, options.strictness)
            )
            advice = (
                "answer every round, or cancel the run"
                if can_cancel
                else (f"answer every round: no cancel is legal while the run is {status}")
            )
            found.append(
                (
                    "answers_every_round",
                    f"{what}, leaving the run {t.label} {status} with calls {calls} "
                    f"unanswered ({advice})",
                    t.run_id,
                )
            )
        left = [t for t in left if t not in waiting]
    if left and (out.raised is not None or contract is Contract.APP):
        t = left[0]
        the_run = f"the run {t.label}" if contract is Contract.APP else "the run"
        found.append(
            (
                "leaves_no_active_run",
                f"{what}, leaving {the_run} {final[t.run_id]}: "
                f"{_give_up_advice(final[t.run_id], options.strictness)}",
                t.run_id,
            )
        )
    returns = _returns(out, what, watch, options, final, left=bool(found_left) or refused)
    if returns is not None:
        found.append(("returns", returns, last))
    return found


_DELETED = "deleted"  # the final status of a run whose thread the client deleted


def _final_status(emu: Emulator, run_id: str) -> str:
    return str(emu.run_object(run_id)["status"]) if run_id in emu.store.runs else _DELETED


def _returns(
    out: _Outcome,
    what: str,
    watch: _Watch,
    options: _Options,
    final: Mapping[str, str],
    *,
    left: bool,
) -> str | None:
    """What is wrong with how the client ended, if anything (a client that raised leaving a run
    active is reported as that alone)."""
    contract = options.contract
    runs = list(watch.runs.values())
    if left:
        return None
    if out.raised is not None:
        ended = runs[-1].run_id if runs else None
        if options.raises_on_failure and ended is not None and final[ended] in _UNSUCCESSFUL:
            return None  # the library raises on a run that ended unsuccessfully, by design
        return what
    if contract is Contract.APP and not runs:
        return "the client returned without creating a run"
    got = getattr(out.returned, "status", None)
    run_id = getattr(out.returned, "id", None)
    if contract is Contract.APP and run_id not in final:
        return None  # an app may return anything; a run it returns is judged below
    if got is None:
        return f"the client returned {type(out.returned).__name__}, not a run"
    status = final[str(run_id)] if run_id in final else final[runs[0].run_id]
    if got not in contract.done:
        after = "" if status == got else f" (the run went on to {status})"
        need = (
            "settled (terminal or requires_action)" if contract is Contract.WAITER else "terminal"
        )
        return f"the client returned the run in status {got}, which is not {need}{after}"
    if got != status and status != _DELETED:
        return f"the client returned the run as {got}, but the server's run was {status}"
    return None


def _give_up_advice(status: str, strictness: Strictness) -> str:
    """What a client that gives up on a run in `status` should do: only ever a legal action."""
    if any(e.trigger == "cancel" for e in RUN.triggers(status, Actor.CLIENT, strictness)):
        return "the thread stays locked until the run expires (cancel the run before giving up)"
    return (
        f"the thread stays locked until the run ends (no cancel is legal while it is {status}: "
        "poll until it ends before giving up)"
    )


def _client_requests(emu: Emulator, watch: _Watch) -> Iterable[Request]:
    return (r for r in emu.requests if r.seq not in watch.external)


def _segments(path: str) -> list[str]:
    return path.removeprefix("/v1").strip("/").split("/")


def _describe(exc: BaseException) -> str:
    """An exception in a line; API errors by status and the server's message (the SDK majors
    word ``str(exc)`` differently)."""
    status, body = getattr(exc, "status_code", None), getattr(exc, "body", None)
    if isinstance(status, int) and isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"{type(exc).__name__} ({status}): {body['message']}"
    return f"{type(exc).__name__}: {exc}"


def _served_future(emu: Emulator, watch: _Watch) -> bool:
    return any(
        (seen := _seen(r, r.run_id)) is not None and seen.get("status") == FUTURE_STATUS
        for r in _client_requests(emu, watch)
        if r.run_id in watch.runs
    )


def _client_cancelled(emu: Emulator, watch: _Watch, tracked: _Tracked) -> bool:
    return any(
        r.method == "POST" and r.path.endswith(f"/{tracked.run_id}/cancel")
        for r in _client_requests(emu, watch)
    )


def _required_calls(emu: Emulator, run_id: str) -> list[dict[str, Any]]:
    action = emu.run_object(run_id).get("required_action") or {}
    calls: list[dict[str, Any]] = action.get("submit_tool_outputs", {}).get("tool_calls", [])
    return calls


def _seen(rec: Request, run_id: str | None) -> dict[str, Any] | None:
    """The run a reply showed the client, if any (JSON body, or a stream's last run event)."""
    if run_id is None:
        return None
    if rec.events is not None:
        last = None
        for name, data in rec.stream_events():
            if (
                name.startswith("thread.run.")
                and isinstance(data, dict)
                and data.get("id") == run_id
            ):
                last = data
        return last
    body = rec.json() if rec.status is not None else None
    if isinstance(body, dict) and body.get("object") == "thread.run" and body.get("id") == run_id:
        return body
    return None


def _json(raw: bytes | None) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def _illegal_action(
    emu: Emulator, watch: _Watch, tracked: _Tracked, strictness: Strictness
) -> str | None:
    """Judge each submit and cancel of a run by what the client had seen when it made it."""
    seen: dict[str, Any] | None = None
    answered: set[tuple[str, ...]] = set()
    run_id = tracked.run_id
    for rec in _client_requests(emu, watch):
        path = rec.path.removeprefix("/v1")
        if rec.method == "POST" and path.endswith(f"/{run_id}/submit_tool_outputs"):
            status = seen["status"] if seen else RUN.initial
            if seen is None or status not in _WAITING:
                return (
                    f"the client submitted tool outputs while the run was {status} (as last seen)"
                )
            calls = seen["required_action"]["submit_tool_outputs"]["tool_calls"]
            required = tuple(c["id"] for c in calls)
            if required in answered:
                return (
                    f"the client submitted tool outputs twice for the same round {list(required)}"
                )
            body = _json(rec.body)
            given = (
                [o.get("tool_call_id") for o in body.get("tool_outputs", [])]
                if isinstance(body, dict)
                else []
            )
            if sorted(map(str, given)) != sorted(required):
                return (
                    f"the client submitted outputs for {given} "
                    f"but the run required {list(required)} "
                    "(every call of a round, in one request)"
                )
            answered.add(required)
        elif rec.method == "POST" and path.endswith(f"/{run_id}/cancel"):
            status = seen["status"] if seen else RUN.initial
            if status in RUN and not any(
                e.trigger == "cancel" for e in RUN.triggers(status, Actor.CLIENT, strictness)
            ):
                return f"the client cancelled the run in status {status}, where no cancel is legal"
        now = _seen(rec, run_id)
        if now is not None:
            seen = now
    return None


def _created_while_active(emu: Emulator, watch: _Watch) -> str | None:
    """A run created on a thread whose run had not ended (a retry must wait for the abandoned
    run to be cancelled or to end)."""
    for rec in _client_requests(emu, watch):
        parts = _segments(rec.path)
        if rec.method != "POST" or rec.status != 400 or len(parts) != 3 or parts[2] != "runs":
            continue
        body = _json(rec.response)
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        fields = parse_error("run_while_active", message) if isinstance(message, str) else None
        if fields is None:
            continue
        busy = watch.runs.get(fields["run_id"])
        label = busy.label if busy is not None else fields["run_id"]
        status = _seen_status_at(emu, fields["run_id"], rec.seq)
        return (
            f"the client created a new run on the thread while the run {label} was still "
            f"{status} (a new run must wait until the last one is cancelled or has ended)"
        )
    return None


def _seen_status_at(emu: Emulator, run_id: str, seq: int) -> str:
    """The run's status as the server last showed it before request `seq`."""
    status = "active"
    for rec in emu.requests:
        if rec.seq >= seq:
            break
        seen = _seen(rec, run_id) if rec.run_id == run_id else None
        if seen is not None:
            status = str(seen["status"])
    return status


def _deleted_unowned(emu: Emulator, watch: _Watch) -> str | None:
    """A delete of an assistant or thread the client did not create."""
    for rec in _client_requests(emu, watch):
        parts = _segments(rec.path)
        if rec.method != "DELETE" or len(parts) != 2 or parts[0] not in ("assistants", "threads"):
            continue
        if parts[1] not in watch.owned:
            kind = parts[0].removesuffix("s")
            return (
                f"the client deleted the {kind} {_short(parts[1], watch)}, which it did not "
                f"create (it was given to the client to use)"
            )
    return None


# -- rendering --------------------------------------------------------------------------------


def _actions(emu: Emulator, watch: _Watch) -> tuple[Action, ...]:
    reqs = {r.seq: r for r in _client_requests(emu, watch)}
    out: list[Action] = []
    events = sorted(
        [(r.seq, r) for r in reqs.values()] + [(s.seq, s) for s in emu.clock.sleeps],
        key=lambda x: x[0],
    )
    for _, ev in events:
        if isinstance(ev, Request):
            seen = _seen(ev, ev.run_id if ev.run_id in watch.runs else None)
            what = f"{ev.method} {_short(ev.path, watch)}"
            out.append(
                Action(ev.at - watch.start, what, ev.status, seen["status"] if seen else None)
            )
        else:
            out.append(Action(ev.at - watch.start, "sleep", seconds=ev.seconds))
    return tuple(out)


def _short(path: str, watch: _Watch) -> str:
    """A path with the ids the harness made or the client created shown by name."""
    text = path.removeprefix("/v1")
    for tracked in watch.runs.values():
        text = text.replace(tracked.run_id, tracked.label)
    if watch.assistant_id:
        text = text.replace(watch.assistant_id, "{assistant}")
    return text.replace(watch.thread_id, "{thread}") if watch.thread_id else text


def _groups(actions: tuple[Action, ...]) -> list[list[Action]]:
    """Consecutive repeats of the same request (with the sleeps between them) form one group."""
    groups: list[list[Action]] = []
    for a in actions:
        if a.what == "sleep" and groups:
            groups[-1].append(a)
            continue
        last = (
            next((x for x in reversed(groups[-1]) if x.what != "sleep"), None) if groups else None
        )
        if last is not None and last.key() == a.key():
            groups[-1].append(a)
        else:
            groups.append([a])
    return groups


def _compress_line(group: list[Action]) -> str:
    requests = [a for a in group if a.what != "sleep"]
    sleeps = [a.seconds for a in group if a.what == "sleep"]
    first = requests[0] if requests else group[0]
    text = f"{first.at:8.2f}s  {first.what}"
    if first.what != "sleep":
        text += f" → {first.status if first.status is not None else 'dropped'}"
        if first.seen:
            text += f" {first.seen}"
    if len(requests) > 1:
        text += f"  ×{len(requests)} (until {requests[-1].at:.2f}s)"
    if sleeps:
        each = sorted(set(sleeps))
        text += (
            f", sleeping {each[0]:g} s"
            if len(each) == 1
            else f", sleeping {min(each):g}–{max(each):g} s"
        )
    return text


def _compress(actions: tuple[Action, ...]) -> list[str]:
    return [_compress_line(g) for g in _groups(actions)]


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
    fn: ClientFn, options: _Options, scenario: Scenario | AppScenario, cancel: bool
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
