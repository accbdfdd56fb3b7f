"""The real-time budget of one lifecycle: a watchdog that stops a client blocked in a wait no
virtual time can end, and where in the client's own code it was (or an exception came from)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import sysconfig
import threading
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .results import ClientBlocked

__all__ = ["BLOCKED", "AsyncBlocked", "Watchdog", "raised_where"]

BLOCKED = "the client was still running after"
"""How a blocked client's finding begins."""


class Watchdog:
    """Stops a client that runs longer than `seconds` of real time, wherever it is: by SIGALRM on
    the main thread (it interrupts blocking waits too), else by an asynchronous exception
    (which reaches a client busy in Python code, not one blocked in a wait). `boundary` is the
    code of the kit's frame that calls the client: frames from there out are not the client's."""

    def __init__(self, seconds: float, boundary: types.CodeType | None = None) -> None:
        self.seconds = seconds
        self.boundary = boundary
        self.armed = False
        self.target = threading.get_ident()
        self.previous: Any = None
        self.timer: threading.Timer | None = None
        self.pending: ClientBlocked | None = None
        self.signal = (
            hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )

    def blocked(self, frame: types.FrameType | None) -> ClientBlocked:
        where = _blocked_where(frame, self.boundary)
        at = f", at {where}" if where else ""
        return ClientBlocked(
            f"{BLOCKED} {self.seconds:g} s of real time{at}: a wait that nothing in the "
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
            ctypes.c_ulong(self.target), ctypes.py_object(AsyncBlocked)
        )

    def __enter__(self) -> Watchdog:
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


class AsyncBlocked(ClientBlocked):
    """What a watchdog off the main thread raises (it can only name a class)."""

    def __init__(self) -> None:
        super().__init__(f"{BLOCKED} its real-time budget")


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


def _blocked_where(frame: types.FrameType | None, boundary: types.CodeType | None) -> str | None:
    """Where a client was when stopped: its innermost own frame (for a coroutine, in its task)."""
    chain: list[tuple[types.FrameType, int]] = []
    while frame is not None and frame.f_code is not boundary:  # the client's frames only
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


def raised_where(exc: BaseException) -> str | None:
    """The client's own line an exception came through: its innermost frame in the traceback."""
    frames: list[tuple[types.FrameType, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return _innermost_client(frames)
