"""The native trace format: the writer, the native reader, the JSON Schema and the SSE parser."""

from __future__ import annotations

import ast
import io
import json
import threading
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import conformance.readers as readers_module
import conformance.recorder as recorder_module
import conformance.sse as sse_module
import conformance.trace as trace_module
from conformance.observations import Exchange, InputProblem, StreamEvent, TraceInfo
from conformance.sse import SSEParser, decode_event, parse_sse
from conformance.trace import (
    MASK,
    MASKED_HEADERS,
    REDACTED,
    TraceWriter,
    TraceWriteWarning,
    mask_headers,
    read_trace,
    redact,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "traces"
NATIVE = FIXTURES / "lifecycle.trace.jsonl"
SCHEMA = json.loads(
    (Path(trace_module.__file__).parent / "schemas" / "trace.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _items(text: str) -> list[Any]:
    return list(read_trace(io.BytesIO(text.encode()), "t.jsonl"))


def _problems(text: str) -> list[tuple[str, int | None]]:
    return [(i.code, i.loc.line) for i in _items(text) if isinstance(i, InputProblem)]


def _lines() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in NATIVE.read_bytes().splitlines()]


def _text(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


# -- public names ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [trace_module, sse_module, recorder_module, readers_module])
def test_public_names_are_all(module: Any) -> None:
    tree = ast.parse(Path(module.__file__).read_text())
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    public = {n for n in defined if not n.startswith("_")}
    assert sorted(public) == sorted(n for n in module.__all__ if n in defined)
    for name in module.__all__:
        assert getattr(module, name).__doc__ or name.isupper()


# -- the writer --------------------------------------------------------------------------------


def test_writer_numbers_entries_and_writes_a_footer() -> None:
    out = io.BytesIO()
    writer = TraceWriter(out, tool="runmodel 0.1.0", sdk="openai 3.57.0", http="httpx2 2.16.2")
    assert writer.write("exchange", {"wall": 1.0}, "a") == 1
    assert writer.write("event", {"exchange": 1}, "b") == 2
    writer.close()
    writer.close()  # idempotent
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0]["kind"] == "header"
    assert lines[1:3] == [
        {"kind": "exchange", "seq": 1, "wall": 1.0},
        {"kind": "event", "seq": 2, "exchange": 1},
    ]
    assert lines[3]["kind"] == "footer"
    assert (lines[3]["count"], lines[3]["lost"]) == (2, 0)
    assert len(lines) == 4


def test_writer_is_thread_safe() -> None:
    out = io.BytesIO()
    writer = TraceWriter(out, tool=None, sdk=None, http=None)

    def work(n: int) -> None:
        for i in range(200):
            writer.write("event", {"exchange": n, "data": {"i": i, "pad": "x" * (i % 50)}}, "e")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert [x["seq"] for x in lines[1:-1]] == list(range(1, 1601))
    for n in range(8):  # each thread's own entries stay in its order
        mine = [x["data"]["i"] for x in lines[1:-1] if x["exchange"] == n]
        assert mine == list(range(200))


class _Broken(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.left = fail_after

    def write(self, data: Any) -> int:
        self.left -= 1
        if self.left < 0:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_a_lost_entry_keeps_its_number_and_warns_once() -> None:
    out = _Broken(fail_after=2)  # header and seq 1 get through
    writer = TraceWriter(out, tool=None, sdk=None, http=None)

    def three() -> list[int]:
        seqs = [writer.write("event", {"n": n}, name) for n, name in enumerate(["a", "b", "c"])]
        writer.close()
        return seqs

    with pytest.warns(TraceWriteWarning, match=r"event seq 2 \(b\).*No space") as caught:
        assert three() == [1, 2, 3]
    assert len(caught) == 1
    assert writer.lost == 2


def test_an_unwritable_value_is_lost_not_raised() -> None:
    out = io.BytesIO()
    writer = TraceWriter(out, tool=None, sdk=None, http=None)
    with pytest.warns(TraceWriteWarning, match="TypeError"):
        assert writer.write("event", {"data": object()}, "odd") == 1
    assert writer.write("event", {"data": 1}, "fine") == 2
    writer.close()
    items = read_trace(io.BytesIO(out.getvalue()), "t")
    problems = [(i.code, i.message) for i in items if isinstance(i, InputProblem)]
    assert ("input.bad_sequence", "seq 1 missing before seq 2") in problems


def test_mask_headers() -> None:
    sent = [(name.title(), "secret") for name in MASKED_HEADERS]
    sent += [("Accept", "a"), ("X-Multi", "1"), ("x-multi", "2")]
    assert mask_headers(sent) == {
        **dict.fromkeys(MASKED_HEADERS, MASK),
        "accept": "a",
        "x-multi": "1, 2",
    }


def test_redact_replaces_content_strings_only() -> None:
    message = {
        "id": "msg_1",
        "status": "completed",
        "created_at": 5,
        "content": [{"type": "text", "text": {"value": "hi", "annotations": [{"text": "q"}]}}],
        "metadata": {"k": "v"},
    }
    step = {"step_details": {"tool_calls": [{"function": {"arguments": "{}", "output": None}}]}}
    request = {
        "role": "user",
        "content": "hi",
        "tool_outputs": [{"output": "42", "tool_call_id": "c"}],
    }
    assert redact(message) == {
        **message,
        "content": [
            {"type": "text", "text": {"value": REDACTED, "annotations": [{"text": REDACTED}]}}
        ],
    }
    assert redact(step) == {
        "step_details": {"tool_calls": [{"function": {"arguments": REDACTED, "output": None}}]}
    }
    assert redact(request) == {
        "role": "user",
        "content": REDACTED,
        "tool_outputs": [{"output": REDACTED, "tool_call_id": "c"}],
    }


# -- the schema --------------------------------------------------------------------------------


def test_every_fixture_line_matches_the_schema() -> None:
    for line in _lines():
        VALIDATOR.validate(line)


@pytest.mark.parametrize(
    "line",
    [
        {"kind": "exchange", "wall": 1, "mono": 1, "request": {}, "response": None, "duration": 0},
        {"kind": "event", "seq": 0, "exchange": 1, "wall": 1, "mono": 1, "event": "x", "data": 1},
        {"kind": "event", "seq": 2, "exchange": 1, "wall": "0", "mono": 1, "event": "", "data": 1},
        {"kind": "footer", "count": 3},
        {"kind": "header", "format": "other", "version": 1, "tool": None, "sdk": None,
         "http": None, "created": "x"},
        {"kind": "note", "seq": 1},
    ],
)  # fmt: skip
def test_the_schema_rejects_bad_lines(line: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(line)


def test_a_fresh_recording_matches_the_schema(tmp_path: Path) -> None:
    out = io.BytesIO()
    writer = TraceWriter(out, tool="runmodel 0.1.0", sdk=None, http=None)
    request = {"method": "GET", "path": "/v1/x", "query": {}, "headers": {}, "body": None}
    writer.write(
        "exchange",
        {"wall": 1.5, "mono": 2.5, "request": request, "response": None, "duration": 0.1,
         "error": "ConnectError: refused"},
        "x",
    )  # fmt: skip
    writer.close()
    for line in out.getvalue().splitlines():
        VALIDATOR.validate(orjson.loads(line))


# -- the native reader -------------------------------------------------------------------------


def test_the_fixture_reads_cleanly() -> None:
    with NATIVE.open("rb") as f:
        items = list(read_trace(f, str(NATIVE)))
    assert isinstance(items[0], TraceInfo)
    assert items[0].sdk == "openai 3.57.0"
    assert not [i for i in items if isinstance(i, InputProblem)]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    events = [i for i in items if isinstance(i, StreamEvent)]
    assert len(exchanges) == 12
    assert len(events) == 13
    assert [i.loc.line for i in items[1:]] == list(range(2, 27))
    assert {e.exchange_seq for e in events} == {12}
    assert exchanges[-1].streamed
    assert exchanges[-1].response_body is None
    assert events[-1].event == "done"
    assert events[-1].data == "[DONE]"


def test_missing_and_repeated_numbers() -> None:
    lines = _lines()
    dropped = lines[:3] + lines[4:]  # seq 3 gone
    assert _problems(_text(dropped)) == [("input.bad_sequence", 4)]
    assert _problems(_text(lines[:-2] + lines[-1:])) == [("input.bad_sequence", 26)]  # the last
    doubled = [*lines[:4], lines[3], *lines[4:]]  # seq 3 twice
    items = _items(_text(doubled))
    assert [(i.code, i.loc.line) for i in items if isinstance(i, InputProblem)] == [
        ("input.bad_sequence", 5)
    ]
    assert [i.seq for i in items if isinstance(i, Exchange)] == list(range(1, 13))  # skipped


def test_no_footer_and_a_cut_line_are_truncation() -> None:
    text = NATIVE.read_text()
    without_footer = text[: text.rindex('{"kind":"footer"')]
    assert _problems(without_footer) == [("input.truncated", 26)]
    cut = text[: len(without_footer) - 40]
    assert _problems(cut) == [("input.truncated", 26), ("input.truncated", 26)]


def test_header_problems() -> None:
    lines = _lines()
    assert _problems(_text(lines[1:]))[0] == ("input.bad_header", 1)
    moved = [lines[1], lines[0], *lines[2:]]
    assert ("input.bad_header", 2) in _problems(_text(moved))
    newer = [{**lines[0], "version": 2}, *lines[1:]]
    assert _problems(_text(newer)) == [("input.unsupported_version", 1)]
    wrong = [{**lines[0], "format": "other"}, *lines[1:]]
    assert _problems(_text(wrong)) == [("input.bad_header", 1)]


@pytest.mark.parametrize(
    ("index", "change", "code"),
    [
        (1, {"request": "GET /"}, "input.bad_entry"),
        (1, {"wall": "yesterday"}, "input.bad_entry"),
        (1, {"response": {"status": "200", "headers": {}, "body": None, "stream": False}},
         "input.bad_entry"),
        (1, {"seq": "1"}, "input.bad_entry"),
        (13, {"exchange": 3}, "input.bad_entry"),  # not a streamed exchange
        (13, {"event": None}, "input.bad_entry"),
        (2, {"kind": "note"}, "input.bad_entry"),
        (26, {"count": 99}, "input.bad_sequence"),
        (26, {"count": None}, "input.bad_entry"),
    ],
)  # fmt: skip
def test_wrong_fields_are_located(index: int, change: dict[str, Any], code: str) -> None:
    lines = _lines()
    lines[index] = {**lines[index], **change}
    assert (code, index + 1) in _problems(_text(lines))


def test_an_event_with_a_bad_exchange_keeps_the_types() -> None:
    lines = _lines()
    lines[13] = {**lines[13], "exchange": "twelve"}
    items = _items(_text(lines))
    assert ("input.bad_entry", 14) in [
        (i.code, i.loc.line) for i in items if isinstance(i, InputProblem)
    ]
    (event,) = [i for i in items if isinstance(i, StreamEvent) and i.loc.line == 14]
    assert event.exchange_seq is None


def test_lines_that_are_not_objects_and_lines_after_the_footer() -> None:
    lines = _lines()
    text = _text(lines[:3]) + "[1, 2]\n\n   \nnot json\n" + _text(lines[3:]) + _text([lines[5]])
    assert _problems(text) == [
        ("input.not_an_object", 4),
        ("input.malformed_json", 7),
        ("input.bad_entry", 32),
        ("input.bad_sequence", 32),
    ]


def test_invalid_utf8_in_a_line() -> None:
    lines = NATIVE.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b"thread.run", b"thread.r\xffn")
    items = list(read_trace(iter(lines), "t"))
    assert [(i.code, i.loc.line) for i in items if isinstance(i, InputProblem)] == [
        ("input.bad_encoding", 5),
        ("input.bad_sequence", 6),
    ]


# -- SSE ---------------------------------------------------------------------------------------


def test_sse_events_like_the_sdk() -> None:
    body = (
        b': comment\r\nevent: thread.run.created\r\ndata: {"a": 1}\r\n\r\n'
        b"event: x\ndata: line 1\ndata: line 2\n\n"
        b"data: [DONE]\n\n"
        b"event: unterminated\ndata: lost"
    )
    events = parse_sse(body)
    assert events == [("thread.run.created", '{"a": 1}'), ("x", "line 1\nline 2"), (None, "[DONE]")]
    assert [decode_event(*e) for e in events] == [
        ("thread.run.created", {"a": 1}),
        ("x", "line 1\nline 2"),
        ("done", "[DONE]"),
    ]


@given(st.data())
def test_sse_parsing_does_not_depend_on_chunking(data: st.DataObject) -> None:
    events = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["a", "thread.run.completed", "é"]), st.text()), max_size=5
        )
    )
    ends = data.draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = b"".join(
        b"event: " + e.encode() + ends
        + b"".join(b"data: " + part.encode() + ends for part in d.replace("\r", "").split("\n"))
        + ends
        for e, d in events
    )  # fmt: skip
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    parser = SSEParser()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True):
        got += parser.feed(body[a:b])
    parser.finish()
    assert got == parse_sse(body)
    assert got == [(e, d.replace("\r", "")) for e, d in events]
