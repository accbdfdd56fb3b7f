"""The recorder, driven through the real openai SDK (either major) on a mock transport.

The server side replays `tests/fixtures/traces/lifecycle.trace.jsonl`: each request gets the
fixture's next response (its JSON, or its events as an SSE stream sent in small chunks). So the
recording must read back equal to the fixture, which is the round-trip test.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import http.server
import io
import sys
import threading
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from conformance.observations import Exchange, InputProblem, StreamEvent
from conformance.readers import read
from conformance.recorder import Recorder, TraceWriteWarning, record
from conformance.trace import MASK, REDACTED

FIXTURE = Path(__file__).parents[1] / "fixtures" / "traces" / "lifecycle.trace.jsonl"
HTTP: Any = next(  # the HTTP library of the installed SDK: httpx2 for openai 3.x, httpx for 2.x
    sys.modules[name]
    for name in ("httpx2", "httpx")
    if name in sys.modules and issubclass(openai.DefaultHttpxClient, sys.modules[name].Client)
)
T = "thread_Wq4nX8bLz2VhRk7YcP3sJd9m"
A = "asst_aT4hurwd35eSave7qrt2t6eJ"
R1 = "run_8XqQ2w5cO5H3te3GdeQxSrfB"
OUTPUT = '{"total": 1029.0, "currency": "USD"}'
Q2 = "I bought one book and one laptop. What is the order total?"


def _fixture() -> list[dict[str, Any]]:
    """The fixture's exchanges, each with its events under "events"."""
    exchanges: list[dict[str, Any]] = []
    for line in FIXTURE.read_bytes().splitlines():
        obj = orjson.loads(line)
        if obj["kind"] == "exchange":
            exchanges.append({**obj, "events": []})
        elif obj["kind"] == "event":
            exchanges[-1]["events"].append(obj)
    return exchanges


PLAN = _fixture()


def _sse(events: list[dict[str, Any]]) -> bytes:
    out = []
    for e in events:
        data = e["data"] if isinstance(e["data"], str) else orjson.dumps(e["data"]).decode()
        out.append(f"event: {e['event']}\ndata: {data}\n\n")
    return "".join(out).encode()


class _Chunks(HTTP.SyncByteStream, HTTP.AsyncByteStream):  # type: ignore[misc]
    """A network body: arrives once, in small pieces split mid-line and mid-character, and
    iterating again goes on where the last iteration stopped (the SDK drains streams so)."""

    def __init__(self, data: bytes, size: int = 7) -> None:
        self.data, self.size, self.pos = data, size, 0

    def __iter__(self) -> Any:
        while self.pos < len(self.data):
            self.pos += self.size
            yield self.data[self.pos - self.size : self.pos]

    async def __aiter__(self) -> Any:
        for chunk in self:
            yield chunk


class Server:
    """Serves the fixture's responses in order; a request out of order gets a 599."""

    def __init__(self, extra_headers: dict[str, str] | None = None) -> None:
        self.served = 0
        self.lock = threading.Lock()
        self.extra_headers = extra_headers or {}

    def __call__(self, request: Any) -> Any:
        with self.lock:
            step = PLAN[self.served % len(PLAN)]
            self.served += 1
        want = (step["request"]["method"], step["request"]["path"])
        if (request.method, request.url.path) != want:
            return HTTP.Response(599, json={"error": f"expected {want}"})
        headers = {k: v for k, v in step["response"]["headers"].items() if k != "content-length"}
        headers.update(self.extra_headers)
        if step["response"]["stream"]:
            return HTTP.Response(200, headers=headers, stream=_Chunks(_sse(step["events"])))
        body = orjson.dumps(step["response"]["body"])
        return HTTP.Response(200, headers=headers, stream=_Chunks(body, 64))


def drive(client: Any) -> list[str]:
    """The user code of the fixture: a plain run, a function round, a streamed run."""
    runs, messages = client.beta.threads.runs, client.beta.threads.messages
    messages.create(T, role="user", content="What can you do?")
    run = runs.create(thread_id=T, assistant_id=A)
    run = runs.retrieve(run.id, thread_id=T)
    run = runs.retrieve(run.id, thread_id=T)
    assert run.status == "completed"
    messages.list(T, order="desc", limit=1)
    messages.create(T, role="user", content=Q2)
    run = runs.create(thread_id=T, assistant_id=A)
    run = runs.retrieve(run.id, thread_id=T)
    run = runs.retrieve(run.id, thread_id=T)
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [{"tool_call_id": call.id, "output": OUTPUT}]
    runs.submit_tool_outputs(run.id, thread_id=T, tool_outputs=outputs)
    assert runs.retrieve(run.id, thread_id=T).status == "completed"
    return [e.event for e in runs.create(thread_id=T, assistant_id=A, stream=True)]


async def adrive(client: Any) -> list[str]:
    """`drive`, for AsyncOpenAI."""
    runs, messages = client.beta.threads.runs, client.beta.threads.messages
    await messages.create(T, role="user", content="What can you do?")
    run = await runs.create(thread_id=T, assistant_id=A)
    run = await runs.retrieve(run.id, thread_id=T)
    run = await runs.retrieve(run.id, thread_id=T)
    await messages.list(T, order="desc", limit=1)
    await messages.create(T, role="user", content=Q2)
    run = await runs.create(thread_id=T, assistant_id=A)
    run = await runs.retrieve(run.id, thread_id=T)
    run = await runs.retrieve(run.id, thread_id=T)
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [{"tool_call_id": call.id, "output": OUTPUT}]
    await runs.submit_tool_outputs(run.id, thread_id=T, tool_outputs=outputs)
    await runs.retrieve(run.id, thread_id=T)
    stream = await runs.create(thread_id=T, assistant_id=A, stream=True)
    return [e.event async for e in stream]


def _client(rec: Recorder, server: Server | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", "sk-test-secret-key")
    return rec.client(transport=HTTP.MockTransport(server or Server()), max_retries=0, **kwargs)


def _async_client(rec: Recorder, server: Server | None = None) -> Any:
    transport = HTTP.MockTransport(server or Server())
    return rec.async_client(transport=transport, api_key="sk-test-secret-key", max_retries=0)


def _view(items: list[Any]) -> list[tuple[Any, ...]]:
    """What a recording says, without its times and locations."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, Exchange):
            headers = {k: v for k, v in item.response_headers.items() if k != "content-length"}
            out.append(
                (item.seq, item.method, item.path, item.query, item.request_body, item.status,
                 headers, item.response_body, item.streamed)
            )  # fmt: skip
        elif isinstance(item, StreamEvent):
            out.append((item.seq, item.exchange_seq, item.event, item.data))
    return out


STREAM_EVENTS = [e["event"] for e in PLAN[-1]["events"] if e["event"] != "done"]


def test_sync_round_trip_equals_the_fixture(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with record(path) as rec:
        events = drive(_client(rec))
    assert events == STREAM_EVENTS
    items = list(read(path))
    assert not [i for i in items if isinstance(i, InputProblem)]
    assert _view(items) == _view(list(read(FIXTURE)))


def test_async_round_trip_equals_the_fixture(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with record(path) as rec:
        events = asyncio.run(adrive(_async_client(rec)))
    assert events == STREAM_EVENTS
    items = list(read(path))
    assert not [i for i in items if isinstance(i, InputProblem)]
    assert _view(items) == _view(list(read(FIXTURE)))


def test_header_and_footer(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with record(path) as rec:
        drive(_client(rec))
        assert rec.count == 25
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    header, footer = lines[0], lines[-1]
    assert list(header) == ["kind", "format", "version", "tool", "sdk", "http", "created"]
    assert header["format"] == "runmodel-trace"
    assert header["version"] == 1
    assert header["sdk"] == f"openai {openai.__version__}"
    assert header["http"] == f"{HTTP.__name__} {HTTP.__version__}"
    assert header["created"].endswith("Z")
    assert footer == {"kind": "footer", "count": 25, "lost": 0, "closed": footer["closed"]}
    assert [line["seq"] for line in lines[1:-1]] == list(range(1, 26))


def test_events_are_written_as_they_arrive(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    server = Server()
    server.served = len(PLAN) - 1  # straight to the streamed run
    with record(path) as rec:
        stream = _client(rec, server).beta.threads.runs.create(
            thread_id=T, assistant_id=A, stream=True
        )
        seen = []
        for event in stream:
            seen.append(event.event)
            written = [orjson.loads(x) for x in path.read_bytes().splitlines()[1:]]
            assert [w["event"] for w in written if w["kind"] == "event"] == seen
    assert seen == STREAM_EVENTS


def test_the_client_gets_exactly_the_server_bytes(tmp_path: Path) -> None:
    """Raw bytes through a recorded client equal the bytes served, gzip and chunking included."""
    payload = orjson.dumps(
        {"id": "run_x", "object": "thread.run", "status": "queued", "t": "héllo"}
    )
    squeezed = gzip.compress(payload)
    stream = _sse(PLAN[-1]["events"])

    def handler(request: Any) -> Any:
        if request.url.path == "/gz":
            headers = {"content-encoding": "gzip", "content-type": "application/json"}
            return HTTP.Response(200, headers=headers, stream=_Chunks(squeezed, 5))
        headers = {"content-type": "text/event-stream"}
        return HTTP.Response(200, headers=headers, stream=_Chunks(stream, 3))

    path = tmp_path / "t.jsonl"
    with record(path) as rec, rec.http_client(HTTP.MockTransport(handler)) as client:
        with client.stream("GET", "http://127.0.0.1/gz") as response:
            assert b"".join(response.iter_raw()) == squeezed
        with client.stream("GET", "http://127.0.0.1/sse") as response:
            assert b"".join(response.iter_raw()) == stream
        assert client.get("http://127.0.0.1/gz").json()["t"] == "héllo"
    items = list(read(path))
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert exchanges[0].response_body == orjson.loads(payload)  # decoded for the trace
    events = [(i.event, i.data) for i in items if isinstance(i, StreamEvent)]
    assert events == [(e["event"], e["data"]) for e in PLAN[-1]["events"]]


def test_secret_headers_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    secrets = {
        "OpenAI-Organization": "org-SECRETORG",
        "OpenAI-Project": "proj_SECRETPROJ",
        "api-key": "SECRETAPIKEY",
        "Cookie": "session=SECRETCOOKIE",
    }
    server = Server(extra_headers={"Set-Cookie": "id=SECRETSETCOOKIE; HttpOnly"})
    with record(path) as rec:
        client = _client(rec, server, api_key="sk-SECRETKEY", default_headers=secrets)
        client.beta.threads.messages.create(T, role="user", content="What can you do?")
    text = path.read_text()
    for secret in ("SECRETKEY", "SECRETORG", "SECRETPROJ", "SECRETAPIKEY", "SECRETCOOKIE"):
        assert secret not in text
    exchange = orjson.loads(path.read_bytes().splitlines()[1])
    sent = exchange["request"]["headers"]
    for name in ("authorization", "openai-organization", "openai-project", "api-key", "cookie"):
        assert sent[name] == MASK
    assert exchange["response"]["headers"]["set-cookie"] == MASK
    assert sent["openai-beta"] == "assistants=v2"  # other headers are kept


def test_redaction_replaces_content_and_keeps_the_rest(tmp_path: Path) -> None:
    plain, redacted = tmp_path / "plain.jsonl", tmp_path / "redacted.jsonl"
    for path, flag in ((plain, False), (redacted, True)):
        with record(path, redact=flag) as rec:
            drive(_client(rec))
    text = redacted.read_text()
    for content in ("What can you do?", Q2, "1029.0", "item_type", "thank you", "total your cart"):
        assert content in plain.read_text()
        assert content not in text
    a, b = _view(list(read(plain))), _view(list(read(redacted)))
    assert len(a) == len(b)

    def same_shape(x: Any, y: Any) -> bool:
        if isinstance(x, dict):
            return (
                isinstance(y, dict)
                and x.keys() == y.keys()
                and all(same_shape(x[k], y[k]) for k in x)
            )
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(same_shape(u, v) for u, v in zip(x, y, strict=True))
        return type(x) is type(y) and (x == y or y == REDACTED)

    assert same_shape(a, b)
    bodies = [i.response_body for i in read(redacted) if isinstance(i, Exchange) and not i.streamed]
    assert [b["status"] for b in bodies[1:4]] == ["queued", "in_progress", "completed"]


def _ours(caught: Any) -> list[Any]:
    """The recorder's warnings (the SDK's own deprecation warnings are recorded too)."""
    return [w for w in caught if issubclass(w.category, TraceWriteWarning)]


class _FailingFile(io.BytesIO):
    """Accepts the header, then fails every write as a full disk does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        if self.writes > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_failing_disk_never_breaks_the_call(tmp_path: Path) -> None:
    target = _FailingFile()
    with pytest.warns(TraceWriteWarning) as caught, record(target) as rec:
        events = drive(_client(rec))
    assert events == STREAM_EVENTS  # every call succeeded
    (warning,) = _ours(caught)  # one warning for the whole trace
    message = str(warning.message)
    assert "No space left on device" in message
    assert "exchange seq 1 (POST /v1/threads/" in message
    assert rec.count == rec.lost == 25  # every later entry was still attempted
    assert target.writes == 1 + 25 + 1  # header, entries, footer


def test_recording_after_close_loses_entries_and_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rec = record(path)
    client = _client(rec)
    rec.close()

    def two_calls() -> None:
        client.beta.threads.messages.create(T, role="user", content="What can you do?")
        client.beta.threads.runs.create(thread_id=T, assistant_id=A)

    with pytest.warns(TraceWriteWarning, match="already closed") as caught:
        two_calls()
    assert len(_ours(caught)) == 1
    assert rec.lost == 2
    assert [i.code for i in read(path) if isinstance(i, InputProblem)] == []


def test_an_unserialisable_entry_is_lost_and_recording_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with record(path) as rec:
        with pytest.warns(TraceWriteWarning, match="TypeError"):
            rec._writer.write("exchange", {"wall": {1, 2}}, "a set")
        _client(rec).beta.threads.messages.create(T, role="user", content="What can you do?")
    problems = [i for i in read(path) if isinstance(i, InputProblem)]
    assert [(p.code, p.loc.line) for p in problems] == [("input.bad_sequence", 2)]
    assert "seq 1 missing" in problems[0].message


def test_a_connection_error_is_recorded_and_raised(tmp_path: Path) -> None:
    def refuse(request: Any) -> Any:
        raise HTTP.ConnectError("Connection refused", request=request)

    path = tmp_path / "t.jsonl"
    with record(path) as rec:
        client = rec.client(transport=HTTP.MockTransport(refuse), api_key="k", max_retries=0)
        with pytest.raises(openai.APIConnectionError):
            client.beta.threads.runs.retrieve("run_1", thread_id=T)
    (exchange,) = [i for i in read(path) if isinstance(i, Exchange)]
    assert (exchange.status, exchange.response_body) == (None, None)
    line = orjson.loads(path.read_bytes().splitlines()[1])
    assert line["response"] is None
    assert line["error"] == "ConnectError: Connection refused"


def test_threads_get_strictly_increasing_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    done = []

    def poll(client: Any) -> None:
        for _ in range(10):
            assert client.beta.threads.runs.retrieve(R1, thread_id=T)
        done.append(1)

    def serve(request: Any) -> Any:
        return HTTP.Response(200, json=PLAN[2]["response"]["body"])

    with record(path) as rec:
        client = rec.client(transport=HTTP.MockTransport(serve), api_key="k", max_retries=0)
        workers = [threading.Thread(target=poll, args=(client,)) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert len(done) == 8
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(x)["seq"] for x in lines[1:-1]] == list(range(1, 81))
    items = list(read(path))
    assert not [i for i in items if isinstance(i, InputProblem)]
    assert sum(isinstance(i, Exchange) for i in items) == 80


class _Handler(http.server.BaseHTTPRequestHandler):
    """A loopback server: a gzip-encoded run, and a chunked event stream."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = gzip.compress(orjson.dumps(PLAN[3]["response"]["body"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in _Chunks(_sse(PLAN[-1]["events"]), 500):
            self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: Any) -> None:
        pass


def test_a_real_socket_on_loopback(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = tmp_path / "t.jsonl"
    try:
        with record(path) as rec:
            base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
            client = rec.client(api_key="k", base_url=base_url, max_retries=0)
            assert client.beta.threads.runs.retrieve(R1, thread_id=T).status == "completed"
            stream = client.beta.threads.runs.create(thread_id=T, assistant_id=A, stream=True)
            events = [e.event for e in stream]
            client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert events == STREAM_EVENTS
    items = list(read(path))
    assert not [i for i in items if isinstance(i, InputProblem)]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert exchanges[0].response_body == PLAN[3]["response"]["body"]
    assert exchanges[0].response_headers["content-encoding"] == "gzip"
    got = [(i.event, i.data) for i in items if isinstance(i, StreamEvent)]
    assert got == [(e["event"], e["data"]) for e in PLAN[-1]["events"]]


def test_wrap_rejects_what_is_not_a_transport(tmp_path: Path) -> None:
    with record(tmp_path / "t.jsonl") as rec, pytest.raises(TypeError, match="httpx"):
        rec.wrap(object())


def test_default_transport_is_the_sdk_library(tmp_path: Path) -> None:
    with record(tmp_path / "t.jsonl") as rec:
        client = rec.http_client()
        transport = client._transport
        assert isinstance(transport, HTTP.BaseTransport)
        assert isinstance(transport._inner, HTTP.HTTPTransport)
        client.close()
        async_client = rec.async_http_client()
        assert isinstance(async_client._transport._inner, HTTP.AsyncHTTPTransport)
        asyncio.run(async_client.aclose())
