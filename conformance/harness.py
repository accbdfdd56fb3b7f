"""Property-test client code against the model: play it every legal lifecycle, report the smallest
that breaks it.

`check_client(fn, contract=...)` is the one call a user's test makes. Hypothesis draws scenarios
from the model (`conformance.strategies`), the emulator plays each one to ``fn(client, thread_id,
run_id)`` through the real ``openai`` SDK on a virtual clock, and the contract's properties are
judged from what the client did (every request and sleep) and what the server's run did.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from runmodel import RUN, Actor, Strictness

from ._sdk import quiet_assistants_deprecation
from .emulator import Emulator, Script, parse_script
from .emulator.api import Reply, Request
from .emulator.clock import ClientInterrupted
from .strategies import Scenario, scenarios

__all__ = [
    "FUTURE_STATUS",
    "Action",
    "ClientCheckFailed",
    "ClientHung",
    "Contract",
    "Counterexample",
    "PolledTooFast",
    "Summary",
    "check_client",
    "play",
]

_WAITING = RUN.waiting
_HEADERS = {"openai-beta": "assistants=v2"}
_MAX_REQUESTS = 2000  # a client past this many requests in one lifecycle is stopped
_TIME_BUDGET = 4 * 3600.0  # virtual seconds after which a client is stopped
FUTURE_STATUS = "a_future_status"
"""What `future_status` checks serve once in place of in_progress: a status no model knows."""


class Contract(str, enum.Enum):
    """What a client promises.

    waiter: returns a settled run (terminal or requires_action) whose status is the server's.
    driver: answers every tool call of every round (all ids, one request per round), never
    submits or cancels illegally, and returns only when the run is terminal.
    """

    WAITER = "waiter"
    DRIVER = "driver"

    @property
    def done(self) -> frozenset[str]:
        """Statuses after which the client should stop asking."""
        return RUN.settled if self is Contract.WAITER else RUN.terminal


class ClientHung(ClientInterrupted):
    """Raised into a client that keeps asking after the run settled; ``except Exception`` cannot
    swallow it."""


class PolledTooFast(ClientInterrupted):
    """Raised into a client that polls again sooner than the server asked."""


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
    scenario: Scenario
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
            "  the client did (virtual seconds since the run was created):",
            *(f"    {line}" for line in _compress(self.actions)),
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
            "actions": [_compress_line(group) for group in _groups(self.actions)],
        }


class ClientCheckFailed(AssertionError):
    """A property failed; the message is the minimal counterexample, rendered."""

    def __init__(self, counterexample: Counterexample, reproduce: str | None = None) -> None:
        self.counterexample = counterexample
        super().__init__(counterexample.render(reproduce))


@dataclass(slots=True)
class Summary:
    """What a passing check explored: examples, statuses and edges reached."""

    contract: Contract
    strictness: Strictness
    examples: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, path: tuple[str, ...]) -> None:
        self.examples += 1
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


ClientFn = Callable[[Any, str, str], Any]


def check_client(
    fn: ClientFn,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    max_examples: int | None = None,
    seed: int | None = None,
    scenario: Scenario | Script | str | None = None,
    cancel: bool = True,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
    reproduce: str | None = None,
) -> Summary:
    """Play `fn` every kind of legal lifecycle; raise `ClientCheckFailed` with the smallest that
    breaks it, or return what was explored.

    `fn(client, thread_id, run_id)` (sync, or async with an ``AsyncOpenAI`` client) waits on or
    drives the run. `scenario` replays one lifecycle instead of searching. `settle_polls` is how
    many requests a client may make about the run after it settled; `poll_interval` is the least
    sleep between two polls (default: the server's ``openai-poll-after-ms`` hint, 1 s).
    With `future_status` (opt-in), one poll while the run is in progress answers with a status
    the model does not know yet (a future API may add one), through a client that validates as
    loosely as the SDK's default: the client must keep going. `reproduce` overrides the "how to
    reproduce" line; ``{scenario}`` in it is filled in.
    """
    level = Strictness(strictness)
    promise = Contract(contract)
    summary = Summary(promise, level)
    options = _Options(promise, level, settle_polls, poll_interval, future_status)

    failures: list[Counterexample] = []

    def fail(found: Counterexample) -> ClientCheckFailed:
        sc = found.scenario
        how = _reproduce(fn, promise, level, sc) if reproduce is None else reproduce
        return ClientCheckFailed(found, how.replace("{scenario}", str(sc)))

    def one(sc: Scenario) -> None:
        path, found = _play(fn, sc, options)
        summary.add(path)
        if found is not None:
            failures.append(found)
            raise fail(found)

    if scenario is not None:
        one(_as_scenario(scenario, level))
        return summary
    conf = settings(
        max_examples=max_examples if max_examples is not None else settings().max_examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    test = conf(given(scenarios(level, cancel=cancel))(one))
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    with quiet_assistants_deprecation():
        try:
            test()
        except ClientCheckFailed as failed:
            # Hypothesis shrinks by its own order; report the simplest failure of the same
            # property that the search witnessed, so the lifecycle a reader sees is the plainest.
            same = [f for f in failures if f.prop == failed.counterexample.prop]
            raise fail(min(same, key=_simplicity)) from None
    return summary


def play(
    fn: ClientFn,
    scenario: Scenario | Script | str,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
) -> Counterexample | None:
    """Play one lifecycle to `fn` and judge it: the counterexample, or None if all held."""
    level = Strictness(strictness)
    options = _Options(Contract(contract), level, settle_polls, poll_interval, future_status)
    return _play(fn, _as_scenario(scenario, level), options)[1]


# -- playing one lifecycle --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    contract: Contract
    strictness: Strictness
    settle_polls: int
    poll_interval: float | None
    future_status: bool = False


def _as_scenario(value: Scenario | Script | str, level: Strictness) -> Scenario:
    if isinstance(value, Scenario):
        return value
    if isinstance(value, Script):
        return Scenario(value)
    text, _, cancel = value.partition("; cancel_at=")
    return Scenario(parse_script(text, strictness=level), float(cancel) if cancel else None)


class _Watch:
    """Follows a client's requests while it runs: plays the other party's cancel, stops hangs."""

    def __init__(self, emu: Emulator, options: _Options, scenario: Scenario) -> None:
        self.emu = emu
        self.options = options
        self.scenario = scenario
        self.thread_id = self.run_id = ""
        self.created = 0.0
        self.external: set[int] = set()
        self.cancelled = False
        self.settled_status: str | None = None
        self.after_settled = 0
        self.busy = False
        self.previous: Request | None = None
        self.sleep_mark = 0
        hint = (emu.poll_after_ms or 1000) / 1000
        self.least = options.poll_interval if options.poll_interval is not None else hint

    def on_request(self, rec: Request) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            self._pace(rec)
            self._other_party(rec.at - self.created)
            self._hang(rec)
        finally:
            self.busy = False

    def _is_poll(self, rec: Request) -> bool:
        return rec.method == "GET" and rec.path.endswith(f"/runs/{self.run_id}")

    def _pace(self, rec: Request) -> None:
        """Two polls in a row need the hint's sleep between them (a poll right after another
        action, e.g. a submit, needs none); a client that polls faster is stopped at once."""
        sleeps = self.emu.clock.sleeps
        slept = sum(s.seconds for s in sleeps[self.sleep_mark :])
        self.sleep_mark = len(sleeps)
        previous, self.previous = self.previous, rec
        if previous is None or not (self._is_poll(previous) and self._is_poll(rec)):
            return
        if slept + 1e-9 < self.least:
            how = "without sleeping" if slept == 0 else f"after sleeping only {slept:g} s"
            raise PolledTooFast(
                f"the client polled the run again {how}; the server asked for {self.least:g} s "
                "(openai-poll-after-ms)"
            )

    def _other_party(self, t: float) -> None:
        cancel_at = self.scenario.cancel_at
        if cancel_at is None or self.cancelled or t < cancel_at:
            return
        self.cancelled = True
        status = self.emu.run_object(self.run_id)["status"]
        if any(
            e.trigger == "cancel"
            for e in RUN.triggers(status, Actor.CLIENT, self.options.strictness)
        ):
            path = f"/v1/threads/{self.thread_id}/runs/{self.run_id}/cancel"
            self.emu.handle("POST", path, "", _HEADERS, b"")
            self.external.add(self.emu.requests[-1].seq)

    def _hang(self, rec: Request) -> None:
        client_requests = len(self.emu.requests) - len(self.external)
        if client_requests > _MAX_REQUESTS:
            raise ClientHung(f"the client made more than {_MAX_REQUESTS} requests")
        status = self.emu.run_object(self.run_id)["status"]
        if status not in self.options.contract.done:
            return
        if self.settled_status is None:
            self.settled_status = status
            return
        if rec.run_id == self.run_id:
            self.after_settled += 1
        if self.after_settled >= self.options.settle_polls:
            raise ClientHung(f"the client kept asking after the run became {status}")


@dataclass(slots=True)
class _Outcome:
    returned: Any = None
    raised: BaseException | None = None
    hung: ClientInterrupted | None = None


def _serve_future_status(emu: Emulator, run_id: str) -> None:
    """Make this emulator answer one in-progress poll of the run with `FUTURE_STATUS`."""
    handle = emu.handle
    served = False

    def handle_once(
        method: str, path: str, query: str = "", headers: Any = None, body: bytes = b""
    ) -> Reply:
        nonlocal served
        reply = handle(method, path, query, headers, body)
        if served or method != "GET" or not path.endswith(f"/runs/{run_id}") or reply.stream:
            return reply
        obj = _json(reply.body)
        if isinstance(obj, dict) and obj.get("status") == "in_progress":
            served = True
            reply.body = orjson.dumps({**obj, "status": FUTURE_STATUS})
            emu.requests[-1].response = reply.body  # the log shows what the client saw
        return reply

    emu.handle = handle_once  # type: ignore[method-assign]  # this emulator only


def _call(fn: ClientFn, emu: Emulator, thread_id: str, run_id: str, future: bool) -> _Outcome:
    out = _Outcome()
    is_async = inspect.iscoroutinefunction(fn)
    if future:
        _serve_future_status(emu, run_id)
    strict = not future  # a future status fails strict validation; the SDK's default is loose
    client = emu.async_client(strict=strict) if is_async else emu.client(strict=strict)
    with quiet_assistants_deprecation(), emu.virtual_time():
        try:
            if is_async:
                out.returned = asyncio.run(fn(client, thread_id, run_id))
            else:
                out.returned = fn(client, thread_id, run_id)
        except ClientInterrupted as exc:
            out.hung = exc
        except Exception as exc:
            out.raised = exc
    return out


def _play(
    fn: ClientFn, scenario: Scenario, options: _Options
) -> tuple[tuple[str, ...], Counterexample | None]:
    emu = Emulator(strictness=options.strictness, seed=0)
    watch = _Watch(emu, options, scenario)
    emu.on_request = watch.on_request
    emu.clock.budget = _TIME_BUDGET
    thread_id, run_id = emu.start_run(scenario.script)
    watch.thread_id, watch.run_id, watch.created = thread_id, run_id, emu.clock.now()
    out = _call(fn, emu, thread_id, run_id, options.future_status)
    final = emu.run_object(run_id)
    path = _server_path(emu, run_id)
    actions = _actions(emu, watch)
    prop_message = _judge(out, final, emu, watch, options)
    if prop_message is None:
        return path, None
    prop, message = prop_message
    return path, Counterexample(prop, options.contract, scenario, path, message, actions)


def _server_path(emu: Emulator, run_id: str) -> tuple[str, ...]:
    """The statuses the server's run went through, from its own event log."""
    path = [RUN.initial]
    for name, _ in emu.store.runs[run_id].events:
        status = name.removeprefix("thread.run.")
        if name.startswith("thread.run.") and status in RUN and status != path[-1]:
            path.append(status)
    return tuple(path)


# -- judging ----------------------------------------------------------------------------------


def _judge(
    out: _Outcome, final: dict[str, Any], emu: Emulator, watch: _Watch, options: _Options
) -> tuple[str, str] | None:
    """The first property that failed, as (property, message), in order of root cause."""
    contract, status = options.contract, final["status"]
    illegal = _illegal_action(emu, watch, options.strictness)
    if illegal is not None:
        return "legal_actions", illegal
    if isinstance(out.hung, PolledTooFast):
        return "sleeps_between_polls", str(out.hung)
    if out.hung is not None:
        if watch.settled_status is None:
            return "terminates", f"the client was stopped: {out.hung}"
        kind = "terminal" if watch.settled_status in RUN.terminal else "settled"
        shown = sum(a.seen == watch.settled_status for a in _actions(emu, watch))  # as listed
        return "terminates", (
            f"the client fetched the run {shown} times after it became "
            f"{watch.settled_status} ({kind}) and never returned"
        )
    if out.raised is not None:
        what = f"the client raised {_describe(out.raised)}"
        if options.future_status and _served_future(emu, watch):
            return "forward_compatible", (
                f"{what}, after the run reported status {FUTURE_STATUS!r}, which the model does "
                "not know (a future API may add statuses: keep polling through unknown ones)"
            )
        if status in RUN.active and not _client_cancelled(emu, watch):
            return "leaves_no_active_run", (
                f"{what}, leaving the run {status}: the thread stays locked until the run "
                "expires (cancel the run before giving up)"
            )
        return "returns", what
    got = getattr(out.returned, "status", None)
    if got is None:
        return "returns", f"the client returned {type(out.returned).__name__}, not a run"
    if got not in contract.done:
        after = "" if status == got else f" (the run went on to {status})"
        need = (
            "settled (terminal or requires_action)" if contract is Contract.WAITER else "terminal"
        )
        return "returns", f"the client returned the run in status {got}, which is not {need}{after}"
    if got != status:
        return "returns", f"the client returned the run as {got}, but the server's run was {status}"
    return None


def _client_requests(emu: Emulator, watch: _Watch) -> Iterable[Request]:
    return (r for r in emu.requests if r.seq not in watch.external)


def _describe(exc: BaseException) -> str:
    """An exception in a line; API errors by status and the server's message (the SDK majors
    word ``str(exc)`` differently)."""
    status, body = getattr(exc, "status_code", None), getattr(exc, "body", None)
    if isinstance(status, int) and isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"{type(exc).__name__} ({status}): {body['message']}"
    return f"{type(exc).__name__}: {exc}"


def _served_future(emu: Emulator, watch: _Watch) -> bool:
    return any(
        (seen := _seen(r, watch.run_id)) is not None and seen.get("status") == FUTURE_STATUS
        for r in _client_requests(emu, watch)
    )


def _client_cancelled(emu: Emulator, watch: _Watch) -> bool:
    return any(
        r.method == "POST" and r.path.endswith("/cancel") for r in _client_requests(emu, watch)
    )


def _seen(rec: Request, run_id: str) -> dict[str, Any] | None:
    """The run a reply showed the client, if any (JSON body, or a stream's last run event)."""
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


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def _illegal_action(emu: Emulator, watch: _Watch, strictness: Strictness) -> str | None:
    """Judge each submit and cancel by what the client had seen when it made it."""
    seen: dict[str, Any] | None = None
    answered: set[tuple[str, ...]] = set()
    for rec in _client_requests(emu, watch):
        path = rec.path.removeprefix("/v1")
        if rec.method == "POST" and path.endswith(f"/{watch.run_id}/submit_tool_outputs"):
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
        elif rec.method == "POST" and path.endswith(f"/{watch.run_id}/cancel"):
            status = seen["status"] if seen else RUN.initial
            if status in RUN and not any(
                e.trigger == "cancel" for e in RUN.triggers(status, Actor.CLIENT, strictness)
            ):
                return f"the client cancelled the run in status {status}, where no cancel is legal"
        now = _seen(rec, watch.run_id)
        if now is not None:
            seen = now
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
            seen = _seen(ev, watch.run_id)
            what = f"{ev.method} {_short(ev.path, watch)}"
            out.append(
                Action(ev.at - watch.created, what, ev.status, seen["status"] if seen else None)
            )
        else:
            out.append(Action(ev.at - watch.created, "sleep", seconds=ev.seconds))
    return tuple(out)


def _short(path: str, watch: _Watch) -> str:
    return (
        path.removeprefix("/v1").replace(watch.thread_id, "{thread}").replace(watch.run_id, "{run}")
    )


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
    """Plainer first: fewer moves, fewer rounds, no other party, shorter delays."""
    sc = found.scenario
    moves = sc.script.moves
    return (
        len(moves),
        sc.script.rounds,
        sc.cancel_at is not None,
        sum(m.delay for m in moves),
        str(sc),
    )


def _reproduce(fn: ClientFn, contract: Contract, level: Strictness, scenario: Scenario) -> str:
    name = getattr(fn, "__qualname__", "fn")
    level_text = f"strictness={level.value!r}"
    return f'check_client({name}, {contract.value!r}, {level_text}, scenario="{scenario}")'
