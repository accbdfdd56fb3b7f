"""`read(path)`: format detection by content, every importer, and located problems."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from conformance.observations import (
    Exchange,
    InputProblem,
    Item,
    Snapshot,
    StreamEvent,
    TraceInfo,
)
from conformance.readers import PROBLEM_CODES, SHOWN, SNAPSHOT_OBJECTS, detect, read
from tests.helpers import paths

FIXTURES = paths.TRACES
HTTP_FORMATS = {
    "lifecycle.trace.jsonl": "runmodel-trace",
    "lifecycle.vcr.yaml": "vcr-yaml",
    "lifecycle.vcr.json": "vcr-json",
    "lifecycle.har": "har",
    # the same traffic as other tools record it (written from lifecycle.vcr.yaml, then checked)
    "lifecycle.ruby-vcr.yml": "ruby-vcr-yaml",
    "lifecycle.test-proxy.json": "test-proxy",
    "lifecycle.exvcr.json": "exvcr",
    "lifecycle.betamax.json": "betamax-json",
    "lifecycle.okreplay.yaml": "okreplay-yaml",
    "lifecycle.go-vcr-v1.yaml": "go-vcr-yaml",
    "lifecycle.go-vcr-v2.yaml": "go-vcr-yaml",
    "lifecycle.nock.json": "nock",
    "lifecycle.polly.har": "polly",
}
OBJECT_FORMATS = {
    "lifecycle.objects.jsonl": "objects-jsonl",
    "lifecycle.printed.log": "objects-printed",
    "lesson.printed.log": "objects-printed",
}
R1, R2, R3 = (
    "run_8XqQ2w5cO5H3te3GdeQxSrfB",
    "run_Kd93LmQp0ZtWv5NsXe7bHy2c",
    "run_Vb6TcR1yGm8PqZs4Jk0LdW5n",
)
PLAIN = ["queued", "in_progress", "completed"]
FUNCTION = ["queued", "in_progress", "requires_action", "queued", "completed"]
STREAMED = ["queued", "queued", "in_progress", "completed"]


def _write(tmp_path: Path, data: bytes | str, name: str = "input.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _problems(path: Path) -> list[tuple[str, int | None, str | None]]:
    return [(i.code, i.loc.line, i.loc.where) for i in read(path) if isinstance(i, InputProblem)]


def _codes(path: Path) -> list[str]:
    return [code for code, _, _ in _problems(path)]


def _run_statuses(items: list[Item]) -> dict[str, list[str]]:
    """Each run's statuses in order of observation, from whatever the items carry."""
    out: dict[str, list[str]] = {}

    def see(obj: Any) -> None:
        if isinstance(obj, dict) and obj.get("object") == "thread.run":
            out.setdefault(obj["id"], []).append(obj["status"])

    for item in items:
        if isinstance(item, Exchange):
            see(item.response_body)
        elif isinstance(item, StreamEvent):
            see(item.data)
        elif isinstance(item, Snapshot):
            see(item.obj)
    return out


# -- the fixtures: one lifecycle, five formats ------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [*HTTP_FORMATS.items(), *OBJECT_FORMATS.items()])
def test_each_fixture_is_detected_and_reads_cleanly(name: str, fmt: str) -> None:
    path = FIXTURES / name
    items = list(read(path))
    assert isinstance(items[0], TraceInfo)
    assert items[0].format == fmt
    assert detect(path) == fmt
    assert [i for i in items if isinstance(i, InputProblem)] == []
    for item in items:
        assert item.loc.file == str(path)
        assert item.loc.line is not None


def _http_view(items: list[Item]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in items:
        if isinstance(i, Exchange):
            out.append(
                (i.seq, i.method, i.path, i.query, i.request_body, i.status, i.response_body,
                 i.streamed, i.response_headers.get("content-type"))
            )  # fmt: skip
        elif isinstance(i, StreamEvent):
            out.append((i.seq, i.exchange_seq, i.event, i.data))
    return out


@pytest.mark.parametrize("name", list(HTTP_FORMATS)[1:])
def test_http_formats_describe_the_same_traffic(name: str) -> None:
    native = _http_view(list(read(FIXTURES / "lifecycle.trace.jsonl")))
    assert _http_view(list(read(FIXTURES / name))) == native
    assert len(native) == 25


@pytest.mark.parametrize("name", [*HTTP_FORMATS, "lifecycle.objects.jsonl"])
def test_every_fixture_holds_the_three_runs(name: str) -> None:
    assert _run_statuses(list(read(FIXTURES / name))) == {R1: PLAIN, R2: FUNCTION, R3: STREAMED}


def test_times_where_the_format_has_them() -> None:
    native = [i for i in read(FIXTURES / "lifecycle.trace.jsonl") if isinstance(i, Exchange)]
    har = [i for i in read(FIXTURES / "lifecycle.har") if isinstance(i, Exchange)]
    vcr = [i for i in read(FIXTURES / "lifecycle.vcr.yaml") if isinstance(i, Exchange)]
    assert [round(i.wall or 0, 2) for i in har] == [i.wall for i in native]
    assert all(i.mono is not None for i in native)
    assert all(i.wall is None and i.mono is None for i in vcr)


def test_locations_point_at_the_element() -> None:
    lines = (FIXTURES / "lifecycle.vcr.yaml").read_text().splitlines()
    for item in read(FIXTURES / "lifecycle.vcr.yaml"):
        if isinstance(item, Exchange):
            assert item.loc.line is not None
            assert lines[item.loc.line - 1] == "- request:"
            assert item.loc.where == f"interactions[{item.seq - 1}]"
    har = (FIXTURES / "lifecycle.har").read_text().splitlines()
    entries = [i for i in read(FIXTURES / "lifecycle.har") if isinstance(i, Exchange)]
    assert [i.loc.where for i in entries] == [f"entries[{n}]" for n in range(12)]
    for item in entries:
        assert item.loc.line is not None
        assert har[item.loc.line - 1].strip() == "{"
        assert har[item.loc.line].strip().startswith('"startedDateTime"')


def test_a_json_array_of_objects_has_element_lines(tmp_path: Path) -> None:
    objects = [
        orjson.loads(x) for x in (FIXTURES / "lifecycle.objects.jsonl").read_bytes().splitlines()
    ]
    path = _write(tmp_path, json.dumps(objects, indent=2))
    items = list(read(path))
    assert items[0].format == "objects-json"  # type: ignore[union-attr]
    snapshots = [i for i in items if isinstance(i, Snapshot)]
    text = path.read_text().splitlines()
    assert len(snapshots) == 21
    for n, snap in enumerate(snapshots):
        assert snap.loc.line is not None
        assert text[snap.loc.line - 1] == "  {"
        assert snap.loc.where in (f"[{n}]", f"[{n - 1}].data[0]", f"[{n}].data[0]")
    assert [s.seq for s in snapshots] == list(range(1, 22))
    compact = _write(tmp_path, "[" + ",\n".join(json.dumps(o) for o in objects) + "]", "c.json")
    assert [i.loc.line for i in read(compact) if isinstance(i, Snapshot)] == list(range(1, 22))


def test_a_single_object_and_a_page(tmp_path: Path) -> None:
    run = {"id": "run_1", "object": "thread.run", "status": "queued"}
    one = _write(tmp_path, "\n\n" + json.dumps(run, indent=2), "one.json")
    (item,) = [i for i in read(one) if isinstance(i, Snapshot)]
    assert (item.obj, item.loc.line) == (run, 3)
    page = {"object": "list", "data": [run, {**run, "status": "completed"}], "has_more": False}
    paged = _write(tmp_path, json.dumps(page, indent=1), "page.json")
    snaps = [i for i in read(paged) if isinstance(i, Snapshot)]
    assert [(s.obj["status"], s.loc.where) for s in snaps] == [
        ("queued", "data[0]"),
        ("completed", "data[1]"),
    ]


def test_a_user_message_with_status_null_is_read(tmp_path: Path) -> None:
    """User-created messages come back with ``status: null`` (observed); a run's may not."""
    message = {"id": "msg_1", "object": "thread.message", "status": None, "role": "user"}
    run = {"id": "run_1", "object": "thread.run", "status": None}
    path = _write(tmp_path, f"{json.dumps(message)}\n{json.dumps(run)}\n", "null.jsonl")
    items = [i for i in read(path) if isinstance(i, (Snapshot, InputProblem))]
    assert [type(i).__name__ for i in items] == ["Snapshot", "InputProblem"]
    assert items[1].loc.line == 2


def test_saved_stream_events_are_read(tmp_path: Path) -> None:
    text = '{"event": "thread.run.created", "data": {"id": "run_1", "object": "thread.run", "status": "queued"}}\n'  # noqa: E501
    (item,) = [i for i in read(_write(tmp_path, text)) if not isinstance(i, TraceInfo)]
    assert isinstance(item, StreamEvent)
    assert (item.event, item.exchange_seq, item.seq) == ("thread.run.created", None, 1)


# -- printed objects --------------------------------------------------------------------------


def test_the_lesson_log_reads_as_the_lesson_saw_it() -> None:
    items = [i for i in read(FIXTURES / "lesson.printed.log") if isinstance(i, Snapshot)]
    runs = [i for i in items if i.obj["object"] == "thread.run"]
    assert [r.obj["status"] for r in runs] == [
        "queued",
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
    ]
    assert [r.loc.line for r in runs] == [4, 6, 9, 13, 16]
    assert runs[-1].obj["usage"] == {
        "completion_tokens": 340,
        "prompt_tokens": 327,
        "total_tokens": 667,
    }
    tool = runs[0].obj["tools"][0]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "calculate_order_total"
    assert tool["function"]["parameters"]["required"] == ["items"]
    # a log line wrapped inside a string: the object still parses, the break kept as \n
    assert "数量\n计算" in runs[2].obj["tools"][0]["function"]["description"]
    messages = [i for i in items if i.obj["object"] == "thread.message"]
    assert [m.obj["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1].obj["content"][0]["text"]["value"].startswith("你好！我是一个人工智能助手")
    assert [m.loc.line for m in messages] == [3, 18, 18]


def test_printed_objects_are_parsed_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (
        f"Run(id=__import__('os').system('touch {marker}'), status='queued', object='thread.run')\n"
        "noise Run(id='run_2', status=\"it's\", object='thread.run', n=-3, tags={'a', 'b'})\n"
        "ToolRun(id='x') MyMessage(id='y') Run(id='run_3', status='queued'\n"
    )
    items = list(read(_write(tmp_path, text)))
    assert not marker.exists()
    problems = [(i.code, i.loc.line) for i in items if isinstance(i, InputProblem)]
    assert problems == [("input.malformed_repr", 1), ("input.truncated", 3)]
    (snap,) = [i for i in items if isinstance(i, Snapshot)]
    assert snap.obj == {
        "id": "run_2",
        "status": "it's",
        "object": "thread.run",
        "n": -3,
        "tags": ["a", "b"],
    }


def test_text_without_objects_is_unknown(tmp_path: Path) -> None:
    path = _write(tmp_path, "hello\nRunning (not an object)\n")
    assert _problems(path) == [("input.unknown_format", None, None)]
    assert detect(path) is None


# -- cassettes --------------------------------------------------------------------------------


def _cassette() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / "lifecycle.vcr.yaml").read_text())
    return loaded


def test_vcr_binary_and_gzip_bodies(tmp_path: Path) -> None:
    cassette = _cassette()
    response = cassette["interactions"][1]["response"]
    response["body"]["string"] = gzip.compress(response["body"]["string"].encode())
    response["headers"]["Content-Encoding"] = ["gzip"]
    cassette["interactions"][0]["request"]["body"] = {
        "string": cassette["interactions"][0]["request"]["body"]
    }
    path = _write(tmp_path, yaml.safe_dump(cassette), "c.yaml")
    assert "!!binary" in path.read_text()
    assert _http_view(list(read(path))) == _http_view(list(read(FIXTURES / "lifecycle.vcr.yaml")))


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (FIXTURES / "lifecycle.vcr.yaml").read_text()
    evil = f"- !!python/object/apply:os.system ['touch {marker}']\n"
    head, sep, tail = text.partition("- request:")
    path = _write(tmp_path, head + evil + sep + tail, "c.yaml")
    items = list(read(path))
    assert not marker.exists()
    problems = [(i.code, i.loc.line, i.loc.where) for i in items if isinstance(i, InputProblem)]
    assert problems == [("input.malformed_yaml", 2, "interactions[0]")]
    assert sum(isinstance(i, Exchange) for i in items) == 12


def test_a_broken_interaction_loses_only_itself(tmp_path: Path) -> None:
    lines = (FIXTURES / "lifecycle.vcr.yaml").read_text().splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if line == "- request:\n"]
    lines[starts[3] + 2] = "    body: [unclosed\n"
    path = _write(tmp_path, "".join(lines), "c.yaml")
    items = list(read(path))
    problems = [(i.code, i.loc.where) for i in items if isinstance(i, InputProblem)]
    assert problems == [("input.malformed_yaml", "interactions[3]")]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert [i.loc.where for i in exchanges] == [f"interactions[{n}]" for n in range(12) if n != 3]
    assert [i.seq for i in exchanges] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_vcr_entries_with_wrong_types(tmp_path: Path) -> None:
    cassette = _cassette()
    cassette["interactions"][0]["response"]["status"] = {"code": "200"}
    cassette["interactions"][1]["request"] = "GET /"
    cassette["interactions"][2] = ["not", "a", "mapping"]
    cassette["interactions"][3]["response"]["headers"] = {"X": [1]}
    path = _write(tmp_path, json.dumps(cassette, indent=1), "c.json")
    problems = _problems(path)
    assert [(code, where) for code, _, where in problems] == [
        ("input.bad_entry", "interactions[0]"),
        ("input.bad_entry", "interactions[1]"),
        ("input.not_an_object", "interactions[2]"),
        ("input.bad_entry", "interactions[3]"),
    ]
    text = path.read_text().splitlines()
    assert [text[line - 1] for _, line, _ in problems if line] == ["  {", "  {", "  [", "  {"]


def test_har_base64_status_zero_and_bad_entries(tmp_path: Path) -> None:
    har = json.loads((FIXTURES / "lifecycle.har").read_text())
    entries = har["log"]["entries"]
    entries[0]["response"]["status"] = 0
    entries[1]["response"]["content"] = {"text": "!!!", "encoding": "base64"}
    entries[2]["request"] = None
    text = base64.b64encode(b"event: done\ndata: [DONE]\n\n").decode()
    entries[3]["response"]["content"] = {"text": text, "encoding": "base64", "mimeType": "x"}
    path = _write(tmp_path, json.dumps(har), "x.har")
    items = list(read(path))
    assert [(i.code, i.loc.where) for i in items if isinstance(i, InputProblem)] == [
        ("input.bad_entry", "entries[1]"),
        ("input.bad_entry", "entries[2]"),
    ]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert exchanges[0].status is None
    assert exchanges[1].streamed  # an SSE body is a stream whatever its mimeType says
    first = next(i for i in items if isinstance(i, StreamEvent))
    assert (first.event, first.exchange_seq) == ("done", 2)


def test_a_truncated_json_document_keeps_its_whole_elements(tmp_path: Path) -> None:
    text = (FIXTURES / "lifecycle.har").read_text()
    cut = text[: text.index('"startedDateTime": "2024-04-02T03:58:59')]  # inside entries[5]
    path = _write(tmp_path, cut, "x.har")
    items = list(read(path))
    assert items[0].format == "har"  # type: ignore[union-attr]
    assert [(i.code, i.loc.where) for i in items if isinstance(i, InputProblem)] == [
        ("input.truncated", "entries[5]")
    ]
    assert [i.seq for i in items if isinstance(i, Exchange)] == [1, 2, 3, 4, 5]


def test_a_broken_element_in_a_json_array(tmp_path: Path) -> None:
    run = json.dumps({"id": "run_1", "object": "thread.run", "status": "queued"})
    broken = run.replace('"queued"', "queued")
    path = _write(tmp_path, f"[\n{run},\n{broken},\n{run}\n]\n", "x.json")
    assert _problems(path) == [("input.malformed_json", 3, "[1]")]
    assert [i.loc.line for i in read(path) if isinstance(i, Snapshot)] == [2, 4]
    unclosed = _write(tmp_path, f"[\n{run},\n{run[:-5]},\n{run}\n]\n", "y.json")
    assert _problems(unclosed) == [("input.malformed_json", 3, "[1]")]


# -- JSON Lines of objects --------------------------------------------------------------------


def test_jsonl_problems_are_located_and_reading_goes_on(tmp_path: Path) -> None:
    good = (FIXTURES / "lifecycle.objects.jsonl").read_bytes().splitlines(keepends=True)
    lines = [
        good[0],
        b"{not json}\n",
        b"[1, 2]\n",
        b'{"object": "assistant", "id": "asst_1"}\n',
        b'{"object": "thread.run", "id": 7, "status": "queued"}\n',
        b'{"object": "thread.run", "id": "run_1", "status": ["queued"]}\n',
        b"\n",
        b'{"object": "thread.run", "id": "run_1", "status": "qu\xffeued"}\n',
        *good[1:3],
        good[3][:30],
    ]
    items = list(read(_write(tmp_path, b"".join(lines))))
    assert [(i.code, i.loc.line) for i in items if isinstance(i, InputProblem)] == [
        ("input.malformed_json", 2),
        ("input.not_an_object", 3),
        ("input.unknown_object", 4),
        ("input.bad_entry", 5),
        ("input.bad_entry", 6),
        ("input.bad_encoding", 8),
        ("input.truncated", 11),
    ]
    snaps = [i for i in items if isinstance(i, Snapshot)]
    assert [(s.loc.line, s.seq) for s in snaps] == [(1, 1), (9, 2), (10, 3)]


def test_byte_order_mark_and_leading_blank_lines(tmp_path: Path) -> None:
    data = (FIXTURES / "lifecycle.objects.jsonl").read_bytes()
    for prefix in (b"\xef\xbb\xbf", b"\n\n  \n"):
        items = list(read(_write(tmp_path, prefix + data)))
        assert not [i for i in items if isinstance(i, InputProblem)]
        assert sum(isinstance(i, Snapshot) for i in items) == 21
    native = (FIXTURES / "lifecycle.trace.jsonl").read_bytes()
    assert not _problems(_write(tmp_path, b"\xef\xbb\xbf" + native))


def test_a_damaged_native_header_is_still_a_native_trace(tmp_path: Path) -> None:
    data = (FIXTURES / "lifecycle.trace.jsonl").read_bytes()
    path = _write(tmp_path, b"{" + data[10:])
    assert _problems(path)[0] == ("input.malformed_json", 1, None)
    assert sum(isinstance(i, Exchange) for i in read(path)) == 12


# -- whole-file problems ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "input.empty"),
        (b"\n \t\r\n" * 20000, "input.empty"),
        (b"\x00\x01binary\x00junk", "input.binary"),
        (gzip.compress(b'{"a": 1}\n'), "input.binary"),
        ("{}".encode("utf-16"), "input.bad_encoding"),
        (b"just some words\n", "input.unknown_format"),
    ],
)
def test_whole_file_problems(tmp_path: Path, data: bytes, code: str) -> None:
    (problem,) = [i for i in read(_write(tmp_path, data)) if isinstance(i, InputProblem)]
    assert problem.code == code


def test_io_errors_are_problems(tmp_path: Path) -> None:
    assert _codes(tmp_path / "missing.jsonl") == ["input.io_error"]
    assert _codes(tmp_path) == ["input.io_error"]  # a directory
    assert _codes(tmp_path / "nul\0byte") == ["input.io_error"]


def test_reading_stops_cleanly_when_the_caller_stops(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    shutil.copy(FIXTURES / "lifecycle.trace.jsonl", path)
    items = read(path)
    next(items)
    items.close()  # the file is closed: no ResourceWarning (warnings are errors here)


def test_problem_codes_are_documented() -> None:
    doc = (paths.REPO / "docs" / "trace-format.md").read_text()
    for code in PROBLEM_CODES:
        assert f"`{code}`" in doc
    assert set(SNAPSHOT_OBJECTS) == {"thread.run", "thread.run.step", "thread.message", "response"}
    for kind in SNAPSHOT_OBJECTS:
        assert f"`{kind}`" in doc or f'"object":"{kind}"' in doc


def test_a_bare_response_object_is_a_snapshot(tmp_path: Path) -> None:
    obj = {"id": "resp_1", "object": "response", "status": "queued", "output": []}
    path = _write(tmp_path, json.dumps(obj) + "\n" + json.dumps({**obj, "status": "completed"}))
    snaps = [i for i in read(path) if isinstance(i, Snapshot)]
    assert [s.obj["status"] for s in snaps] == ["queued", "completed"]
    assert [s.loc.line for s in snaps] == [1, 2]


# -- floods, and files no format fits -----------------------------------------------------------


def test_a_flood_of_one_problem_is_summarised(tmp_path: Path) -> None:
    line = "INFO got Run(id='run_1', status='in_progress', usage=Usage(\n"
    path = _write(tmp_path, line * 1000 + "Run(id='run_2', status='queued')\n")
    items = list(read(path))
    problems = [i for i in items if isinstance(i, InputProblem)]
    assert [p.loc.line for p in problems] == [*range(1, SHOWN + 1), SHOWN + 1]
    assert {p.code for p in problems} == {"input.truncated"}
    assert problems[-1].message.startswith(
        f"{1000 - SHOWN:,} more like the {SHOWN} above (1,000 in all), "
        f"from line {SHOWN + 1} to line 1,000: Run( is never closed"
    )
    assert [i.obj["id"] for i in items if isinstance(i, Snapshot)] == ["run_2"]


def test_problems_of_different_kinds_are_each_listed(tmp_path: Path) -> None:
    lines = [b'{"object": "thread.run", "id": 1}', b"{not json", b"[1]"] * 3
    codes = _codes(_write(tmp_path, b"\n".join(lines) + b"\n"))
    assert sorted(codes) == sorted(
        ["input.bad_entry", "input.malformed_json", "input.not_an_object"] * 3
    )


@pytest.mark.parametrize(
    ("data", "looked"),
    [
        (
            b'{"model": "gpt-4o", "temperature": 1}',
            "a JSON object with keys 'model', 'temperature'",
        ),
        (b"{}\n", "an empty JSON object"),
        (
            b'[{"role": "user"}, 2]',
            "a JSON array of 2 elements, the first an object with keys 'role'",
        ),
        (b"hello\nworld\n", "the file begins 'hello'"),
    ],
)
def test_a_file_no_format_fits_says_what_was_tried(
    tmp_path: Path, data: bytes, looked: str
) -> None:
    path = _write(tmp_path, data)
    problems = [i for i in read(path) if isinstance(i, InputProblem)]
    assert [p.code for p in problems] == ["input.unknown_format"]
    assert looked in problems[0].message
    for fmt in ("Ruby VCR", "test-proxy", "ExVCR", "nock", "Polly", "go-vcr", "HAR"):
        assert fmt in problems[0].message
    assert detect(path) is None


# -- the formats of other tools: what each stores its own way -------------------------------------


@pytest.mark.parametrize("name", list(HTTP_FORMATS))
def test_formats_are_told_by_content_not_by_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / "recording.txt"
    shutil.copy(FIXTURES / name, path)
    assert detect(path) == HTTP_FORMATS[name]


RUN_BODY = {"id": "run_1", "object": "thread.run", "status": "queued"}


def test_ruby_vcr_and_betamax_base64_bodies(tmp_path: Path) -> None:
    encoded = base64.b64encode(gzip.compress(json.dumps(RUN_BODY).encode())).decode()
    interaction = {
        "request": {"method": "get", "uri": "https://h/v1/threads/t/runs/run_1", "body": {}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Encoding": ["gzip"], "Date": ["Tue, 02 Apr 2024 03:58:12 GMT"]},
            "body": {"encoding": "ASCII-8BIT", "base64_string": encoded},
        },
    }
    ruby = yaml.safe_dump({"http_interactions": [interaction], "recorded_with": "VCR 6.2.0"})
    betamax = json.dumps({"http_interactions": [interaction], "recorded_with": "betamax/0.9.0"})
    for data, fmt in ((ruby, "ruby-vcr-yaml"), (betamax, "betamax-json")):
        items = list(read(_write(tmp_path, data)))
        assert [i.format for i in items if isinstance(i, TraceInfo)] == [fmt]
        (exchange,) = [i for i in items if isinstance(i, Exchange)]
        assert (exchange.method, exchange.response_body) == ("GET", RUN_BODY)
        assert exchange.response_headers["date"] == "Tue, 02 Apr 2024 03:58:12 GMT"
        assert exchange.loc.where == "http_interactions[0]"


def test_nock_headers_and_binary_bodies(tmp_path: Path) -> None:
    body = json.dumps(RUN_BODY).encode()
    calls = [
        {
            "scope": "https://api.openai.com:443",
            "method": "GET",
            "path": "/v1/threads/t/runs/run_1?include=x",
            "status": 200,
            "response": [gzip.compress(body).hex()],
            "rawHeaders": ["Content-Encoding", "gzip", "Set-Cookie", "a", "Set-Cookie", "b"],
        },
        {
            "scope": "https://api.openai.com:443",
            "method": "GET",
            "path": "/v1/threads/t/runs/run_1",
            "status": 200,
            "response": body.hex(),
            "responseIsBinary": True,
        },
        {"scope": "https://api.openai.com:443", "method": "GET", "path": "/", "rawHeaders": ["a"]},
    ]
    items = list(read(_write(tmp_path, json.dumps(calls))))
    exchanges = [i for i in items if isinstance(i, Exchange)]
    assert [e.response_body for e in exchanges] == [RUN_BODY, RUN_BODY]
    assert exchanges[0].query == {"include": "x"}
    assert exchanges[0].response_headers["set-cookie"] == "a, b"
    assert _problems(_write(tmp_path, json.dumps(calls))) == [("input.bad_entry", 1, "[2]")]


def test_test_proxy_bodies_and_bad_entries(tmp_path: Path) -> None:
    entry = {
        "RequestUri": "https://h/v1/threads/t/runs",
        "RequestMethod": "POST",
        "RequestHeaders": {"Content-Type": "application/json"},
        "RequestBody": {"assistant_id": "asst_1"},
        "StatusCode": 400,
        "ResponseHeaders": {"Content-Type": "text/plain", "Set-Cookie": ["a", "b"]},
        "ResponseBody": "no such thread",
    }
    doc = {"Entries": [entry, {**entry, "StatusCode": "400"}], "Variables": {}}
    path = _write(tmp_path, json.dumps(doc, indent=2))
    items = list(read(path))
    (exchange,) = [i for i in items if isinstance(i, Exchange)]
    assert exchange.request_body == {"assistant_id": "asst_1"}
    assert (exchange.status, exchange.response_body) == (400, "no such thread")
    assert exchange.response_headers["set-cookie"] == "a, b"
    starts = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line == "    {"]
    assert _problems(path) == [("input.bad_entry", starts[1], "Entries[1]")]


@pytest.mark.parametrize("name", ["lifecycle.go-vcr-v1.yaml", "lifecycle.go-vcr-v2.yaml"])
def test_a_broken_go_vcr_cassette_keeps_its_whole_interactions(tmp_path: Path, name: str) -> None:
    text = (FIXTURES / name).read_text()
    broken = text.replace("    form: {}\n", "    form: {]\n", 1)
    items = list(read(_write(tmp_path, broken)))
    assert [i.format for i in items if isinstance(i, TraceInfo)] == ["go-vcr-yaml"]
    assert [p.loc.where for p in items if isinstance(p, InputProblem)] == ["interactions[0]"]
    assert len([i for i in items if isinstance(i, Exchange)]) == 11


def test_a_cassette_keeping_parsed_bodies_reads_them(tmp_path: Path) -> None:
    """pydantic-ai's VCR serializer keeps JSON bodies parsed, under ``parsed_body``."""
    text = (
        "interactions:\n"
        "- request:\n"
        "    method: POST\n"
        "    uri: https://api.openai.com/v1/responses\n"
        "    headers: {content-type: [application/json]}\n"
        "    parsed_body: {model: gpt-4o, background: true}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {content-type: [application/json]}\n"
        "    parsed_body: {id: resp_1, object: response, status: queued, output: []}\n"
    )
    path = _write(tmp_path, text)
    (ex,) = [i for i in read(path) if isinstance(i, Exchange)]
    assert ex.request_body == {"model": "gpt-4o", "background": True}
    assert ex.response_body == {
        "id": "resp_1",
        "object": "response",
        "status": "queued",
        "output": [],
    }
