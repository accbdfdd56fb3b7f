"""One lock around state: concurrent clients cannot break the one-active-run-per-thread rule."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import openai

from conformance.emulator import Emulator
from tests.helpers.emucheck import create_assistant, problems_in_log

TERMINAL_AT = {
    "completed": "completed_at",
    "failed": "failed_at",
    "cancelled": "cancelled_at",
    "incomplete": "completed_at",
    "expired": "expires_at",
}


def _race(n: int, action: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            out = action()
        except openai.BadRequestError as exc:
            out = exc
        with lock:
            results.append(out)

    workers = [threading.Thread(target=worker) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def test_racing_creates_give_exactly_one_run(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script = "start+1, complete+100"
    assistant_id = create_assistant(client, model="gpt-4o").id
    thread = client.beta.threads.create()
    results = _race(
        12, lambda: client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    )
    runs = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(runs) == 1
    assert len(errors) == 11
    expected = f"Thread {thread.id} already has an active run {runs[0].id}."
    assert {e.body["message"] for e in errors} == {expected}
    assert emu.store.threads[thread.id].runs == [runs[0].id]


def test_many_clients_many_runs_never_overlap_on_a_thread() -> None:
    emu = Emulator(script="start+1, require_action(2)+1, start+1, complete+2")
    client = emu.client(max_retries=0)
    assistant_id = create_assistant(
        client, model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
    ).id
    thread = client.beta.threads.create()
    finished: list[str] = []

    def one_client() -> None:
        # Each client retries a refused create (its thread is busy) until one run of its own has
        # ended: the count of runs then does not depend on how the threads were scheduled. Only a
        # run's owner moves the shared clock: waiters that advanced it could expire the owner's run
        # while it sat in requires_action, and its submit would then be refused.
        for _ in range(100_000):
            try:
                run = client.beta.threads.runs.create(
                    thread_id=thread.id, assistant_id=assistant_id
                )
            except openai.BadRequestError:
                time.sleep(0.001)  # real time: lets the owner's thread take the GIL
                continue
            while run.status not in TERMINAL_AT:
                if run.status == "requires_action":
                    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
                    run = client.beta.threads.runs.submit_tool_outputs(
                        run.id,
                        thread_id=thread.id,
                        tool_outputs=[{"tool_call_id": c.id, "output": "1"} for c in calls],
                    )
                else:
                    emu.clock.advance(0.5)
                    run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
            finished.append(run.id)
            return
        raise AssertionError("a client never got its run created")

    def guarded() -> None:
        try:
            one_client()
        except Exception as exc:  # reported below, with the test's own failure
            failures.append(exc)

    failures: list[Exception] = []
    workers = [threading.Thread(target=guarded) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    runs = [emu.run_object(r) for r in emu.store.threads[thread.id].runs]
    assert sorted(finished) == sorted(r["id"] for r in runs)
    assert len(runs) == len(workers)
    spans = sorted((r["created_at"], r[TERMINAL_AT[r["status"]]]) for r in runs)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert problems_in_log(emu) == []
    seqs = [r.seq for r in emu.requests]
    assert len(set(seqs)) == len(seqs)
