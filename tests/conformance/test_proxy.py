"""``runmodel record``: the recording reverse proxy, over loopback sockets only.

The upstream is the emulator served by `EmulatorServer` (or, where a test must control the
timing of a stream or see the forwarded headers, a tiny stdlib server); clients are the real
openai SDK, raw HTTP from the SDK's own HTTP library, or raw sockets.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import openai
import orjson
import pytest

from conformance.cli import COMMANDS
from conformance.cli.record import configure, run
from conformance.emulator import LESSON_ASSISTANT, Clock, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.observations import Exchange, InputProblem, StreamEvent
from conformance.proxy import RecordingProxy, UpstreamError
from conformance.readers import read
from conformance.sdk import http_module
from conformance.trace import MASK, REDACTED
from runmodel.cli import main

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-secret-test"
ORG = "org-secret-test"
HTTP: Any = http_module()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def upstream() -> Iterator[tuple[Emulator, EmulatorServer]]:
    """The emulator on a free loopback port, on a clock that starts now (so that wall times and
    the runs' timestamps agree for the checker)."""
    emu = Emulator(clock=Clock(start=time.time()), poll_after_ms=1)
    with EmulatorServer(emu, "127.0.0.1", 0) as server:
        yield emu, server


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=KEY, organization=ORG, max_retries=0)


def test_sdk_traffic_is_recorded_and_conforms(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path
) -> None:
    emu, server = upstream
    trace = tmp_path / "proxy.trace.jsonl"
    with RecordingProxy(server.base_url, str(trace)) as proxy:
        assert proxy.base_url == f"http://127.0.0.1:{proxy.port}/v1"
        client = _client(proxy.base_url)
        plain = client.beta.assistants.create(model="gpt-4o").id
        lesson = client.beta.assistants.create(**LESSON_ASSISTANT).id
        # a plain run, polled
        thread = client.beta.threads.create()
        done = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=plain)
        assert done.status == "completed"
        # a function round, polled
        r = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=lesson)
        assert r.status == "requires_action"
        calls = r.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        r = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=r.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": c.id, "output": "9"} for c in calls],
        )
        assert r.status == "completed"
        # a streamed run with a requires_action round, and its streamed submit
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=lesson) as stream:
            events = [e.event for e in stream]
            streamed = stream.current_run
        assert events[-1] == "thread.run.requires_action"
        assert streamed is not None
        calls = streamed.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=streamed.id,
            tool_outputs=[{"tool_call_id": c.id, "output": "1"} for c in calls],
        ) as stream:
            assert stream.get_final_run().status == "completed"
        with pytest.raises(openai.NotFoundError):  # an error the client may meet
            client.beta.threads.runs.retrieve("run_x", thread_id=thread.id)
        client.close()
    assert len(emu.requests) == proxy.recorder.count - len(
        [e for e in _lines(trace) if e["kind"] == "event"]
    )
    raw = trace.read_bytes()
    assert KEY.encode() not in raw
    assert ORG.encode() not in raw
    items = list(read(trace))
    assert not [i for i in items if isinstance(i, InputProblem)]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert [e.method for e in exchanges] == [r.method for r in emu.requests]
    assert [e.path for e in exchanges] == [r.path for r in emu.requests]
    assert all(e.path.startswith("/v1/") for e in exchanges)
    first = _lines(trace)[1]["request"]["headers"]
    assert first["authorization"] == MASK
    assert first["openai-organization"] == MASK
    assert exchanges[-1].status == 404
    assert sum(e.streamed for e in exchanges) == 2
    assert {e.event for e in items if isinstance(e, StreamEvent)} >= {
        "thread.run.requires_action",
        "thread.run.completed",
    }
    assert main(["check", str(trace)]) == 0


def test_an_illegal_submit_is_recorded_and_caught(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = upstream[1]
    trace = tmp_path / "illegal.trace.jsonl"
    with RecordingProxy(server.base_url, str(trace)) as proxy:
        client = _client(proxy.base_url)
        assistant = client.beta.assistants.create(**LESSON_ASSISTANT).id
        thread = client.beta.threads.create()
        r = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant)
        assert r.status == "requires_action"
        with pytest.raises(openai.BadRequestError) as info:  # a call id the run did not ask for
            client.beta.threads.runs.submit_tool_outputs(
                run_id=r.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": "call_unknown", "output": "1"}],
            )
        client.close()
    exchanges = [i for i in read(trace) if isinstance(i, Exchange)]
    assert exchanges[-1].status == 400
    assert exchanges[-1].response_body["error"] == info.value.body
    capsys.readouterr()
    assert main(["check", str(trace)]) == 1
    out = capsys.readouterr().out
    assert "client.submit_wrong_call_ids" in out
    assert "1 error, 0 warnings" in out


def test_redact_replaces_content_but_keeps_structure(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path
) -> None:
    server = upstream[1]
    trace = tmp_path / "redacted.jsonl"
    with RecordingProxy(server.base_url, str(trace), redact=True) as proxy:
        client = _client(proxy.base_url)
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="a secret")
        client.close()
    raw = trace.read_bytes()
    assert b"a secret" not in raw
    assert REDACTED.encode() in raw
    assert thread.id.encode() in raw


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A stdlib upstream that keeps each request's headers and, for ``/v1/stream``, sends one
    event, waits for `release`, then sends the last one."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    release = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for data in (b"event: first\ndata: {}\n\n", b"event: last\ndata: {}\n\n"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            self.release.wait(30)
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def stdlib_upstream() -> Iterator[str]:
    _Upstream.seen = []
    _Upstream.release = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    _Upstream.release.set()
    server.shutdown()
    server.server_close()


def test_events_are_forwarded_and_recorded_as_they_arrive(
    stdlib_upstream: str, tmp_path: Path
) -> None:
    trace = tmp_path / "t.jsonl"
    with (
        RecordingProxy(stdlib_upstream, str(trace)) as proxy,
        HTTP.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{proxy.base_url}/stream?x=1&y=%20",
            headers={
                "authorization": f"Bearer {KEY}",
                "connection": "keep-alive, x-hop",
                "x-hop": "1",
                "accept-encoding": "br, gzip;q=0.9, zstd",
            },
            content=b'{"a": 1}',
        ) as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "event: first"
        assert next(lines) == "data: {}"
        # the upstream is still holding the last event: the first is already in the trace
        assert [e["event"] for e in _lines(trace) if e["kind"] == "event"] == ["first"]
        _Upstream.release.set()
        assert [line for line in lines if line] == ["event: last", "data: {}"]
    path, headers, body = _Upstream.seen[0]
    assert path == "/v1/stream?x=1&y=%20"
    assert body == b'{"a": 1}'
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["host"] == stdlib_upstream.split("/")[2]
    assert "x-hop" not in headers
    assert headers["accept-encoding"] == "gzip;q=0.9"  # only codings the trace can decode
    assert headers.get("connection") != "x-hop"
    entries = _lines(trace)
    assert entries[-1]["kind"] == "footer"
    assert entries[1]["request"]["query"] == {"x": "1", "y": " "}
    assert [e["event"] for e in entries if e["kind"] == "event"] == ["first", "last"]
    assert KEY.encode() not in trace.read_bytes()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize(
    "target",
    [b"GET http://{bait}/v1/threads HTTP/1.1", b"CONNECT {bait} HTTP/1.1", b"GET * HTTP/1.1"],
)
def test_forward_proxy_requests_are_refused(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path, target: bytes
) -> None:
    emu, server = upstream
    trace = tmp_path / "t.jsonl"
    with (
        socket.create_server(("127.0.0.1", 0)) as bait,
        RecordingProxy(server.base_url, str(trace)) as proxy,
    ):
        bait.setblocking(False)
        address = f"127.0.0.1:{bait.getsockname()[1]}".encode()
        line = target.replace(b"{bait}", address)
        reply = _raw(proxy.port, line + b"\r\nHost: " + address + b"\r\nConnection: close\r\n\r\n")
        assert reply.split(b" ", 2)[1] in (b"400", b"405")
        assert b'"code":"not_a_proxy"' in reply
        body = json.loads(reply.partition(b"\r\n\r\n")[2])["error"]
        assert body["message"] == (
            "runmodel record is a reverse proxy: CONNECT is refused"
            if target.startswith(b"CONNECT")
            else f"runmodel record forwards only to {server.base_url}: "
            "absolute-URL request targets are refused"
        )
        assert (body["type"], body["param"]) == ("invalid_request_error", None)
        with pytest.raises(BlockingIOError):
            bait.accept()  # nobody connected to the address named in the request
    assert emu.requests == []
    assert [e["kind"] for e in _lines(trace)] == ["header", "footer"]


def test_paths_outside_the_upstream_prefix_are_not_forwarded(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path
) -> None:
    emu, server = upstream
    with RecordingProxy(server.base_url, str(tmp_path / "t.jsonl")) as proxy:
        reply = _raw(proxy.port, b"GET /v10/threads HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 404 ")
        assert reply.endswith(  # byte for byte, as the proxy has always worded it
            b'{"error":{"message":"Invalid URL (GET /v10/threads): outside /v1/",'
            b'"type":"invalid_request_error","param":null,"code":"unknown_url"}}'
        )
        with HTTP.Client() as client:  # inside the prefix: forwarded (and answered 404 there)
            assert client.get(f"{proxy.base_url}/nothing").status_code == 404
    assert [r.path for r in emu.requests] == ["/v1/nothing"]


def test_an_unreachable_upstream_is_a_recorded_502(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    trace = tmp_path / "t.jsonl"
    with RecordingProxy(f"http://127.0.0.1:{port}/v1", str(trace)) as proxy:
        client = _client(proxy.base_url)
        with pytest.raises(openai.InternalServerError) as info:
            client.beta.threads.create()
        client.close()
    assert info.value.status_code == 502
    assert info.value.code == "upstream_unreachable"
    assert info.value.type == "server_error"
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"].startswith(
        f"runmodel record: no response from http://127.0.0.1:{port}/v1: ConnectError: "
    )
    entries = _lines(trace)
    assert [e["kind"] for e in entries] == ["header", "exchange", "footer"]
    assert entries[1]["response"] is None
    assert entries[1]["error"].startswith("ConnectError")
    assert entries[1]["request"]["path"] == "/v1/threads"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    configure(parser)
    return run(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--upstream", "ftp://127.0.0.1/v1"], "http:// or https://"),
        (["--upstream", "http:///v1"], "with a host"),
        (["--upstream", "http://u:p@127.0.0.1/v1"], "credentials"),
        (["--upstream", "http://127.0.0.1/v1", "--host", "0.0.0.0"], "--allow-remote-bind"),
        (["--upstream", "http://127.0.0.1/v1", "--port", "70000"], "not a port"),
        (["--upstream", "http://127.0.0.1/v1", "-o", "{tmp}/no/such/dir/t.jsonl"], "cannot use"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "t.jsonl")]
    assert _run(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("runmodel record: ")
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "t.jsonl").exists()


def test_upstream_error_from_the_class(tmp_path: Path) -> None:
    with pytest.raises(UpstreamError):
        RecordingProxy("http://127.0.0.1/v1?x=1", str(tmp_path / "t.jsonl"))
    assert not (tmp_path / "t.jsonl").exists()


def _command() -> list[str]:
    """``python -m runmodel record`` once registered; until then, the module's own entry."""
    if "record" in COMMANDS:
        return [sys.executable, "-m", "runmodel", "record"]
    code = (
        "import argparse, sys; from conformance.cli import record as proxy; "
        "p = argparse.ArgumentParser(); "
        "proxy.configure(p); sys.exit(proxy.run(p.parse_args()))"
    )
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_and_stops_cleanly(
    upstream: tuple[Emulator, EmulatorServer], tmp_path: Path, signum: int
) -> None:
    emu, server = upstream
    trace = tmp_path / "cli.jsonl"
    trace.write_text("an old trace, overwritten with --force\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [*_command(), "--upstream", server.base_url, "--port", "0", "-o", str(trace)]
    argv.append("--force")
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("runmodel record: listening on http://127.0.0.1:")
            base_url = first.rsplit(" ", 1)[1].strip()
            assert base_url.endswith("/v1")
            client = _client(base_url)
            thread = client.beta.threads.create()
            client.close()
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped; 1 entry in" in out
    entries = _lines(trace)
    assert [e["kind"] for e in entries] == ["header", "exchange", "footer"]
    assert entries[1]["response"]["body"]["id"] == thread.id
    assert [r.path for r in emu.requests] == ["/v1/threads"]


def test_chunked_requests_and_http10_clients(stdlib_upstream: str, tmp_path: Path) -> None:
    _Upstream.release.set()  # the upstream streams both events at once
    trace = tmp_path / "t.jsonl"
    with RecordingProxy(stdlib_upstream, str(trace)) as proxy:
        reply = _raw(
            proxy.port,
            b"POST /v1/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b'3\r\n{"a\r\n5;x=y\r\n": 1}\r\n0\r\n\r\n',
        )
        assert b"\r\ntransfer-encoding: chunked\r\n" in reply.lower()
        old = _raw(proxy.port, b"POST /v1/stream HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    head, _, body = old.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    sse = b"event: first\ndata: {}\n\nevent: last\ndata: {}\n\n"
    assert body == sse  # unframed: the body ends with the connection
    assert [s[2] for s in _Upstream.seen] == [b'{"a": 1}', b""]
    entries = _lines(trace)
    assert [e["request"]["body"] for e in entries if e["kind"] == "exchange"] == [{"a": 1}, None]
    assert len([e for e in entries if e["kind"] == "event"]) == 4


def test_an_existing_trace_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text("yesterday's recording\n", encoding="utf-8")
    assert _run("--upstream", "http://127.0.0.1/v1", "-o", str(trace)) == 2
    err = capsys.readouterr().err
    assert err == (
        f"runmodel record: {trace} already exists; choose another file, "
        "or add --force to overwrite it\n"
    )
    assert trace.read_text(encoding="utf-8") == "yesterday's recording\n"
