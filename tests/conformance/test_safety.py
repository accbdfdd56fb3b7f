"""No file the kit writes contains a planted API key, organization or project: not the recorder's
traces (sync, async, streaming, error replies), not the proxy's, not any check report, not what
``runmodel conform`` and ``runmodel demo`` write or print; not even when a server echoes them."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
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
from tests.helpers.demo_result import DemoRun
from tests.helpers.planted import ENVIRONMENT, KEY, ORG, PROJECT, SECRETS


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


class _Echo(http.server.BaseHTTPRequestHandler):
    """A careless server: every reply echoes the request's secret headers, in a 401 error's
    message, or (for a request asking for a stream) in an event of a stream."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        asked = self.rfile.read(int(self.headers.get("content-length") or 0))
        said = {k: self.headers.get(k) for k in ("authorization", "openai-organization")}
        if b'"stream"' in asked:
            body = (
                b"event: thread.run.created\ndata: %s\n\ndata: [DONE]\n\n"
                % json.dumps(said).encode()
            )
            status, kind = 200, "text/event-stream"
        else:
            message = f"Incorrect API key provided: {said}"
            body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
            body, status, kind = body.encode(), 401, "application/json"  # type: ignore[assignment]
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _echoed(client: Any) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client.beta.threads.create()
    assert KEY in str(caught.value)  # the server did echo it: the trace must not
    with client.beta.threads.runs.create("thread_x", assistant_id="a", stream=True) as stream:
        assert [e.event for e in stream] == ["thread.run.created"]


def test_secrets_a_server_echoes_are_masked_too(
    echo_server: str, tmp_path: Path, capsys: Any
) -> None:
    direct, proxied = tmp_path / "direct.jsonl", tmp_path / "proxied.jsonl"
    with record(direct) as rec, rec.client(base_url=echo_server, **_identity()) as client:
        _echoed(client)
    with (
        RecordingProxy(echo_server, proxied) as proxy,
        openai.OpenAI(base_url=proxy.base_url, **_identity()) as client,
    ):
        _echoed(client)
    for trace in (direct, proxied):
        _reports(trace, tmp_path)
        assert trace.read_bytes().count(b"[masked]") >= 6  # headers, error message, event
    out = capsys.readouterr()
    assert not any(s.decode() in out.out + out.err for s in SECRETS)
    assert _assert_clean(tmp_path) == 8


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planted secrets where the SDK looks for them by default."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("planted")
def test_conform_keeps_secrets_out(tmp_path: Path, echo_server: str, capsys: Any) -> None:
    emulator = Emulator(clock=Clock(real=True, speed=200.0), poll_after_ms=10)
    with EmulatorServer(emulator) as server:
        for fmt in ("text", "json"):
            trace = tmp_path / f"conform-{fmt}.jsonl"
            argv = ["conform", "--base-url", server.base_url, "--trace", str(trace)]
            assert main([*argv, "--format", fmt]) == 0
            assert b"[masked]" in trace.read_bytes()
            _reports(trace, tmp_path)
    rejected = tmp_path / "rejected.jsonl"
    assert main(["conform", "--base-url", echo_server, "--trace", str(rejected)]) == 2
    out = capsys.readouterr()
    assert "rejected the API key" in out.err
    assert not any(s.decode() in out.out + out.err for s in SECRETS)
    assert _assert_clean(tmp_path) >= 9


def test_demo_keeps_secrets_out(demo_run: DemoRun) -> None:
    assert demo_run.code == 0  # run with the planted secrets in the environment
    sent = (demo_run.folder / "trace.jsonl").read_bytes()  # the planted values were sent
    assert b'"openai-organization":"[masked]"' in sent
    assert b'"openai-project":"[masked]"' in sent
    assert not any(s.decode() in demo_run.out + demo_run.err for s in SECRETS)
    assert _assert_clean(demo_run.folder) >= 5
