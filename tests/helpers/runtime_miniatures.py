"""Clients that wait, block, exit or are called in ways the harness's runtime must handle.

Each sleeps through a different door (a name imported from ``time``, an alias, ``anyio``, an
``Event`` or ``Condition`` with a timeout) or blocks on something no virtual clock can end. The
sleepers are correct waiters: on the virtual clock they must pass, and fast. The others are
wrong on purpose, and each verdict names what they did.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time as t
from asyncio import sleep as async_pause
from time import sleep
from time import sleep as pause
from typing import Any

import anyio

SETTLED = ("requires_action", "completed", "failed", "cancelled", "expired", "incomplete")


def _waiter(client: Any, thread_id: str, run_id: str, wait: Any) -> Any:
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in SETTLED:
            return run
        wait(1)


def sleeps_imported_by_name(client: Any, thread_id: str, run_id: str) -> Any:
    """``from time import sleep``: bound when this module was imported."""
    return _waiter(client, thread_id, run_id, sleep)


def sleeps_by_alias(client: Any, thread_id: str, run_id: str) -> Any:
    """``from time import sleep as pause``."""
    return _waiter(client, thread_id, run_id, pause)


def sleeps_through_module_alias(client: Any, thread_id: str, run_id: str) -> Any:
    """``import time as t``; ``t.sleep``."""
    return _waiter(client, thread_id, run_id, lambda s: t.sleep(s))


def waits_on_event(client: Any, thread_id: str, run_id: str) -> Any:
    """``threading.Event().wait(timeout)`` as a sleep."""
    stop = threading.Event()
    return _waiter(client, thread_id, run_id, stop.wait)


def waits_on_condition(client: Any, thread_id: str, run_id: str) -> Any:
    """``Condition.wait(timeout)`` as a sleep."""
    cond = threading.Condition()

    def wait(seconds: float) -> None:
        with cond:
            cond.wait(seconds)

    return _waiter(client, thread_id, run_id, wait)


def deadline_by_monotonic(client: Any, thread_id: str, run_id: str) -> Any:
    """Polls with ``from time import sleep`` until its own ``t.monotonic()`` deadline of an hour:
    on the virtual clock the deadline is virtual too."""
    deadline = t.monotonic() + 3600
    while t.monotonic() < deadline:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in SETTLED:
            return run
        sleep(1)
    raise TimeoutError("the run took more than an hour")


async def async_sleeps_imported_by_name(client: Any, thread_id: str, run_id: str) -> Any:
    """``from asyncio import sleep as async_pause``, with an ``AsyncOpenAI`` client."""
    while True:
        run = await client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in SETTLED:
            return run
        await async_pause(1)


async def anyio_sleeper(client: Any, thread_id: str, run_id: str) -> Any:
    """``anyio.sleep``."""
    while True:
        run = await client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in SETTLED:
            return run
        await anyio.sleep(1)


def imports_sleep_late(client: Any, thread_id: str, run_id: str) -> Any:
    """Binds ``sleep`` at call time, after the harness started (as a lazily imported module
    would)."""
    from time import sleep as late

    return _waiter(client, thread_id, run_id, late)


# -- wrong on purpose ---------------------------------------------------------------------------


def blocks_on_event_forever(client: Any, thread_id: str, run_id: str) -> Any:
    """Waits for a signal that never comes: ``Event().wait()`` with no timeout."""
    client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
    threading.Event().wait()
    return None


def swallows_everything_and_blocks(client: Any, thread_id: str, run_id: str) -> Any:
    """Blocks on a lock it holds, and swallows any exception raised into it, once."""
    lock = threading.Lock()
    lock.acquire()
    try:
        lock.acquire()
    except BaseException:
        lock.acquire()  # blocks again: only a repeated stop ends it
    return None


def swallows_the_stop_around_its_poll(client: Any, thread_id: str, run_id: str) -> Any:
    """Polls until a status that never comes, swallowing whatever its poll raises."""
    while True:
        with contextlib.suppress(BaseException):  # the bug on show: even the kit's stop
            client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        t.sleep(1)


def blocks_on_a_socket(client: Any, thread_id: str, run_id: str) -> Any:
    """Reads from a local socket no one writes to (no timeout)."""
    mine, _theirs = socket.socketpair()
    with mine, _theirs:
        mine.recv(1)
    return None


def spins_without_polling(client: Any, thread_id: str, run_id: str) -> Any:
    """Busy-waits on a flag nothing sets, never asking the server."""
    flag = {"done": False}
    while not flag["done"]:
        pass
    return None


async def awaits_forever(client: Any, thread_id: str, run_id: str) -> Any:
    """Awaits a future no one resolves."""
    await client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
    await asyncio.get_running_loop().create_future()
    return None


def exits(client: Any, thread_id: str, run_id: str) -> Any:
    """Calls ``sys.exit(3)`` when the run did not complete."""
    run = _waiter(client, thread_id, run_id, sleep)
    if run.status != "completed":
        sys.exit(3)
    return run


def no_run_id(client: Any, thread_id: str) -> Any:
    """A signature the waiter contract cannot call."""
    return None


def raises_while_cancelling(client: Any, thread_id: str, run_id: str) -> Any:
    """Gives up (raises) as soon as it sees ``cancelling``."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in SETTLED:
            return run
        if run.status == "cancelling":
            raise RuntimeError("the run is being cancelled")
        sleep(1)
