"""Virtual time: sleeps move the clock instead of waiting and are recorded; budgets stop hangs."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import openai
import pytest

from conformance.emulator import Clock, Emulator, Request, RequestBudgetExceeded, TimeBudgetExceeded
from conformance.emulator.clock import DEFAULT_START, virtual_time


def poll_run_status(client: Any, thread_id: str, run_id: str, interval: float = 10) -> Any:
    """The seed lesson's poller, verbatim but for its print."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in ["requires_action", "completed"]:
            return run
        time.sleep(interval)  # 等待后再次检查


def test_lesson_poller_with_ten_second_sleeps_runs_in_virtual_time(emu: Emulator) -> None:
    client = emu.client()
    thread_id, run_id = emu.start_run("start+1, complete+59")  # 60 virtual seconds
    created = emu.clock.elapsed
    with emu.virtual_time() as sleeps:
        run = poll_run_status(client, thread_id, run_id, interval=10)
    assert run.status == "completed"
    polls = [r for r in emu.requests if r.method == "GET"]
    # polls at +0.05, 10.10, …, 60.35 (0.05 s of latency each); the 7th sees the run completed
    assert len(polls) == 7
    assert [s.seconds for s in sleeps] == [10.0] * 6
    assert emu.clock.elapsed - created == pytest.approx(60.35)
    assert [p.json()["status"] for p in polls] == ["queued"] + ["in_progress"] * 5 + ["completed"]


def test_sleeps_and_requests_share_one_timeline(emu: Emulator) -> None:
    client = emu.client()
    thread_id, run_id = emu.start_run("start+1, complete+25")
    with emu.virtual_time() as sleeps:
        poll_run_status(client, thread_id, run_id, interval=10)
    timeline = sorted([*emu.requests, *sleeps], key=lambda x: x.seq)
    kinds = ["poll" if isinstance(x, Request) else "sleep" for x in timeline]
    assert kinds == ["poll", "sleep", "poll", "sleep", "poll", "sleep", "poll"]
    assert all(a.at <= b.at for a, b in itertools.pairwise(timeline))


def test_patch_is_scoped_and_restored() -> None:
    real = time.sleep, asyncio.sleep
    clock = Clock()
    inside: list[bool] = []

    def body() -> None:
        with virtual_time(clock):
            inside.append(time.sleep is not real[0] and asyncio.sleep is not real[1])
            time.sleep(5)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        body()
    assert inside == [True]
    assert (time.sleep, asyncio.sleep) == real
    assert clock.elapsed == 5
    assert [(s.seconds, s.via) for s in clock.sleeps] == [(5.0, "time.sleep")]


def test_blocks_cannot_nest_and_need_a_virtual_clock() -> None:
    with virtual_time(Clock()), pytest.raises(RuntimeError, match="nest"), virtual_time(Clock()):
        pass  # pragma: no cover
    with pytest.raises(ValueError, match="virtual clock"), virtual_time(Clock(real=True)):
        pass  # pragma: no cover


def test_async_sleeps_advance_the_clock_and_still_yield() -> None:
    clock = Clock()
    order: list[str] = []

    async def worker(name: str, seconds: float) -> None:
        for _ in range(2):
            await asyncio.sleep(seconds)
            order.append(name)

    async def main() -> Any:
        return await asyncio.gather(worker("a", 10), worker("b", 3), asyncio.sleep(1, result="r"))

    with virtual_time(clock) as sleeps:
        result = asyncio.run(main())
    assert result[-1] == "r"
    assert sorted(order) == ["a", "a", "b", "b"]
    assert order[:2] == ["a", "b"]
    assert clock.elapsed == 27
    assert {s.via for s in sleeps} == {"asyncio.sleep"}


def test_clock_start_and_real_mode() -> None:
    assert Clock().now() == DEFAULT_START
    real = Clock(real=True, speed=1000)
    before = real.now()
    real.wait(2)  # two clock seconds: 2 ms of real time at this speed
    assert real.now() - before >= 2
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=0)


def test_time_budget_stops_a_client_that_polls_forever() -> None:
    emu = Emulator(script="start+1, fail+1")  # the lesson's poller never stops on failed
    client = emu.client()
    thread_id, run_id = emu.start_run()
    emu.clock.budget = emu.clock.elapsed + 120
    caught: list[Exception] = []

    def stubborn() -> None:
        while True:
            try:
                poll_run_status(client, thread_id, run_id)
            except Exception as exc:  # a client that swallows everything
                caught.append(exc)

    with emu.virtual_time(), pytest.raises(TimeBudgetExceeded):
        stubborn()
    assert caught == []
    assert emu.run_object(run_id)["status"] == "failed"


def test_request_budget_passes_through_the_sdk() -> None:
    emu = Emulator(script="start+1, fail+1", max_requests=5)
    client = emu.client(max_retries=3)
    thread_id, run_id = emu.start_run()
    swallowed: list[Exception] = []

    def client_code() -> None:
        try:
            poll_run_status(client, thread_id, run_id)
        except Exception as exc:  # pragma: no cover - must not happen
            swallowed.append(exc)

    with emu.virtual_time(), pytest.raises(RequestBudgetExceeded):
        client_code()
    assert swallowed == []
    assert len(emu.requests) == 5


def test_on_request_hook_sees_every_request_and_can_stop_the_client() -> None:
    class Stop(BaseException):
        pass

    seen: list[tuple[str, str, int | None]] = []

    def hook(rec: Request) -> None:
        seen.append((rec.method, rec.path, rec.status))
        if rec.json().get("status") == "failed":
            raise Stop

    emu = Emulator(script="start+1, fail+1", on_request=hook)
    client = emu.client()
    thread_id, run_id = emu.start_run()
    with emu.virtual_time(), pytest.raises(Stop):
        poll_run_status(client, thread_id, run_id, interval=1)
    assert seen[0] == ("GET", f"/v1/threads/{thread_id}/runs/{run_id}", 200)
    assert len(seen) == 3


def test_sleep_hook(emu: Emulator) -> None:
    seen: list[float] = []
    emu.clock.on_sleep = lambda s: seen.append(s.seconds)
    with emu.virtual_time():
        time.sleep(2)
        time.sleep(0)
    assert seen == [2.0, 0.0]


def test_sdk_errors_are_still_errors_inside_virtual_time(emu: Emulator) -> None:
    client = emu.client(max_retries=0)
    with emu.virtual_time(), pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve("thread_x")
