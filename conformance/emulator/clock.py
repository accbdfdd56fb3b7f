"""The emulator's clock: virtual seconds that move only when someone waits, or real seconds.

A virtual clock makes a client that sleeps ten seconds between polls run as fast as one that
does not sleep: `virtual_time` turns the process's sleeps into clock advances for the length of a
``with`` block. A real clock (for ``runmodel serve``) follows the wall clock, optionally sped up.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_START",
    "ClientInterrupted",
    "Clock",
    "Sleep",
    "TimeBudgetExceeded",
    "virtual_time",
    "virtual_time_session",
]

DEFAULT_START = 1_712_030_293.0
"""Where a virtual clock starts by default: the lesson's first ``created_at`` (deterministic ids
and timestamps make failures reproducible)."""

# The genuine functions, taken at import, before any `virtual_time` block can replace them
# (asyncio's and anyio's are taken as a block starts: blocks cannot nest).
_real_sleep = time.sleep
_monotonic = time.monotonic
_real_time = time.time


class ClientInterrupted(BaseException):
    """Raised into client code to stop it (a budget ran out): a BaseException, so that the
    client's own ``except Exception`` cannot swallow it. Harnesses may raise subclasses too."""


class TimeBudgetExceeded(ClientInterrupted):
    """Virtual time passed the clock's budget: raised from a sleep or a request."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """One sleep a client took inside `virtual_time`: how long, when (virtual), and through what."""

    seq: int  # shared with the emulator's request log, so the two merge into one timeline
    at: float  # virtual time when the sleep began
    seconds: float
    via: str  # "time.sleep", "asyncio.sleep", "anyio.sleep", "threading.Event.wait", ...


class Clock:
    """Virtual or real time, in epoch seconds, safe to share between threads.

    Virtual: starts at `start` and moves only by `advance`/`wait`. Real: `start` plus the real
    seconds since construction times `speed`, plus whatever `advance` added.
    """

    def __init__(
        self, start: float | None = None, *, real: bool = False, speed: float = 1.0
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.real = real
        self.speed = speed
        self._start = (time.time() if real else DEFAULT_START) if start is None else float(start)
        self._offset = 0.0
        self._t0 = _monotonic()
        self._lock = threading.Lock()
        self.seq: Callable[[], int] = itertools.count().__next__
        """Numbers requests and sleeps in one sequence (the emulator shares it)."""
        self.sleeps: list[Sleep] = []
        """Every sleep recorded by `virtual_time` on this clock, in order."""
        self.budget: float | None = None
        """Virtual seconds after the start past which sleeps and requests raise
        `TimeBudgetExceeded`; None for no limit."""
        self.on_sleep: Callable[[Sleep], None] | None = None
        """Called after each recorded sleep (may raise, e.g. a BaseException to stop a client)."""
        self._block: list[Sleep] | None = None  # the sleeps of the current `virtual_time` block

    def now(self) -> float:
        """The current time in epoch seconds."""
        if self.real:
            return self._start + (_monotonic() - self._t0) * self.speed + self._offset
        return self._start + self._offset

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started (virtual seconds for a real clock too)."""
        return self.now() - self._start

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back); return the new time."""
        if seconds > 0:
            with self._lock:
                self._offset += seconds
        return self.now()

    def advance_to(self, when: float) -> None:
        """Move the clock to `when` if that is later than now."""
        with self._lock:
            gap = when - self.now()
            if gap > 0:
                self._offset += gap

    def wait(self, seconds: float) -> None:
        """Let `seconds` of clock time pass: advance a virtual clock, really sleep on a real one."""
        if seconds <= 0:
            return
        if self.real:
            _real_sleep(seconds / self.speed)
        else:
            self.advance(seconds)

    def wait_until(self, when: float) -> None:
        """Let the clock reach `when`."""
        self.wait(when - self.now())

    def check_budget(self) -> None:
        """Raise `TimeBudgetExceeded` if the clock has passed its budget."""
        if self.budget is not None and self.elapsed > self.budget:
            raise TimeBudgetExceeded(
                f"virtual time budget of {self.budget:g} s exceeded ({self.elapsed:.2f} s passed)"
            )

    def _slept(self, seconds: float, via: str) -> None:
        at = self.now()
        self.advance(max(0.0, float(seconds)))
        record = Sleep(self.seq(), at, float(seconds), via)
        self.sleeps.append(record)
        if self._block is not None:
            self._block.append(record)
        if self.on_sleep is not None:
            self.on_sleep(record)
        self.check_budget()


# Modules whose references to the time functions stay real: the kit's own clock, the test runner
# and search engine (they time themselves), and the standard library's threading machinery (its
# own waits are judged by the `Condition`/`Event` replacements below). As freezegun does.
_UNTOUCHED = (
    "conformance.emulator.clock",
    "hypothesis",
    "_pytest",
    "pytest",
    "pluggy",
    "threading",
    "queue",
    "multiprocessing",
    "concurrent",
    "subprocess",
    "asyncio.",
    "anyio.",
)


class _Patches:
    """The fakes that stand in for the process's waits and clocks while virtual time is on.

    Installed once, they reach every reference a loaded module holds to ``time.sleep``,
    ``time.time``, ``time.monotonic``, ``asyncio.sleep`` or ``anyio.sleep`` (``from time import
    sleep as pause`` included: module globals are scanned, as freezegun does), and replace
    ``threading.Event.wait`` and ``threading.Condition.wait``. A module imported while they are
    installed binds the fakes and is put back when they are removed. Each fake follows the
    clock of the current `virtual_time` block, and is the real function outside one.
    """

    def __init__(self) -> None:
        self.clock: Clock | None = None
        self.base = 0.0  # the current clock's elapsed seconds when its block started
        self.carried = 0.0  # virtual seconds of the blocks that ended since installation
        self.holders = 0
        self.thread = 0  # the thread in the current block
        self.replaced: list[tuple[dict[str, Any], str, Any]] = []
        self.seen_modules: set[str] = set()
        self.reals: dict[int, Any] = {}
        self.fakes: dict[int, Any] = {}
        self.saved_attrs: list[tuple[Any, str, Any]] = []
        self.pairs: list[tuple[Any, Any]] = []  # (real, fake): keeps the ids above valid

    def mine(self) -> bool:
        """Whether the calling thread is the one in the `virtual_time` block: only its timed
        waits are virtual (worker threads of the SDK's HTTP stack keep their real timeouts)."""
        return threading.get_ident() == self.thread

    def shift(self) -> float:
        """How far the virtual clocks have moved the process's time since installation."""
        clock = self.clock
        return self.carried + (clock.elapsed - self.base if clock is not None else 0.0)

    def install(self) -> None:
        import asyncio  # here, not at import: `runmodel --help` stays fast

        try:
            import anyio
        except ImportError:  # pragma: no cover - anyio comes with the openai SDK
            anyio = None  # type: ignore[assignment]
        state = self
        real_asyncio_sleep = asyncio.sleep
        real_anyio_sleep = getattr(anyio, "sleep", None)
        real_event_wait = threading.Event.wait
        real_condition_wait = threading.Condition.wait

        def sleep(seconds: float) -> None:
            clock = state.clock
            if clock is None:
                return _real_sleep(seconds)
            if seconds < 0:  # as the real one does
                raise ValueError("sleep length must be non-negative")
            clock._slept(seconds, "time.sleep")
            return None

        async def asyncio_sleep(delay: float, result: Any = None) -> Any:
            clock = state.clock
            if clock is None:
                return await real_asyncio_sleep(delay, result)
            clock._slept(delay, "asyncio.sleep")
            return await real_asyncio_sleep(0, result)

        async def anyio_sleep(delay: float) -> None:
            clock = state.clock
            if clock is None or real_anyio_sleep is None:
                if real_anyio_sleep is not None:
                    await real_anyio_sleep(delay)
                return
            clock._slept(delay, "anyio.sleep")
            await real_anyio_sleep(0)  # yield once, on whatever backend anyio runs

        def monotonic() -> float:
            return _monotonic() + state.shift()

        def wall_time() -> float:
            return _real_time() + state.shift()

        def event_wait(self: threading.Event, timeout: float | None = None) -> bool:
            clock = state.clock
            if clock is None or not timeout or timeout < 0 or self.is_set() or not state.mine():
                return real_event_wait(self, timeout)
            clock._slept(timeout, "threading.Event.wait")
            return self.is_set()

        def condition_wait(self: threading.Condition, timeout: float | None = None) -> bool:
            clock = state.clock
            if clock is None or not timeout or timeout < 0 or not state.mine():
                return real_condition_wait(self, timeout)
            clock._slept(timeout, "threading.Condition.wait")
            return real_condition_wait(self, 0)  # let another thread notify, without waiting

        pairs: list[tuple[Any, Any]] = [
            (_real_sleep, sleep),
            (_real_time, wall_time),
            (_monotonic, monotonic),
            (real_asyncio_sleep, asyncio_sleep),
        ]
        if real_anyio_sleep is not None:
            pairs.append((real_anyio_sleep, anyio_sleep))
        self.reals = {id(real): fake for real, fake in pairs}
        self.fakes = {id(fake): real for real, fake in pairs}
        self.pairs = pairs
        for owner, name, fake in (
            (threading.Event, "wait", event_wait),
            (threading.Condition, "wait", condition_wait),
        ):
            self.saved_attrs.append((owner, name, getattr(owner, name)))
            setattr(owner, name, fake)
        self.scan()

    def scan(self) -> None:
        """Point every loaded module's references to the real functions at the fakes."""
        modules = sys.modules
        if len(modules) == len(self.seen_modules):
            return
        reals = self.reals
        for name, module in list(modules.items()):
            if name in self.seen_modules:
                continue
            self.seen_modules.add(name)
            if name.startswith(_UNTOUCHED):
                continue
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is not dict:
                continue
            for key, value in list(namespace.items()):
                fake = reals.get(id(value))
                if fake is not None and value is not fake:
                    namespace[key] = fake
                    self.replaced.append((namespace, key, value))

    def remove(self) -> None:
        """Put every real function back, in the modules imported meanwhile too."""
        for owner, name, real in reversed(self.saved_attrs):
            setattr(owner, name, real)
        for namespace, key, real in reversed(self.replaced):
            if id(namespace.get(key)) in self.fakes:
                namespace[key] = real
        fakes = self.fakes  # references bound while installed (imports, assignments)
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is not dict or name == __name__:
                continue
            for key, value in list(namespace.items()):
                real = fakes.get(id(value))
                if real is not None and value is not real:
                    namespace[key] = real
        self.__init__()  # type: ignore[misc]


_active_lock = threading.Lock()
_patches = _Patches()


@contextlib.contextmanager
def virtual_time_session() -> Iterator[None]:
    """Keep the fakes of `virtual_time` installed across several blocks.

    Finding every reference to the time functions scans every loaded module (tens of
    milliseconds); a harness that plays many lifecycles, one block each, holds a session so
    that the scan happens once (and again only for modules imported meanwhile).
    """
    with _active_lock:
        if _patches.holders == 0:
            _patches.install()
        _patches.holders += 1
    try:
        yield
    finally:
        with _active_lock:
            _patches.holders -= 1
            if _patches.holders == 0:
                _patches.remove()


@contextlib.contextmanager
def virtual_time(clock: Clock) -> Iterator[list[Sleep]]:
    """Within the block, every way the process waits or reads the time follows `clock`.

    Client code calls ``time.sleep`` directly (the lesson's poller does, and so does the SDK's
    ``runs.poll`` through ``time.sleep``/``anyio.sleep``), so no injected object can reach those
    waits: this block replaces them, only until it ends (see `_Patches`): ``time.sleep``,
    ``asyncio.sleep`` and ``anyio.sleep`` however they were imported, and the timed waits of
    ``threading.Event`` and ``threading.Condition`` (in the block's own thread). Sleeps return
    at once (async ones still yield to the event loop once) and are recorded on `clock.sleeps`;
    the block yields the list of its own sleeps. Blocks cannot nest. ``time.monotonic`` and
    ``time.time`` run ahead by the virtual seconds that pass, so a client's own deadline
    (``time.monotonic() + 30``) expires in virtual time. A wait with no timeout stays real
    (nothing virtual can end it), and so does a zero one (a poll, as the executor's semaphore).
    """
    if clock.real:
        raise ValueError("virtual_time needs a virtual clock (Clock(real=False))")
    with _active_lock:
        if _patches.clock is not None:
            raise RuntimeError("virtual_time blocks cannot nest or overlap")
        _patches.clock = clock  # reserve at once: a second block fails above
        _patches.thread = threading.get_ident()
    with virtual_time_session():
        _patches.scan()  # modules imported since the session began
        _patches.base = clock.elapsed
        clock._block = []
        try:
            yield clock._block
        finally:
            clock._block = None
            with _active_lock:
                _patches.carried += clock.elapsed - _patches.base
                _patches.clock = None
