"""Soak: `runmodel serve` under concurrent SDK clients, random legal scripts and injected faults.

The emulator is served over real loopback sockets (`EmulatorServer`, what ``runmodel serve`` runs)
with random rate limits, server errors, dropped connections and slow replies. Each client, sync or
async, runs its runs one after another, each on a new thread with a random legal script, and waits
for it in a way drawn per run: the SDK's poll helpers, its own retrieve loop, an event stream, or a
cancel. Every client's traffic is recorded through the recorder. Afterwards:

- every planned run exists exactly once on the server: none lost, none duplicated by a retried
  create (a fault never half-applies a request);
- each run ended where its script (and the client's accepted cancel) says, on both sides;
- no error reached a client: every fault was absorbed by the SDK's retries;
- faults of every kind were injected, and retried;
- the recorded traffic conforms to the model at strict, with no input problem and nothing lost.

The short soak runs by default; the long one (16 clients x 200 runs) is marked ``slow``. Both are
bounded: a client past the deadline stops with an error that names it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.beta.threads import Run

from conformance.check import CheckFinished, ViolationFound, check
from conformance.emulator import Clock, Emulator, Move, Reply, Script
from conformance.emulator.script import FAIL_CODES, TOKEN_LIMITS
from conformance.emulator.server import EmulatorServer
from conformance.readers import read
from conformance.recorder import Recorder, record
from runmodel import RUN, Actor, Strictness

_WAITING = RUN.waiting  # requires_action: the run waits for the client
_TOOLS = [{"type": "function", "function": {"name": "lookup"}}]
_SYNC_MODES = ("poll", "loop", "stream", "cancel")
_ASYNC_MODES = ("poll", "stream")
_FAULTS = {"rate_limit": 0.03, "server_error": 0.02, "disconnect": 0.02, "slow": 0.03}
# The long soak's rarer backoff faults: five in a row on one request (0.5+1+2+4+8 s of the SDK's
# backoff) would let a waiting run expire; at 1% each that is expected once in ~60,000 soaks.
_LONG_FAULTS = {**_FAULTS, "server_error": 0.01, "disconnect": 0.01}
_POLLS = 10_000  # retrieves one run may take before its client gives up (a bound, not a goal)
# Server seconds per real second: at 100 a stall lasts 6 s and a script's delay 10-80 ms; a client
# pausing 6 s (four backoffs in a row) would meet an unscripted expiry, so the long soak runs at 50.
_SPEED = 100
_LONG_SPEED = 50
_STALLS = 0.025  # how often the walker takes an offered stall (the run then waits for expires_at)


def _random_script(rng: random.Random) -> Script:
    """A legal strict script: a random walk over the model's server and clock moves, with 0-2
    requires_action rounds of 1-3 calls, every failure code and token limit, and stalls."""
    rounds_wanted, rounds, status, moves = rng.randint(0, 2), 0, RUN.initial, []
    while status not in RUN.terminal:
        edges = [e for e in RUN.out(status, Strictness.STRICT) if e.actor is not Actor.CLIENT]
        if rounds < rounds_wanted:  # toward the next round: avoid ending the run
            edges = [e for e in edges if e.dest not in RUN.terminal] or edges
        else:
            edges = [e for e in edges if e.dest not in _WAITING]
        if len(edges) > 1 and rng.random() > _STALLS:
            edges = [e for e in edges if e.trigger != "expire"]
        edge = rng.choice(edges)
        arg: int | str | None = None
        if edge.dest in _WAITING:
            arg, rounds = rng.randint(1, 3), rounds + 1
        elif edge.trigger == "fail":
            arg = rng.choice(FAIL_CODES)
        elif edge.trigger == "hit_token_limit":
            arg = rng.choice(TOKEN_LIMITS)
        delay = 0.0 if edge.trigger == "expire" else float(rng.randint(1, 8))
        moves.append(Move(edge.trigger, delay, arg))
        status = edge.dest
        if status in _WAITING:  # the client answers the round
            status = RUN.fire(status, "submit_tool_outputs").dest
    return Script(tuple(moves))


@dataclass
class _Outcome:
    client: int
    run_id: str
    thread_id: str
    script: int
    mode: str
    status: str  # as the client last saw it
    cancelled: bool  # the client's cancel was accepted


class _Soak:
    """One soak: the server, the script pool, and what every client did."""

    def __init__(
        self,
        tmp: Path,
        *,
        clients: int,
        runs: int,
        seed: int,
        max_retries: int = 8,
        speed: float = _SPEED,
        faults: dict[str, float] = _FAULTS,
    ) -> None:
        rng = random.Random(seed)
        self.pool = [_random_script(rng) for _ in range(256)]
        # A real clock, sped up: a client's pause (the SDK's backoff after a fault) lets the run's
        # time pass as it would on a server, yet stays far from the 600 s of expires_at; the
        # server's time stays ahead of the recorder's wall clock.
        clock = Clock(real=True, speed=speed)
        self.emu = Emulator(clock=clock, latency=0.0, poll_after_ms=5, seed=seed)
        self.emu.script_chooser = lambda thread, run: self.pool[int(thread["metadata"]["script"])]
        self.emu.faults.random(**faults, retry_after=0.001, slow_seconds=10.0, seed=seed)
        self.clients, self.runs, self.seed, self.max_retries = clients, runs, seed, max_retries
        self.trace = tmp / "soak.jsonl"
        self.outcomes: list[_Outcome] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def go(self, deadline: float) -> Recorder:
        """Run every client to the end (or the deadline); return the closed recorder."""
        with record(self.trace) as recorder, EmulatorServer(self.emu) as server:
            self.deadline = time.monotonic() + deadline
            workers = [
                threading.Thread(target=self._client, args=(i, recorder, server.base_url))
                for i in range(self.clients)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join(max(0.0, self.deadline - time.monotonic()) + 30)
            stuck = [w.name for w in workers if w.is_alive()]
            assert not stuck, f"clients still running after the deadline: {stuck}"
        return recorder

    # -- one client -------------------------------------------------------------------------------

    def _client(self, index: int, recorder: Recorder, base_url: str) -> None:
        rng = random.Random(self.seed * 1000 + index)
        identity: dict[str, Any] = {"base_url": base_url, "api_key": "sk-soak"}
        identity["max_retries"] = self.max_retries
        try:
            if index % 4 == 3:  # a quarter of the clients are async
                asyncio.run(self._async_client(index, rng, recorder.async_client(**identity)))
            else:
                with recorder.client(**identity) as client:
                    asst = client.beta.assistants.create(model="gpt-4o", tools=_TOOLS)  # type: ignore[list-item]
                    for _ in range(self.runs):
                        self._one_run(index, rng, client, asst.id)
        except Exception as exc:  # any error reaching a client fails the soak, named
            with self._lock:
                self.errors.append(f"client {index}: {type(exc).__name__}: {exc}")

    def _pick(self, rng: random.Random, modes: tuple[str, ...]) -> tuple[str, int]:
        return rng.choice(modes), rng.randrange(len(self.pool))

    def _check_time(self, index: int) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"client {index} passed the soak's deadline")

    def _done(self, index: int, run: Run, script: int, mode: str, cancelled: bool) -> None:
        outcome = _Outcome(index, run.id, run.thread_id, script, mode, run.status, cancelled)
        with self._lock:
            self.outcomes.append(outcome)

    def _one_run(self, index: int, rng: random.Random, client: openai.OpenAI, asst: str) -> None:
        runs = client.beta.threads.runs
        mode, script = self._pick(rng, _SYNC_MODES)
        thread = client.beta.threads.create(metadata={"script": str(script)})
        cancelled = False
        if mode == "stream":
            run = self._stream(runs.create(thread.id, assistant_id=asst, stream=True))
            while run.status == "requires_action":
                run = self._stream(
                    runs.submit_tool_outputs(
                        run.id, thread_id=thread.id, tool_outputs=_answers(run), stream=True
                    )
                )
        elif mode == "poll":
            run = runs.create_and_poll(thread_id=thread.id, assistant_id=asst)
            while run.status == "requires_action":
                run = runs.submit_tool_outputs_and_poll(
                    run_id=run.id, thread_id=thread.id, tool_outputs=_answers(run)
                )
        else:
            run = runs.create(thread.id, assistant_id=asst)
            for _ in range(_POLLS):
                self._check_time(index)
                if run.status in RUN.terminal:
                    break
                if mode == "cancel" and not cancelled and run.status == "in_progress":
                    try:
                        run = runs.cancel(run.id, thread_id=thread.id)
                        cancelled = True
                    except openai.BadRequestError:  # it moved on first; the reply must say so
                        run = runs.retrieve(run.id, thread_id=thread.id)
                        assert run.status != "in_progress", "a cancel refused while in_progress"
                    continue
                if run.status == "requires_action":
                    run = runs.submit_tool_outputs(
                        run.id, thread_id=thread.id, tool_outputs=_answers(run)
                    )
                else:
                    time.sleep(0.02)
                    run = runs.retrieve(run.id, thread_id=thread.id)
        self._done(index, run, script, mode, cancelled)

    @staticmethod
    def _stream(stream: Any) -> Run:
        last = None
        with stream:
            for event in stream:
                if isinstance(event.data, Run):
                    last = event.data
        assert last is not None, "a stream without a run event"
        return last

    async def _async_client(
        self, index: int, rng: random.Random, client: openai.AsyncOpenAI
    ) -> None:
        async with client:
            await self._async_runs(index, rng, client)

    async def _async_runs(self, index: int, rng: random.Random, client: openai.AsyncOpenAI) -> None:
        runs = client.beta.threads.runs
        asst = await client.beta.assistants.create(model="gpt-4o", tools=_TOOLS)  # type: ignore[list-item]
        for _ in range(self.runs):
            self._check_time(index)
            mode, script = self._pick(rng, _ASYNC_MODES)
            thread = await client.beta.threads.create(metadata={"script": str(script)})
            if mode == "stream":
                run = await self._astream(
                    await runs.create(thread.id, assistant_id=asst.id, stream=True)
                )
                while run.status == "requires_action":
                    run = await self._astream(
                        await runs.submit_tool_outputs(
                            run.id, thread_id=thread.id, tool_outputs=_answers(run), stream=True
                        )
                    )
            else:
                run = await runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
                while run.status == "requires_action":
                    run = await runs.submit_tool_outputs_and_poll(
                        run_id=run.id, thread_id=thread.id, tool_outputs=_answers(run)
                    )
            self._done(index, run, script, f"async {mode}", False)

    @staticmethod
    async def _astream(stream: Any) -> Run:
        last = None
        async with stream:
            async for event in stream:
                if isinstance(event.data, Run):
                    last = event.data
        assert last is not None, "a stream without a run event"
        return last

    # -- the verdict ------------------------------------------------------------------------------

    def problems(self, recorder: Recorder) -> list[str]:
        """Everything wrong with the soak, each named (an empty list when it held)."""
        out = list(self.errors)
        planned = self.clients * self.runs
        ids = Counter(o.run_id for o in self.outcomes)
        if len(self.outcomes) != planned:
            out.append(f"{len(self.outcomes)} of {planned} runs finished")
        out += [f"run {rid} reported {n} times" for rid, n in ids.items() if n > 1]
        store = self.emu.store
        server_runs = Counter(rid for t in store.threads.values() for rid in t.runs)
        out += [
            f"run {rid} exists on the server but no client had it"
            for rid in server_runs.keys() - ids.keys()
        ]
        out += [f"run {rid} was lost by the server" for rid in ids.keys() - server_runs.keys()]
        for o in self.outcomes:
            want = "cancelled" if o.cancelled else self.pool[o.script].statuses()[-1]
            final = self.emu.run_object(o.run_id)["status"]
            if (o.status, final) != (want, want):
                out.append(
                    f"run {o.run_id} ({o.mode}, script {self.pool[o.script]}): client saw "
                    f"{o.status}, server has {final}, the script says {want}"
                )
            if len(store.threads[o.thread_id].runs) != 1:
                out.append(f"thread {o.thread_id} has runs {store.threads[o.thread_id].runs}")
        kinds = Counter(f.kind for _, f in self.emu.faults.injected)
        out += [f"no {kind} fault was injected" for kind in _FAULTS if not kinds[kind]]
        if recorder.lost:
            out.append(f"the recorder lost {recorder.lost} entries")
        for event in check(read(self.trace)):
            if isinstance(event, ViolationFound):
                out.append(f"recorded traffic: {event.violation}")
            elif isinstance(event, CheckFinished):
                summary = event.summary
                if summary.input_problems or summary.runs < planned:
                    out.append(f"recorded traffic: {summary.to_dict()}")
        return out


def _answers(run: Run) -> list[Any]:
    action = run.required_action
    assert action is not None, f"run {run.id} requires action but names none"
    return [{"tool_call_id": c.id, "output": "1"} for c in action.submit_tool_outputs.tool_calls]


def test_the_walker_draws_legal_scripts_of_every_ending() -> None:
    rng = random.Random(0)
    scripts = [_random_script(rng) for _ in range(300)]
    endings = {s.statuses()[-1] for s in scripts}
    assert endings == RUN.terminal - {"cancelled"}
    assert {s.rounds for s in scripts} == {0, 1, 2}


def test_a_short_soak(tmp_path: Path) -> None:
    soak = _Soak(tmp_path, clients=16, runs=3, seed=1)
    recorder = soak.go(deadline=120)
    assert soak.problems(recorder) == []
    assert Counter(o.mode for o in soak.outcomes).keys() >= {"poll", "loop", "stream"}


def test_the_verdict_catches_a_server_that_acts_before_it_drops(tmp_path: Path) -> None:
    """A broken server creates the run and then drops the connection: the SDK's retry creates a
    second run on the same thread (or meets its own run and gets a 400), and the soak says so."""
    soak = _Soak(tmp_path, clients=2, runs=2, seed=3)
    soak.emu.faults.clear()
    handle = soak.emu.handle

    dropped: set[str] = set()

    def broken(method: str, path: str, *args: Any) -> Reply:
        reply = handle(method, path, *args)
        if method == "POST" and path.endswith("/runs") and path not in dropped:
            dropped.add(path)  # the first create on each thread
            return Reply(0, [], drop=True)
        return reply

    soak.emu.handle = broken  # type: ignore[method-assign]
    found = "\n".join(soak.problems(soak.go(deadline=60)))
    assert found.count("exists on the server but no client had it") == len(dropped) >= 2


def test_the_verdict_catches_errors_that_reach_a_client(tmp_path: Path) -> None:
    soak = _Soak(tmp_path, clients=2, runs=3, seed=1, max_retries=0)  # faults are not retried
    found = soak.problems(soak.go(deadline=60))
    assert any(p.startswith("client ") and "Error" in p for p in found)
    assert any("runs finished" in p for p in found)


def test_the_verdict_catches_a_wrong_ending(tmp_path: Path) -> None:
    """A server that ignores a script's failure code (it completes every run that should fail)."""
    soak = _Soak(tmp_path, clients=2, runs=6, seed=2)
    soak.pool = [Script((Move("start", 1.0), Move("fail", 1.0, FAIL_CODES[0])))] * len(soak.pool)
    soak.emu.script_chooser = lambda thread, run: "start+1, complete+1"
    found = soak.problems(soak.go(deadline=60))
    assert any(
        "client saw completed, server has completed, the script says failed" in p for p in found
    )


@pytest.mark.slow
def test_the_long_soak(tmp_path: Path) -> None:
    soak = _Soak(tmp_path, clients=16, runs=100, seed=7, speed=_LONG_SPEED, faults=_LONG_FAULTS)
    recorder = soak.go(deadline=900)
    assert soak.problems(recorder) == []
    assert {o.status for o in soak.outcomes} == RUN.terminal  # stalls and cancels included
    assert set(Counter(o.mode for o in soak.outcomes)) == {
        *_SYNC_MODES,
        *(f"async {m}" for m in _ASYNC_MODES),
    }
