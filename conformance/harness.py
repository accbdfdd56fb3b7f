"""Property-test client code against the model: play it every legal lifecycle, report the smallest
that breaks it.

`check_client(fn, contract=...)` is the one call a user's test makes. Hypothesis draws scenarios
from the model (`conformance.strategies`), the emulator plays each one to ``fn(client, thread_id,
run_id)`` through the real ``openai`` SDK on a virtual clock, and the contract's properties are
judged from what the client did (every request and sleep) and what the server's run did.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import itertools
import signal
import sys
import sysconfig
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from runmodel import RUN, Actor, Strictness

from ._sdk import MIN_SDK, quiet_assistants_deprecation, sdk_version
from .emulator import Emulator, Script, parse_script
from .emulator.api import Reply, Request
from .emulator.clock import ClientInterrupted, virtual_time_session
from .strategies import Scenario, scenarios

__all__ = [
    "FUTURE_STATUS",
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
]

_WAITING = RUN.waiting
_HEADERS = {"openai-beta": "assistants=v2"}
_MAX_REQUESTS = 2000  # a client past this many requests in one lifecycle is stopped
_TIME_BUDGET = 4 * 3600.0  # virtual seconds after which a client is stopped
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
            f"lifecycles ({self.strictness.value})",
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
    hang_after: float = HANG_AFTER,
    progress: Callable[[Progress], None] | None = None,
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
    reproduce" line; ``{scenario}`` in it is filled in. A lifecycle that takes more than
    `hang_after` real seconds stops the client and the search (`ClientBlocked`). `progress` is
    called after each lifecycle. Raises `CannotCheck` before anything runs if `fn` cannot be
    called as a client, and `CheckInterrupted` on Ctrl-C with what was found so far.
    """
    __tracebackhide__ = True  # pytest shows the client's test, not the kit's frames
    level = Strictness(strictness)
    promise = Contract(contract)
    _check_target(fn, promise)
    summary = Summary(promise, level)
    options = _Options(promise, level, settle_polls, poll_interval, future_status, hang_after)

    failures: list[Counterexample] = []

    def fail(found: Counterexample) -> ClientCheckFailed:
        sc = found.scenario
        how = _reproduce(fn, options, sc) if reproduce is None else reproduce
        return ClientCheckFailed(found, how.replace("{scenario}", str(sc)))

    def plainest(prop: str | None = None) -> ClientCheckFailed | None:
        # Hypothesis shrinks by its own order; report the simplest failure of the same
        # property that the search witnessed, so the lifecycle a reader sees is the plainest.
        same = [f for f in failures if prop is None or f.prop == prop]
        return fail(min(same, key=_simplicity)) if same else None

    phase = "replaying" if scenario is not None else "searching"

    def one(sc: Scenario) -> None:
        path, found = _play(fn, sc, options)
        summary.add(path)
        if found is not None:
            failures.append(found)
        if progress is not None:
            progress(Progress(summary.examples, len(failures), "shrinking" if failures else phase))
        if found is not None:
            if found.prop == "terminates" and found.message.startswith(_BLOCKED):
                raise _StopSearch(found)  # every replay would take `hang_after` again
            raise fail(found)

    with quiet_assistants_deprecation(), virtual_time_session():
        try:
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
                phases=_PHASES,
            )
            test = conf(given(scenarios(level, cancel=cancel))(one))
            if seed is not None:
                test = hypothesis_seed(seed)(test)
            test()
        except ClientCheckFailed as failed:
            raise plainest(failed.counterexample.prop) or failed from None
        except _StopSearch as stop:
            raise fail(stop.found) from None
        except KeyboardInterrupt:
            raise CheckInterrupted(summary, plainest()) from None
    return summary


class _StopSearch(BaseException):
    """Ends a search at once (Hypothesis lets a BaseException through)."""

    def __init__(self, found: Counterexample) -> None:
        super().__init__(found.message)
        self.found = found


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
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check beforehand
    try:
        sig.bind(None, "thread_id", "run_id")
    except TypeError as exc:
        raise CannotCheck(
            f"{name}({', '.join(map(str, sig.replace(return_annotation=sig.empty).parameters))}) "
            f"cannot be called as {name}(client, thread_id, run_id), "
            f"as the {contract.value} contract calls it ({exc})"
        ) from None


def play(
    fn: ClientFn,
    scenario: Scenario | Script | str,
    contract: Contract | str = Contract.WAITER,
    *,
    strictness: Strictness | str = Strictness.STRICT,
    settle_polls: int = 10,
    poll_interval: float | None = None,
    future_status: bool = False,
    hang_after: float = HANG_AFTER,
) -> Counterexample | None:
    """Play one lifecycle to `fn` and judge it: the counterexample, or None if all held."""
    level = Strictness(strictness)
    promise = Contract(contract)
    _check_target(fn, promise)
    options = _Options(promise, level, settle_polls, poll_interval, future_status, hang_after)
    return _play(fn, _as_scenario(scenario, level), options)[1]


# -- playing one lifecycle --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    contract: Contract
    strictness: Strictness
    settle_polls: int
    poll_interval: float | None
    future_status: bool = False
    hang_after: float = HANG_AFTER


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


def _call(
    fn: ClientFn, emu: Emulator, thread_id: str, run_id: str, future: bool, hang_after: float
) -> _Outcome:
    out = _Outcome()
    is_async = inspect.iscoroutinefunction(fn)
    if future:
        _serve_future_status(emu, run_id)
    strict = not future  # a future status fails strict validation; the SDK's default is loose
    client = emu.async_client(strict=strict) if is_async else emu.client(strict=strict)
    with quiet_assistants_deprecation(), emu.virtual_time():
        dog = _Watchdog(hang_after)
        try:
            with dog:
                try:
                    if is_async:
                        out.returned = asyncio.run(fn(client, thread_id, run_id))
                    else:
                        out.returned = fn(client, thread_id, run_id)
                except ClientInterrupted as exc:
                    out.hung = exc
                except (Exception, SystemExit) as exc:  # SystemExit: the client's own exit()
                    out.raised = exc
        except ClientBlocked as exc:  # the alarm rang as the client returned
            out.hung = exc
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
    for m in (sys.modules["runmodel"], sys.modules[__package__ or "conformance"])
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
    loop = asyncio._get_running_loop()  # a client suspended in an await: look at its tasks
    if loop is not None:
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
    fn: ClientFn, scenario: Scenario, options: _Options
) -> tuple[tuple[str, ...], Counterexample | None]:
    emu = Emulator(strictness=options.strictness, seed=0)
    watch = _Watch(emu, options, scenario)
    emu.on_request = watch.on_request
    emu.clock.budget = _TIME_BUDGET
    thread_id, run_id = emu.start_run(scenario.script)
    watch.thread_id, watch.run_id, watch.created = thread_id, run_id, emu.clock.now()
    out = _call(fn, emu, thread_id, run_id, options.future_status, options.hang_after)
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
    if isinstance(out.hung, ClientBlocked):
        return "terminates", str(out.hung)
    if out.hung is not None:
        if watch.settled_status is None:
            return "terminates", f"the client was stopped: {out.hung}"
        kind = "terminal" if watch.settled_status in RUN.terminal else "settled"
        return "terminates", (
            f"the client fetched the run {watch.after_settled} more times after it became "
            f"{watch.settled_status} ({kind}) and never returned"
        )
    if out.raised is not None:
        where = _raised_where(out.raised)
        what = f"the client raised {_describe(out.raised)}" + (f" (at {where})" if where else "")
        if options.future_status and _served_future(emu, watch):
            return "forward_compatible", (
                f"{what}, after the run reported status {FUTURE_STATUS!r}, which the model does "
                "not know (a future API may add statuses: keep polling through unknown ones)"
            )
        if status in RUN.active and not _client_cancelled(emu, watch):
            return "leaves_no_active_run", (
                f"{what}, leaving the run {status}: {_give_up_advice(status, options.strictness)}"
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


def _reproduce(fn: ClientFn, options: _Options, scenario: Scenario) -> str:
    """The call that replays this lifecycle, with every option that shaped it."""
    name = getattr(fn, "__qualname__", "fn")
    args = [name, repr(options.contract.value), f"strictness={options.strictness.value!r}"]
    if options.settle_polls != 10:
        args.append(f"settle_polls={options.settle_polls}")
    if options.poll_interval is not None:
        args.append(f"poll_interval={options.poll_interval:g}")
    if options.future_status:
        args.append("future_status=True")
    if options.hang_after != HANG_AFTER:
        args.append(f"hang_after={options.hang_after:g}")
    return f'check_client({", ".join(args)}, scenario="{scenario}")'
