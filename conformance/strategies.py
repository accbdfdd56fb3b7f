"""Hypothesis strategies drawn from the model: scripts, scenarios, and the traffic they make.

Every draw is a walk through `runmodel.RUN` at a strictness, so the strategies can produce only
what the model allows, and nothing the model allows is out of their reach. They shrink toward
short, plain lifecycles: the first edge the model lists from each status is the simplest one
(``start``, then ``complete``), small delays, one tool call, no cancellation.

Run objects, event sequences and traces are never built by hand: a drawn script is played on the
emulator (`conformance.emulator`), through its HTTP core, and what it answered is what is drawn.
`mutated_traces` breaks such a trace in one known way, for testing checkers; `run_view_machine`
builds a Hypothesis state machine for code that keeps its own view of a run's status.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runmodel import (
    CANCELLING,
    EXPIRY_SECONDS,
    RULES,
    RUN,
    VALUES,
    Actor,
    Edge,
    Strictness,
    Trigger,
)

from .emulator import LESSON_ASSISTANT, Emulator
from .emulator.script import Move, Script
from .observations import Exchange, Item, Location, Snapshot, StreamEvent

__all__ = [
    "AppScenario",
    "RunConsumer",
    "Scenario",
    "app_scenarios",
    "event_sequences",
    "mutated_traces",
    "run_objects",
    "run_view_machine",
    "scenarios",
    "scripts",
    "traces",
]

_WAITING = RUN.waiting  # where the run waits for the client (requires_action)
_ANSWER = Trigger.SUBMIT_TOOL_OUTPUTS  # the client's move out of a waiting status
_CANCEL = Trigger.CANCEL
_CANCELLING = CANCELLING
_EXPIRY_SECONDS = EXPIRY_SECONDS  # expires_at = created_at + this (run.expires_at.ten_minutes)
_ARGS = {
    "fail": VALUES["run.last_error.code"].values,
    "hit_token_limit": VALUES["run.incomplete_details.reason"].values,
}


def _server_moves(status: str, strictness: Strictness) -> list[str]:
    return [e.trigger for e in RUN.out(status, strictness) if e.actor is not Actor.CLIENT]


def _toward_round(status: str, strictness: Strictness) -> str | None:
    """The first server move of the shortest way from `status` to a requires_action round."""
    paths = [RUN.path(status, w, strictness) for w in sorted(_WAITING)]
    best = min(
        (p for p in paths if p and all(e.actor is not Actor.CLIENT for e in p)),
        key=len,
        default=None,
    )
    return None if best is None else best[0].trigger


@st.composite
def scripts(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    max_rounds: int = 3,
    max_calls: int = 4,
    max_delay: int = 30,
) -> Script:
    """A legal run script: server and clock moves from creation to a terminal status.

    Covers several requires_action rounds of 1..`max_calls` parallel calls, every failure code
    and incomplete reason, expiry while in progress (a stall) and while waiting for outputs (a
    first round asked for moments before ``expires_at``), and what the server does after a
    cancel (at permissive, also the untrusted exits from cancelling).
    """
    target = draw(st.integers(0, max_rounds))  # rounds first, so that many rounds are common
    status, moves, rounds, elapsed = RUN.initial, [], 0, 0.0
    while status not in RUN.terminal:
        options = _server_moves(status, strictness)
        toward = _toward_round(status, strictness) if rounds < target else None
        if toward is not None:
            options = [toward]
        else:
            options = [t for t in options if RUN.fire(status, t, strictness).dest not in _WAITING]
        trigger = draw(st.sampled_from(options))
        dest = RUN.fire(status, trigger, strictness).dest
        arg: int | str | None = None
        delay = 0.0 if trigger == "expire" else float(draw(st.integers(1, max_delay)))
        if dest in _WAITING:
            arg = draw(st.integers(1, max_calls))
            if rounds == 0 and draw(st.booleans()):  # outputs due just before the run expires
                delay = max(delay, _EXPIRY_SECONDS - elapsed - 0.5)
            rounds += 1
        elif trigger in _ARGS:
            arg = draw(st.sampled_from(_ARGS[trigger]))
        moves.append(Move(trigger, delay, arg))
        elapsed += delay
        status = RUN.fire(dest, _ANSWER, strictness).dest if dest in _WAITING else dest
    after_cancel = draw(st.sampled_from(_server_moves(_CANCELLING, strictness)))
    on_cancel = Move(
        after_cancel, 0.0 if after_cancel == "expire" else float(draw(st.integers(1, 5)))
    )
    return Script(tuple(moves), on_cancel, strictness)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One lifecycle to play to a client: the server's script, and whether someone else cancels.

    `cancel_at` is the virtual second (after the run's creation) at which another party (a second
    process, a UI "stop" button) calls cancel; it has effect only where the model allows a cancel.
    """

    script: Script
    cancel_at: float | None = None
    calls: tuple[tuple[str, Any], ...] = ()
    """The tool calls the rounds asked for, in order, as (function name, arguments), where they
    were drawn (played again as given; rounds past them ask for the plainest arguments)."""

    def __str__(self) -> str:
        text = str(self.script)
        if self.cancel_at is not None:
            text += f"; cancel_at={self.cancel_at:g}"
        if self.calls:
            # "|" and ";" escaped, so that the text splits on them safely
            data = orjson.dumps([list(c) for c in self.calls]).decode()
            text += "; calls=" + data.replace("|", "\\u007c").replace(";", "\\u003b")
        return text


@dataclass(frozen=True, slots=True)
class AppScenario:
    """The lifecycles of the runs a client creates itself, in order of creation (runs past
    them complete plainly); written with `` | `` between runs."""

    runs: tuple[Scenario, ...]

    def __str__(self) -> str:
        return " | ".join(str(r) for r in self.runs)


def scenarios(
    strictness: Strictness = Strictness.STRICT,
    *,
    cancel: bool = True,
    max_rounds: int = 3,
    max_calls: int = 4,
) -> st.SearchStrategy[Scenario]:
    """Scripts, plus a cancel by another party at any virtual second of the run's life."""
    cancel_at = st.none() | st.integers(0, _EXPIRY_SECONDS).map(float) if cancel else st.none()
    return st.builds(
        Scenario,
        scripts(strictness, max_rounds=max_rounds, max_calls=max_calls),
        cancel_at,
    )


def app_scenarios(
    strictness: Strictness = Strictness.STRICT,
    *,
    cancel: bool = True,
    max_runs: int = 3,
    max_rounds: int = 3,
    max_calls: int = 4,
) -> st.SearchStrategy[AppScenario]:
    """The lifecycles of 1..`max_runs` runs a client creates, each as `scenarios` draws it."""
    one = scenarios(strictness, cancel=cancel, max_rounds=max_rounds, max_calls=max_calls)
    return st.lists(one, min_size=1, max_size=max_runs).map(lambda runs: AppScenario(tuple(runs)))


# -- the emulator, driven through its HTTP core --------------------------------------------------

_HEADERS = {"openai-beta": "assistants=v2"}
_USER_MESSAGE = {
    "role": "user",
    "content": "你好，我购买了一本书和一个电子产品，请帮我计算一下订单总价。",
}
_MAX_POLLS = 12  # polls at drawn gaps; after that the poller waits out the run's longest stall
_FILE = "<strategies>"


class _Driver:
    """One run on a fresh emulator, created and answered as a client would, over `handle`."""

    def __init__(self, script: Script, *, stream: bool) -> None:
        self.emu = Emulator(strictness=script.strictness, latency=0.0, poll_after_ms=None)
        self.stream = stream
        assistant = self.call("POST", "/v1/assistants", dict(LESSON_ASSISTANT))
        thread = self.call("POST", "/v1/threads", {"messages": [_USER_MESSAGE]})
        self.emu.queue_scripts(script)
        self.tid: str = thread["id"]
        self.created = self.emu.clock.now()
        body = {"assistant_id": assistant["id"], "stream": stream}
        first = self.call("POST", f"/v1/threads/{self.tid}/runs", body)
        self.rid: str = str(self.emu.requests[-1].run_id)
        self.first: dict[str, Any] = first if first is not None else self.last_event_run()

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One request; the JSON reply on success (None for a stream, read to its end, or an
        error reply)."""
        data = b"" if body is None else orjson.dumps(body)
        reply = self.emu.handle(method, path, "", _HEADERS, data)
        if reply.stream is not None:
            for _ in reply.stream:
                pass
            return None
        return orjson.loads(reply.body) if reply.status == 200 else None

    def events(self) -> list[tuple[str, Any]]:
        """The events of the last request's stream."""
        return self.emu.requests[-1].stream_events()

    def last_event_run(self) -> dict[str, Any]:
        """The run as the last run event of the last stream carried it."""
        runs = [d for _, d in self.events() if isinstance(d, dict) and d.get("id") == self.rid]
        return runs[-1]

    def retrieve(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.call("GET", f"/v1/threads/{self.tid}/runs/{self.rid}")
        return obj

    def submit(self, run: Mapping[str, Any]) -> Any:
        """Answer every call of the run's requires_action round."""
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        body = {
            "tool_outputs": [{"tool_call_id": c["id"], "output": "42"} for c in calls],
            "stream": self.stream,
        }
        return self.call(
            "POST", f"/v1/threads/{self.tid}/runs/{self.rid}/submit_tool_outputs", body
        )

    def cancel(self) -> Any:
        return self.call("POST", f"/v1/threads/{self.tid}/runs/{self.rid}/cancel")


def _poll(draw: st.DrawFn, scenario: Scenario, max_gap: int) -> _Driver:
    """Play `scenario` to a poller that retrieves the run after drawn gaps, submits outputs for
    every round it sees, and at ``cancel_at`` retrieves the run and cancels it if that allows."""
    level = scenario.script.strictness
    drv = _Driver(scenario.script, stream=False)
    cancel_due = None if scenario.cancel_at is None else drv.created + scenario.cancel_at
    clock, run, polls = drv.emu.clock, drv.first, 0
    while run["status"] not in RUN.terminal:
        if run["status"] in _WAITING:
            run = drv.submit(run) or drv.retrieve()
            continue
        gap = draw(st.integers(1, max_gap)) if polls < _MAX_POLLS else _EXPIRY_SECONDS
        polls += 1
        target = clock.now() + gap
        if cancel_due is not None and cancel_due <= target:
            clock.advance_to(cancel_due)
            cancel_due = None
            run = drv.retrieve()  # cancel only what is known to accept it now: no race
            if any(e.trigger == _CANCEL for e in RUN.triggers(run["status"], Actor.CLIENT, level)):
                run = drv.cancel() or drv.retrieve()
            continue
        clock.advance_to(target)
        run = drv.retrieve()
    return drv


def _streamed(script: Script) -> _Driver:
    """Stream a run following `script`, streaming each submit of its rounds' outputs too."""
    drv = _Driver(script, stream=True)
    run = drv.first
    while run["status"] in _WAITING:
        drv.submit(run)
        run = drv.last_event_run()
    return drv


def _run_bodies(drv: _Driver) -> list[dict[str, Any]]:
    """Every run object the client was given, replies and streamed events alike, in order."""
    out: list[dict[str, Any]] = []
    for rec in drv.emu.requests:
        if rec.run_id != drv.rid:
            continue
        body = rec.json()
        if isinstance(body, dict) and body.get("object") == "thread.run":
            out.append(body)
        out += [
            d
            for name, d in rec.stream_events()
            if name.startswith("thread.run.")
            and isinstance(d, dict)
            and d.get("object") == "thread.run"
        ]
    return out


@st.composite
def run_objects(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    cancel: bool = True,
    max_rounds: int = 3,
    max_calls: int = 4,
    max_gap: int = 30,
) -> list[dict[str, Any]]:
    """A run's life as a poller sees it: each run object the emulator gave it, in order.

    The poller retrieves the run after drawn gaps of 1..`max_gap` virtual seconds (so it skips
    statuses, as real polling does), answers every requires_action round it sees, and, when
    `cancel`, calls cancel at a drawn second. The last object is terminal.
    """
    scenario = draw(
        scenarios(strictness, cancel=cancel, max_rounds=max_rounds, max_calls=max_calls)
    )
    return _run_bodies(_poll(draw, scenario, max_gap))


@st.composite
def event_sequences(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    max_rounds: int = 3,
    max_calls: int = 4,
) -> list[tuple[str, dict[str, Any] | str]]:
    """The server-sent events of a streamed run, as ``(event, data)``, to its terminal status.

    The run's stream and the stream of each ``submit_tool_outputs`` that answers a
    requires_action round, one after another; each ends with ``("done", "[DONE]")``.
    """
    drv = _streamed(draw(scripts(strictness, max_rounds=max_rounds, max_calls=max_calls)))
    return [e for rec in drv.emu.requests for e in rec.stream_events()]


# -- traces, legal and broken ---------------------------------------------------------------------

_MODES = ("snapshots", "poll", "stream")


@st.composite
def traces(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    modes: tuple[str, ...] = _MODES,
    max_rounds: int = 3,
    max_calls: int = 4,
    max_gap: int = 30,
) -> list[Item]:
    """Legal traffic of one run, as the checker reads it (`conformance.observations` items).

    A mode drawn from `modes`: ``snapshots`` (the poller's run objects as bare `Snapshot`s),
    ``poll`` (the HTTP exchanges of a poller, as `run_objects`
    plays it), ``stream`` (a streamed run and its streamed submits: exchanges and their
    `StreamEvent`s).
    """
    mode = draw(st.sampled_from(modes))
    if mode == "stream":
        drv = _streamed(draw(scripts(strictness, max_rounds=max_rounds, max_calls=max_calls)))
        return list(drv.emu.items())
    scenario = draw(scenarios(strictness, max_rounds=max_rounds, max_calls=max_calls))
    drv = _poll(draw, scenario, max_gap)
    if mode == "poll":
        return list(drv.emu.items())
    return [Snapshot(Location(_FILE, i, None), i, obj) for i, obj in enumerate(_run_bodies(drv), 1)]


def _renumber(items: list[Item]) -> list[Item]:
    """Number the items 1, 2, … in list order (exchange_seq follows its exchange)."""
    out: list[Item] = []
    new_seq: dict[int | None, int] = {}
    for i, item in enumerate(items, 1):
        if isinstance(item, Exchange):
            new_seq[item.seq] = i
            out.append(replace(item, seq=i))
        elif isinstance(item, StreamEvent):
            out.append(replace(item, seq=i, exchange_seq=new_seq.get(item.exchange_seq)))
        elif isinstance(item, Snapshot):
            out.append(replace(item, seq=i))
        else:  # pragma: no cover - the strategies make no other items
            out.append(item)
    return out


def _observed_run(item: Item) -> dict[str, Any] | None:
    """The run object an item shows the client (a retrieve's reply, an event, a snapshot)."""
    if isinstance(item, Snapshot):
        obj = item.obj
    elif isinstance(item, Exchange) and item.method == "GET":
        obj = item.response_body
    elif isinstance(item, StreamEvent):
        obj = item.data
    else:
        return None
    return obj if isinstance(obj, dict) and obj.get("object") == "thread.run" else None


def _with_run(item: Item, obj: dict[str, Any]) -> Item:
    if isinstance(item, Snapshot):
        return replace(item, obj=obj)
    if isinstance(item, Exchange):
        return replace(item, response_body=obj)
    if isinstance(item, StreamEvent):
        return replace(item, event=f"thread.run.{obj['status']}", data=obj)
    raise TypeError(type(item).__name__)  # pragma: no cover


_Mutation = tuple[list[Item], str]


def _reversals(items: list[Item], level: Strictness) -> list[_Mutation]:
    """Two successive observations of different statuses, shown in reverse order, where the
    model has no way back: a terminal status left, or an illegal transition."""
    seen = [(i, o) for i, item in enumerate(items) if (o := _observed_run(item)) is not None]
    out: list[_Mutation] = []
    for (i, a), (j, b) in itertools.pairwise(seen):
        if a["status"] != b["status"] and RUN.path(b["status"], a["status"], level) is None:
            code = "run.terminal_left" if b["status"] in RUN.terminal else "run.illegal_transition"
            mutated = list(items)
            mutated[i], mutated[j] = _with_run(items[i], b), _with_run(items[j], a)
            out.append((mutated, code))
    return out


def _stray_required_action(items: list[Item]) -> list[_Mutation]:
    """A polled run that shows a required_action outside requires_action (a field rule)."""
    rule = next(
        r for r in RULES["run"] if r.fields == ("required_action",) and RUN.initial in r.statuses
    )  # required_action is null outside requires_action
    statuses = rule.statuses & RUN.active
    action = {"type": _ANSWER, _ANSWER: {"tool_calls": []}}
    out: list[_Mutation] = []
    for i, item in enumerate(items):
        obj = None if isinstance(item, StreamEvent) else _observed_run(item)
        if obj is not None and obj["status"] in statuses:
            mutated = list(items)
            mutated[i] = _with_run(item, {**obj, "required_action": action})
            out.append((mutated, f"run.field.{rule.code.removeprefix('run.')}"))
    return out


def _stream_breaks(items: list[Item]) -> list[_Mutation]:
    """A stream that ends without its ``done`` event, and one that goes on after it."""
    done = [
        i for i, item in enumerate(items) if isinstance(item, StreamEvent) and item.event == "done"
    ]
    if not done:
        return []
    last = done[-1]
    dropped = items[:last] + items[last + 1 :]
    after = [*items[: last + 1], items[last - 1], *items[last + 1 :]]
    return [(dropped, "stream.unfinished"), (after, "stream.after_done")]


@st.composite
def mutated_traces(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    modes: tuple[str, ...] = _MODES,
    max_rounds: int = 3,
    max_calls: int = 4,
) -> tuple[list[Item], str]:
    """A legal trace (`traces`) broken in one known way, and the checker's code for the break.

    Breaks: two successive status observations reversed where the model has no way back
    (``run.terminal_left`` or ``run.illegal_transition``); a required_action on a polled run
    that is not waiting for outputs (``run.field.required_action.null``); a stream without its
    ``done`` event (``stream.unfinished``, a warning) or with an event after it
    (``stream.after_done``).
    """
    items = draw(traces(strictness, modes=modes, max_rounds=max_rounds, max_calls=max_calls))
    kinds = [
        k
        for k in (
            _reversals(items, strictness),
            _stray_required_action(items),
            _stream_breaks(items),
        )
        if k
    ]
    assume(kinds)
    mutated, code = draw(st.sampled_from(draw(st.sampled_from(kinds))))
    return _renumber(mutated), code


# -- a state machine for code that keeps its own view of a run ---------------------------------


class RunConsumer(Protocol):
    """What `run_view_machine` tests: code fed a run's events that keeps its view of the status.

    `feed` receives each server-sent event as ``(name, data)``, e.g. ``("thread.run.queued",
    run_object)``; `status` is the status it currently believes (None before it knows one).
    """

    def feed(self, event: str, data: dict[str, Any]) -> None: ...

    @property
    def status(self) -> str | None: ...


def _move(edge: Edge) -> Move:
    """The script move for a server or clock edge, with the plainest argument."""
    arg = 1 if edge.dest in _WAITING else _ARGS.get(edge.trigger, (None,))[0]
    return Move(edge.trigger, 0.0 if edge.actor is Actor.CLOCK else 1.0, arg)


def _reach(target: str, level: Strictness) -> dict[str, Any]:
    """A run object in `target`, as the emulator shows it, taken along the model's shortest path
    there (the client submits and cancels on the way); the script ends the plainest way."""
    path = RUN.path(RUN.initial, target, level) or ()
    moves: list[Move] = []
    on_cancel = Move(_server_moves(_CANCELLING, level)[0], 1.0)
    cancel_in: str | None = None
    status = RUN.initial
    for e in path:
        if e.trigger == _CANCEL:
            cancel_in = e.source
        elif cancel_in is not None:
            on_cancel = _move(e)
        elif e.actor is Actor.CLIENT:
            status = e.dest
        else:
            moves.append(_move(e))
            status = e.dest
    if status in _WAITING:
        status = RUN.fire(status, _ANSWER, level).dest
    while status not in RUN.terminal:
        plain = next(
            e
            for e in RUN.triggers(status, None, level)
            if e.actor is not Actor.CLIENT and e.dest not in _WAITING
        )
        moves.append(_move(plain))
        status = plain.dest
    drv = _Driver(Script(tuple(moves), on_cancel, level), stream=False)
    for _ in range(4 * _EXPIRY_SECONDS):
        run = drv.retrieve()
        if run["status"] == target:
            return run
        if run["status"] in _WAITING:
            drv.submit(run)
        elif run["status"] == cancel_in:
            drv.cancel()
            cancel_in = None
        else:
            drv.emu.clock.advance(1.0)
    raise AssertionError(f"the emulator never showed a {target} run")  # pragma: no cover


@functools.cache
def _samples(level: Strictness) -> dict[str, dict[str, Any]]:
    """A run object of each status reachable at `level`, from the emulator, with one id."""
    out = {s: _reach(s, level) for s in RUN.statuses if RUN.reachable(RUN.initial, s, level)}
    first = out[RUN.initial]
    for obj in out.values():
        obj.update(id=first["id"], thread_id=first["thread_id"], assistant_id=first["assistant_id"])
    return out


def run_view_machine(
    make_consumer: Callable[[], RunConsumer], *, strictness: Strictness = Strictness.STRICT
) -> type[RuleBasedStateMachine]:
    """A Hypothesis state machine that drives a run through the model and checks a consumer's view.

    Each rule fires a legal move of `runmodel.RUN` at `strictness`, by the server, the clock or
    the client, and feeds the consumer the ``thread.run.<status>`` event it makes, carrying an
    emulator's run object in that status; an invariant checks that the consumer's `status` is
    the model's. A further rule shows the current status again (a poll between two moves), so
    a run may go on being fed after it ends. `make_consumer` builds a fresh `RunConsumer` for
    each example. In a test file::

        TestMyConsumer = run_view_machine(MyConsumer).TestCase
    """
    level = Strictness(strictness)
    samples = _samples(level)

    def _can(actor: Actor) -> Callable[[Any], bool]:
        return lambda machine: bool(RUN.triggers(machine.status, actor, level))

    class RunViewMachine(RuleBasedStateMachine):
        """The model's run and a consumer's view of it, moved together."""

        def __init__(self) -> None:
            super().__init__()
            self.status = RUN.initial
            self.consumer = make_consumer()
            self.moves: list[str] = []
            self._feed("thread.run.created")
            self._feed(f"thread.run.{RUN.initial}")

        def _feed(self, event: str) -> None:
            self.consumer.feed(event, copy.deepcopy(samples[self.status]))

        def _fire(self, actor: Actor, data: st.DataObject) -> None:
            edge = data.draw(st.sampled_from(RUN.triggers(self.status, actor, level)), label="edge")
            self.moves.append(str(edge))
            self.status = edge.dest
            self._feed(f"thread.run.{edge.dest}")

        @precondition(_can(Actor.SERVER))
        @rule(data=st.data())
        def server_moves(self, data: st.DataObject) -> None:
            self._fire(Actor.SERVER, data)

        @precondition(_can(Actor.CLOCK))
        @rule(data=st.data())
        def clock_moves(self, data: st.DataObject) -> None:
            self._fire(Actor.CLOCK, data)

        @precondition(_can(Actor.CLIENT))
        @rule(data=st.data())
        def client_moves(self, data: st.DataObject) -> None:
            self._fire(Actor.CLIENT, data)

        @rule()
        def shown_again(self) -> None:
            """The same status once more, as a poll between two moves shows it."""
            self.moves.append(f"{self.status} again")
            self._feed(f"thread.run.{self.status}")

        @invariant()
        def view_is_the_model_status(self) -> None:
            seen = self.consumer.status
            assert seen == self.status, (
                f"the consumer says {seen!r}, the run is {self.status!r} after "
                f"{' ; '.join(self.moves) or 'creation'}"
            )

    return RunViewMachine
