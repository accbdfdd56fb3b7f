"""No file the kit writes contains a planted API key, organization or project: not the recorder's
traces (sync, async, streaming, error replies), not the proxy's, not any check report."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from conformance.emulator import BASE_URL, Clock, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.transport import async_transport, transport
from conformance.proxy import RecordingProxy
from conformance.recorder import record
from runmodel.cli import main

KEY = "sk-PLANTED-3f9c2e7a1b"
ORG = "org-PLANTEDORG9"
PROJECT = "proj_PLANTEDPROJ7"
SECRETS = (KEY.encode(), ORG.encode(), PROJECT.encode())


def _identity() -> dict[str, Any]:
    return {"api_key": KEY, "organization": ORG, "project": PROJECT, "max_retries": 0}


def _exercise(client: Any, emulator: Emulator) -> None:
    """A polled run with a function round, a streamed round, and two error replies."""
    runs = client.beta.threads.runs
    thread_id, run_id = emulator.start_run("start+1, require_action(2)+1, start+1, complete+1")
    run = runs.poll(run_id, thread_id=thread_id)
    calls = run.required_action.submit_tool_outputs.tool_calls
    runs.submit_tool_outputs_and_poll(
        run_id=run_id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": "42"} for c in calls],
    )
    with pytest.raises(openai.BadRequestError):
        runs.cancel(run_id, thread_id=thread_id)  # finished: the documented 400
    with pytest.raises(openai.NotFoundError):
        runs.retrieve("run_missing", thread_id=thread_id)
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="hi")
    emulator.queue_scripts("start+1, require_action(1)+1, start+1, complete+1")
    asst = client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
    )
    with runs.stream(thread_id=thread.id, assistant_id=asst.id) as stream:
        stream.until_done()


async def _exercise_async(client: Any, emulator: Emulator) -> None:
    runs = client.beta.threads.runs
    thread_id, run_id = emulator.start_run("start+1, fail(server_error)+1")
    await runs.poll(run_id, thread_id=thread_id)
    with pytest.raises(openai.BadRequestError):
        await runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "x", "output": "1"}]
        )


def _assert_clean(folder: Path) -> int:
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret not in data, f"{path.name} contains {secret.decode()}"
        assert b"PLANTED" not in data, f"{path.name} contains part of a planted secret"
    return len(files)


def _reports(trace: Path, out: Path) -> None:
    for fmt in ("text", "json", "junit"):
        report = out / f"{trace.stem}.report.{fmt}"
        main(["check", str(trace), "--format", fmt, "--output", str(report)])


def test_the_recorder_and_every_report_keep_secrets_out(tmp_path: Path, capsys: Any) -> None:
    emulator = Emulator(clock=Clock(start=time.time()))
    sync_trace, async_trace = tmp_path / "sync.jsonl", tmp_path / "async.jsonl"
    with record(sync_trace) as rec, emulator.virtual_time():
        client = rec.client(transport=transport(emulator), base_url=BASE_URL, **_identity())
        _exercise(client, emulator)
    with record(async_trace) as rec, emulator.virtual_time():

        async def go() -> None:
            client = rec.async_client(
                transport=async_transport(emulator), base_url=BASE_URL, **_identity()
            )
            await _exercise_async(client, emulator)
            await client.close()

        asyncio.run(go())
    for trace in (sync_trace, async_trace):
        _reports(trace, tmp_path)
        assert b"[masked]" in trace.read_bytes()  # the headers were there, and masked
    out = capsys.readouterr()
    assert not any(s.decode() in out.out + out.err for s in SECRETS)
    assert _assert_clean(tmp_path) >= 8


def test_the_proxy_keeps_secrets_out(tmp_path: Path) -> None:
    emulator = Emulator(clock=Clock(start=time.time()))
    trace = tmp_path / "proxy.jsonl"
    with EmulatorServer(emulator) as server, RecordingProxy(server.base_url, trace) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, **_identity())
        thread = client.beta.threads.create()
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
        client.close()
    _reports(trace, tmp_path)
    assert b"[masked]" in trace.read_bytes()
    assert _assert_clean(tmp_path) >= 4
