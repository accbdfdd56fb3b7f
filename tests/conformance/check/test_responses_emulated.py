"""Traffic recorded from the emulator's ``/v1/responses`` through the SDK (`conformance.recorder`)
conforms at both strictnesses: background polls to each end, a stream dropped and resumed, a
cancel (twice), and a function round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from conformance.check import check
from conformance.emulator import Emulator
from conformance.emulator.transport import BASE_URL, http_module, transport
from conformance.readers import read
from conformance.recorder import record
from runmodel import RESPONSE, Strictness
from tests.helpers.checktrace import Outcome

TOOL = {"type": "function", "name": "total", "parameters": {"type": "object", "properties": {}}}
_BROKEN = (openai.APIConnectionError, http_module().RemoteProtocolError)


def _poll(emu: Emulator, client: openai.OpenAI, rid: str) -> Any:
    for _ in range(200):
        got = client.responses.retrieve(rid)
        if got.status not in RESPONSE.active:
            return got
        emu.clock.advance(1)
    raise AssertionError("the response never ended")


def _play(emu: Emulator, client: openai.OpenAI) -> None:
    """Every legal path the emulator serves, through the SDK."""
    for script in ("start+1, complete+3", "start+1, fail(server_error)+2"):
        emu.queue_response_scripts(script)
        _poll(emu, client, client.responses.create(model="m", input="x", background=True).id)
    emu.faults.schedule("stream_drop", method="POST", path="/responses", events=4)
    seen: list[Any] = []
    with pytest.raises(_BROKEN):
        seen.extend(client.responses.create(model="m", input="x", background=True, stream=True))
    rid = seen[0].response.id
    rest = list(
        client.responses.retrieve(rid, stream=True, starting_after=seen[-1].sequence_number)
    )
    assert rest[-1].type == "response.completed"
    emu.queue_response_scripts("start+1, complete+60")
    rid = client.responses.create(model="m", input="x", background=True).id
    emu.clock.advance(2)
    assert client.responses.cancel(rid).status == "cancelled"
    assert client.responses.cancel(rid).status == "cancelled"
    emu.queue_response_scripts("start+1, complete(2)+2")
    asked = _poll(
        emu, client, client.responses.create(model="m", input="x", background=True, tools=[TOOL]).id
    )
    calls = [i.call_id for i in asked.output if i.type == "function_call"]
    answer = client.responses.create(
        model="m",
        background=True,
        tools=[TOOL],
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": c, "output": "42"} for c in calls],
    )
    _poll(emu, client, answer.id)
    client.responses.delete(answer.id)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emulated") / "responses.trace.jsonl"
    emu = Emulator()
    with record(path) as rec:
        client = rec.client(
            transport=transport(emu, http_module()),
            api_key="sk-emulator",
            base_url=BASE_URL,
            max_retries=0,
        )
        _play(emu, client)
    return path


@pytest.mark.parametrize("strictness", list(Strictness), ids=lambda s: s.value)
def test_emulated_traffic_conforms(recorded: Path, strictness: Strictness) -> None:
    out = Outcome(list(check(read(recorded), strictness)))
    assert out.violations == []
    assert out.summary.exit_code == 0
    finals = sorted(r.final_status or "" for r in out.results)
    assert finals == ["cancelled", "completed", "completed", "completed", "completed", "failed"]
    edges = out.summary.coverage.edges[RESPONSE.name]
    assert edges.get(("queued", "cancelled"), 0) + edges.get(("in_progress", "cancelled"), 0) == 1
