"""Injected faults: retried by the SDK where it retries, and never a change of state."""

from __future__ import annotations

import openai
import pytest

from conformance.emulator import Emulator, Fault, Faults
from conformance.emulator.faults import parse_faults


def test_rate_limit_is_retried_after_retry_after(emu: Emulator) -> None:
    client = emu.client(max_retries=2)
    thread_id, run_id = emu.start_run("start+1, complete+1")
    emu.faults.schedule(Fault("rate_limit", 3), method="GET", path="/threads/*/runs/*")
    with emu.virtual_time() as sleeps:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.id == run_id
    assert [(r.status, r.fault) for r in emu.requests] == [(429, "rate_limit"), (200, None)]
    assert dict(emu.requests[0].headers)["retry-after"] == "3"
    assert emu.requests[0].json()["error"]["code"] == "rate_limit_exceeded"
    assert [s.seconds for s in sleeps] == [3.0]  # the SDK waited as told, in virtual time


def test_server_errors_are_retried_and_have_no_effect(emu: Emulator) -> None:
    client = emu.client(max_retries=2)
    emu.faults.schedule("server_error", method="POST", path="/threads", count=2)
    with emu.virtual_time():
        thread = client.beta.threads.create()
    assert [r.status for r in emu.requests] == [500, 500, 200]
    assert list(emu.store.threads) == [thread.id]  # two faulted creates made nothing


def test_retries_run_out(emu: Emulator) -> None:
    client = emu.client(max_retries=1)
    emu.faults.schedule("server_error", count=5)
    with emu.virtual_time(), pytest.raises(openai.InternalServerError):
        client.beta.threads.create()
    assert len(emu.requests) == 2
    assert emu.store.threads == {}


def test_dropped_connection_without_retries(emu: Emulator) -> None:
    client = emu.client(max_retries=0)
    thread_id, run_id = emu.start_run("start, require_action, start, complete")
    emu.clock.advance(1)
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    outputs = [
        {"tool_call_id": c.id, "output": "x"}
        for c in run.required_action.submit_tool_outputs.tool_calls
    ]  # type: ignore[union-attr]
    emu.faults.schedule("disconnect", path="*/submit_tool_outputs")
    with pytest.raises(openai.APIConnectionError):
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=outputs
        )
    assert emu.requests[-1].status is None
    assert emu.requests[-1].fault == "disconnect"
    assert emu.run_object(run_id)["status"] == "requires_action"  # the submit never arrived
    after = client.beta.threads.runs.submit_tool_outputs(
        run_id, thread_id=thread_id, tool_outputs=outputs
    )
    assert after.status == "queued"


def test_dropped_connection_is_retried(emu: Emulator) -> None:
    client = emu.client(max_retries=2)
    emu.faults.schedule("disconnect")
    with emu.virtual_time():
        client.beta.threads.create()
    assert [r.status for r in emu.requests] == [None, 200]


def test_slow_reply_takes_virtual_time(emu: Emulator) -> None:
    client = emu.client()
    thread_id, run_id = emu.start_run("start+1, complete+20")
    emu.faults.schedule(Fault("slow", 30))
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "completed"  # 30 s passed before the server answered
    assert emu.requests[0].fault == "slow"
    assert emu.requests[0].status == 200


def test_random_faults_are_reproducible() -> None:
    def pattern(seed: int) -> list[str | None]:
        emu = Emulator(seed=seed)
        emu.faults.random(rate_limit=0.2, server_error=0.2, disconnect=0.1, slow=0.1)
        client = emu.client(max_retries=10)
        with emu.virtual_time():
            for _ in range(10):
                client.beta.threads.create()
        assert len(emu.store.threads) == 10  # every faulted try left no trace
        return [r.fault for r in emu.requests]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert {"rate_limit", "server_error", "disconnect", "slow", None} >= set(pattern(7))


def test_schedule_matching_and_clearing() -> None:
    faults = Faults()
    faults.schedule("server_error", method="post", path="/threads/*/runs", count=2)
    assert faults.pick(1, "GET", "/threads/t/runs") is None
    assert faults.pick(2, "POST", "/threads/t/runs") == Fault("server_error")
    faults.random(rate_limit=1.0)
    assert faults.pick(3, "POST", "/threads/t/runs") == Fault("server_error")  # the schedule first
    assert faults.pick(4, "POST", "/threads/t/runs") == Fault("rate_limit", 1.0)
    faults.clear()
    assert not faults
    assert faults.pick(5, "GET", "/x") is None
    assert [seq for seq, _ in faults.injected] == [2, 3, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate_limit=2", "a probability is between 0 and 1"),
        ("boom=0.1", "expected KIND=PROBABILITY"),
        ("slow=x", "'x' is not a probability"),
        ("rate_limit=0.6,server_error=0.6", "add up to more than 1"),
    ],
)
def test_fault_spec_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_faults(text)


def test_fault_spec_and_bad_values() -> None:
    assert parse_faults("rate_limit=0.1, slow=0.2") == {"rate_limit": 0.1, "slow": 0.2}
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 1"):
        Faults().random(rate_limit=0.9, slow=0.2)
