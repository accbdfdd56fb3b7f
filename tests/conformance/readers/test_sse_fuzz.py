"""Fuzzing server-sent events: the parser, and stream bodies saved in cassettes and HAR files.

The recorder feeds the parser bytes in whatever chunks arrive, the readers a whole saved body:
any bytes, cut anywhere, give the events the whole body gives and never an exception; a valid
stream gives back exactly the events written; the SDK's own decoder agrees; and in a cassette or
HAR file every event is read, each one the SDK could not parse reported at its place.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from conformance.observations import InputProblem, StreamEvent
from conformance.readers import read
from conformance.sse import SSEParser, decode_event, parse_sse

AT_LENGTH = settings(max_examples=10_000)  # `make test-slow`
_counter = itertools.count()

# -- strategies --------------------------------------------------------------------------------

PIECES = [
    b"event:", b"event: ", b"data:", b"data: ", b"id:", b"id: 7", b"id: \x00", b"retry:",
    b"retry: 10", b":", b": ping", b" ", b"\r", b"\n", b"\r\n", b"\n\n", b"\r\r", b"{", b"}",
    b'{"id": "run_1"}', b"[DONE]", b"thread.run.created", "é".encode(), "中".encode(), b"\xe4",
    b"\xb8", b"\xff", b"\x00",
]  # fmt: skip
TEXT_PIECES = [p.decode() for p in PIECES if p.isascii() or p in ("é".encode(), "中".encode())]
sse_bytes = st.lists(st.sampled_from(PIECES) | st.binary(max_size=4), max_size=60).map(b"".join)
any_body = st.one_of(sse_bytes, st.binary(max_size=300))
line_text = st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)))
EOLS = [b"\n", b"\r\n", b"\r"]


@st.composite
def valid_stream(draw: Callable[..., Any]) -> tuple[bytes, list[tuple[str | None, str]]]:
    """A stream as a server may write it (mixed line ends, comments, ids, retries) and its
    events: (name or None, data lines joined with LF)."""
    name = st.none() | line_text.filter(bool)
    events = draw(
        st.lists(st.tuples(name, st.lists(line_text, min_size=1, max_size=3)), max_size=6)
    )
    other = st.sampled_from([b"id: 1", b"id", b"retry: 5", b"retry: x", b"unknown: y", b"dat"])
    out = []
    for name_, data in events:
        lines = [b"data: " + d.encode() for d in data]  # other lines go anywhere among these
        extra = draw(st.lists(other | line_text.map(lambda t: b":" + t.encode()), max_size=2))
        if name_ is not None:
            extra.append(b"event: " + name_.encode())
        for line in extra:
            lines.insert(draw(st.integers(0, len(lines))), line)
        out += [line + draw(st.sampled_from(EOLS)) for line in lines]
        # the blank line that ends the event (an LF right after a CR would only end that line)
        out.append(draw(st.sampled_from(EOLS[1:] if out[-1].endswith(b"\r") else EOLS)))
    return b"".join(out), [(name_, "\n".join(data)) for name_, data in events]


def _in_chunks(body: bytes, cuts: list[int]) -> list[tuple[str | None, str]]:
    parser = SSEParser()
    got = []
    for a, b in itertools.pairwise([0, *sorted(cuts), len(body)]):
        got += parser.feed(body[a:b])
    assert parser.finish() == []
    return got


def _chunking(body: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    assert _in_chunks(body, cuts) == parse_sse(body)


def _round_trip(stream: tuple[bytes, list[tuple[str | None, str]]], data: st.DataObject) -> None:
    body, events = stream
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    assert _in_chunks(body, cuts) == events
    assert parse_sse(body.decode()) == events  # a saved body may come as text


# -- the parser --------------------------------------------------------------------------------


@given(any_body, st.data())
def test_any_bytes_in_any_chunks_give_the_events_of_the_whole(
    body: bytes, data: st.DataObject
) -> None:
    _chunking(body, data)


@given(any_body)
def test_one_byte_at_a_time(body: bytes) -> None:
    assert _in_chunks(body, list(range(len(body)))) == parse_sse(body)


@given(valid_stream(), st.data())
def test_a_valid_stream_gives_back_its_events(
    stream: tuple[bytes, list[tuple[str | None, str]]], data: st.DataObject
) -> None:
    _round_trip(stream, data)


sse_text = st.lists(st.sampled_from(TEXT_PIECES) | st.text(max_size=4), max_size=60).map("".join)


@given(st.one_of(valid_stream().map(lambda s: s[0]), sse_text.map(str.encode)))
def test_the_sdk_decoder_agrees(body: bytes) -> None:
    """(On UTF-8: on other bytes the SDK raises, the parser reads U+FFFD.)"""
    sdk = [(e.event, e.data) for e in SSEDecoder().iter_bytes(iter([body]))]
    assert [(e or None, d) for e, d in parse_sse(body)] == sdk  # the SDK makes "" None


@given(st.none() | st.text(), st.text())
def test_decode_event_takes_anything(event: str | None, data: str) -> None:
    name, payload = decode_event(event, data)
    assert name == (event or ("done" if data.startswith("[DONE]") else "message"))
    if data.startswith("[DONE]"):
        assert payload == data


# -- stream bodies in cassettes and HAR files --------------------------------------------------

URL = "https://api.openai.com/v1/threads/thread_1/runs"
KINDS = ["vcr-json", "vcr-yaml", "har"]
DATA = [
    '{"id": "run_1", "object": "thread.run", "status": "queued"}', "[DONE]", '"text"', "{}",
    "", "{", '{"id": "run_1", "stat', "not json", "[DONE] and more", "null",
]  # fmt: skip
event_data = st.sampled_from(DATA) | line_text


@st.composite
def stream_body(draw: Callable[..., Any]) -> str:
    """A stream body: events whose data is JSON or not, then possibly junk or a cut."""
    names = st.sampled_from(["thread.run.created", "done", "x", ""])
    events = draw(st.lists(st.tuples(names, event_data), max_size=6))
    ends = st.sampled_from(["\n", "\r\n\r\n", "\r\r"])
    body = "".join(
        (f"event: {name}\n" if name else "") + f"data: {data}\n" + draw(ends)
        for name, data in events
    )
    tail = draw(st.sampled_from(["", "data: {\n", "event: cut", ": comment\n"]) | line_text)
    return body + tail


def _cassette(kind: str, body: str | bytes) -> tuple[bytes, str]:
    """A file holding one streamed response with ``body``, and the name of its entry."""
    if kind == "har":
        content: dict[str, Any] = {"mimeType": "text/event-stream"}
        if isinstance(body, bytes):
            content.update(text=base64.b64encode(body).decode(), encoding="base64")
        else:
            content["text"] = body
        entry = {
            "startedDateTime": "2024-04-02T03:58:12.210Z",
            "request": {"method": "POST", "url": URL, "headers": []},
            "response": {
                "status": 200,
                "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
                "content": content,
            },
        }
        har = {"log": {"version": "1.2", "entries": [entry]}}
        return json.dumps(har, indent=2).encode(), "entries[0]"
    interaction = {
        "request": {"method": "POST", "uri": URL, "body": "{}"},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["text/event-stream"]},
            "body": {"string": body},
        },
    }
    cassette = {"interactions": [interaction], "version": 1}
    if kind == "vcr-yaml":
        return yaml.safe_dump(cassette).encode(), "interactions[0]"
    assert isinstance(body, str)
    return json.dumps(cassette, indent=2).encode(), "interactions[0]"


def _unreadable(data: str) -> bool:
    """Whether the SDK would fail on an event's data (it parses all but ``[DONE]`` as JSON)."""
    if data.startswith("[DONE]"):
        return False
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return True
    return False


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sse")


def _read(folder: Path, data: bytes) -> list[Any]:
    path = folder / f"s{next(_counter)}"
    path.write_bytes(data)
    try:
        return list(read(path))
    finally:
        path.unlink()


def _stream_read(folder: Path, kind: str, body: str) -> None:
    """Every event of the saved stream is read, and each one the SDK could not parse reported."""
    data, entry = _cassette(kind, body)
    items = _read(folder, data)
    events = parse_sse(body)
    read_events = [i for i in items if isinstance(i, StreamEvent)]
    assert [(e.event, e.loc.where) for e in read_events] == [
        (decode_event(*ev)[0], f"{entry} event {n}") for n, ev in enumerate(events)
    ]
    problems = {(p.code, p.loc.where) for p in items if isinstance(p, InputProblem)}
    assert problems == {
        ("input.malformed_json", f"{entry} event {n}")
        for n, (_, d) in enumerate(events)
        if _unreadable(d)
    }
    assert all(i.loc.line is not None for i in items)


@pytest.mark.parametrize("kind", KINDS)
@given(body=stream_body())
def test_every_event_is_read_and_each_unreadable_one_is_located(
    folder: Path, kind: str, body: str
) -> None:
    _stream_read(folder, kind, body)


@pytest.mark.parametrize("kind", ["vcr-yaml", "har"])
@given(body=any_body)
def test_a_stream_body_of_any_bytes(folder: Path, kind: str, body: bytes) -> None:
    """Bytes bodies (HAR base64, YAML !!binary): bytes that are not UTF-8 are reported."""
    data, entry = _cassette(kind, body)
    items = _read(folder, data)
    codes = [(p.code, p.loc.where) for p in items if isinstance(p, InputProblem)]
    try:
        body.decode()
    except UnicodeDecodeError:
        assert ("input.bad_encoding", entry) in codes
    else:
        assert ("input.bad_encoding", entry) not in codes
    assert len([i for i in items if isinstance(i, StreamEvent)]) == len(parse_sse(body))
    for code, where in codes:
        assert code in ("input.bad_encoding", "input.malformed_json"), code
        assert (where or "").startswith(entry)


# -- at length (`make test-slow`) --------------------------------------------------------------


@pytest.mark.slow
@AT_LENGTH
@given(any_body, st.data())
def test_chunking_at_length(body: bytes, data: st.DataObject) -> None:
    _chunking(body, data)


@pytest.mark.slow
@settings(max_examples=5_000)
@given(valid_stream(), st.data())
def test_valid_streams_at_length(
    stream: tuple[bytes, list[tuple[str | None, str]]], data: st.DataObject
) -> None:
    _round_trip(stream, data)


@pytest.mark.slow
@settings(max_examples=3_000)
@given(st.sampled_from(KINDS), stream_body())
def test_stream_bodies_at_length(folder: Path, kind: str, body: str) -> None:
    _stream_read(folder, kind, body)
