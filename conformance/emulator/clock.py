"""The emulator's clock: virtual seconds that move only when someone waits, or real seconds.

A virtual clock makes a client that sleeps ten seconds between polls run as fast as one that
does not sleep: `virtual_time` turns the process's sleeps into clock advances for the length of a
``with`` block. A real clock (for ``runmodel serve``) follows the wall clock, optionally sped up.
"""

from __future__ import annotations

import contextlib
import itertools
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
    via: str  # "time.sleep", "asyncio.sleep" or "anyio.sleep"


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


_active_lock = threading.Lock()
_active: list[Clock] = []


@contextlib.contextmanager
def virtual_time(clock: Clock) -> Iterator[list[Sleep]]:
    """Within the block, ``time.sleep``, ``asyncio.sleep`` and ``anyio.sleep`` advance `clock`.

    Client code calls ``time.sleep`` directly (the lesson's poller does, and so does the SDK's
    ``runs.poll`` through ``time.sleep``/``anyio.sleep``), so no injected object can reach those
    waits: this block is the one place where globals are replaced, only sleep functions, and only
    until the block ends. Sleeps return at once (async ones still yield to the event loop once)
    and are recorded on `clock.sleeps`; the block yields the list of its own sleeps. Blocks
    cannot nest. ``time.monotonic`` and ``time.time`` run ahead by the virtual seconds that pass
    in the block, so a client's own deadline (``time.monotonic() + 30``) expires in virtual time.
    """
    if clock.real:
        raise ValueError("virtual_time needs a virtual clock (Clock(real=False))")
    with _active_lock:
        if _active:
            raise RuntimeError("virtual_time blocks cannot nest or overlap")
        _active.append(clock)

    import asyncio  # here, not at import: `runmodel --help` stays fast

    real_asyncio_sleep = asyncio.sleep

    def fake_sleep(seconds: float) -> None:
        if seconds < 0:  # as the real one does
            raise ValueError("sleep length must be non-negative")
        clock._slept(seconds, "time.sleep")

    async def fake_asyncio_sleep(delay: float, result: Any = None) -> Any:
        clock._slept(delay, "asyncio.sleep")
        return await real_asyncio_sleep(0, result)

    try:
        import anyio
    except ImportError:  # pragma: no cover - anyio comes with the openai SDK
        anyio = None  # type: ignore[assignment]
    saved_anyio = getattr(anyio, "sleep", None)

    async def fake_anyio_sleep(delay: float) -> None:
        clock._slept(delay, "anyio.sleep")
        if saved_anyio is not None:  # yield once, on whatever backend anyio runs
            await saved_anyio(0)

    base = clock.elapsed

    def fake_monotonic() -> float:
        return _monotonic() + (clock.elapsed - base)

    def fake_time() -> float:
        return _real_time() + (clock.elapsed - base)

    time.sleep = fake_sleep  # type: ignore[assignment]
    time.monotonic = fake_monotonic
    time.time = fake_time
    asyncio.sleep = fake_asyncio_sleep
    if anyio is not None:
        anyio.sleep = fake_anyio_sleep
    clock._block = []
    try:
        yield clock._block
    finally:
        clock._block = None
        time.sleep = _real_sleep
        time.monotonic = _monotonic
        time.time = _real_time
        asyncio.sleep = real_asyncio_sleep
        if anyio is not None:
            anyio.sleep = saved_anyio  # type: ignore[assignment]
        with _active_lock:
            _active.clear()
