"""Fuzzing `read`: no content makes it raise, and every problem is located.

Inputs are random bytes, random bytes behind each format's opening, the fixtures damaged as text
(cut, bytes flipped, lines repeated, dropped or shuffled) and as data (parsed, one value replaced,
deleted, repeated or re-typed, written back). The second half checks that the damage the readers
claim to detect is detected, on every example. Server-sent event streams: test_sse_fuzz.py.
"""

from __future__ import annotations

import base64
import copy
import gzip
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

from conformance.observations import Exchange, InputProblem, TraceInfo
from conformance.readers import PROBLEM_CODES, read
from tests.helpers import paths

FIXTURES = paths.TRACES
SAMPLES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())}
NATIVE = SAMPLES["lifecycle.trace.jsonl"]
WHOLE_FILE = {"input.empty", "input.binary", "input.unknown_format", "input.io_error"}
OPENINGS = [
    b'{"kind":"header","format":"runmodel-trace","version":1}\n',
    b"interactions:\n- request:\n",
    b"---\nhttp_interactions:\n- request:\n",
    b"!tape\nname: x\ninteractions:\n- recorded: 2024-01-01\n",
    b'{"Entries": [{"RequestUri": ',
    b'[{"request": {"url": ',
    b'[{"scope": "https://h:443", "method": "GET", "path": ',
    b'{"log": {"_recordingName": "x", "entries": [',
    b'{"http_interactions": [{"request": ',
    b'{"interactions": [',
    b'{"log": {"entries": [',
    b"[",
    b'{"object": "thread.run", "id": "run_1", "status": "queued"}\n',
    b"Run(id='run_1', ",
    b"\xef\xbb\xbf",
]
AT_LENGTH = settings(max_examples=5_000)  # `make test-slow`
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _read(folder: Path, data: bytes) -> list[Any]:
    """Read ``data`` from a file; assert the reader's promises; return the items."""
    path = folder / f"f{next(_counter)}"
    path.write_bytes(data)
    try:
        items = list(read(path))
    finally:
        path.unlink()
    lines = data.count(b"\n") + 1
    for item in items:
        assert item.loc.file == str(path)
        assert item.loc.line is None or 1 <= item.loc.line <= lines, item
        if isinstance(item, InputProblem):
            assert item.code in PROBLEM_CODES, item
            assert item.code != "input.internal_error", item
            if item.code not in WHOLE_FILE:
                assert item.loc.line is not None or item.loc.where is not None, item
            assert item.message
    return items


def _codes(items: list[Any]) -> set[str]:
    return {i.code for i in items if isinstance(i, InputProblem)}


# -- strategies --------------------------------------------------------------------------------

random_bytes = st.binary(max_size=3000)
text_junk = st.text(
    alphabet=st.sampled_from(
        list("{}[]():,'\"\\ \n\r\t-#!&*|>abcdefXYZ019_.=é中\x00\x0b\x85\u2028")
    ),
    max_size=800,
).map(lambda s: s.encode("utf-8", "surrogatepass"))
behind_openings = st.tuples(st.sampled_from(OPENINGS), st.one_of(random_bytes, text_junk)).map(
    lambda t: t[0] + t[1]
)


@st.composite
def damaged(draw: Callable[..., Any]) -> bytes:
    """A fixture with one to three kinds of damage."""
    data: bytes = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["cut", "flip", "repeat", "drop", "shuffle", "splice", "break"])
        )
        lines = data.splitlines(keepends=True) or [b""]
        if kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "flip" and data:
            buf = bytearray(data)
            for _ in range(draw(st.integers(1, 8))):
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
            data = bytes(buf)
        elif kind == "repeat":
            i = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[: i + 1] + lines[i:])
        elif kind == "drop":
            i = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[:i] + lines[i + 1 :])
        elif kind == "shuffle":
            data = b"".join(draw(st.permutations(lines)))
        elif kind == "splice":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(random_bytes) + data[at:]
        else:  # what some tools count as a line break: VT, FF, CR, NEL, U+2028
            at = draw(st.integers(0, len(data)))
            char = draw(st.sampled_from(["\x0b", "\x0c", "\r", "\x85", "\u2028"]))
            data = data[:at] + char.encode() + data[at:]
    return data


# Structured damage: what a careless edit or a foreign tool writes. The fixture is parsed, one
# value somewhere in it is replaced, deleted, repeated, edited or given a sibling, and it is
# written back (JSON with or without indentation and escapes, YAML, JSON Lines).

KEYS = [
    "object", "id", "status", "kind", "seq", "data", "event", "log", "entries", "interactions",
    "request", "response", "headers", "body", "string", "content", "encoding", "text", "method",
    "url", "uri", "code", "version", "format", "exchange", "wall", "mono", "count", "lost",
    "stream", "query", "path", "postData", "startedDateTime", "name", "value", "content-type",
    "content-encoding", "Content-Type", "Content-Encoding", "http_interactions",
    "base64_string", "recorded_with", "Entries", "RequestUri", "RequestMethod", "RequestBody",
    "StatusCode", "ResponseHeaders", "ResponseBody", "status_code", "scope", "rawHeaders",
    "responseIsBinary", "_recordingName", "creator",
]  # fmt: skip
PIVOTS: list[Any] = [
    "thread.run", "thread.run.step", "thread.message", "list", "header", "exchange", "event",
    "footer", "runmodel-trace", "text/event-stream", "application/json", "gzip", "deflate",
    "base64", "[DONE]", "", "http://[::1/v1/threads", "https://h:99999/v1/threads/t/runs?a=1&a=",
    "2024-04-02T03:58:12.210Z", "9999-12-31T23:59:59-23:59", "data: [DONE]\n\n",
    'event: thread.run.created\ndata: {"id": 1\n\n', "event: x\ndata: {}", "betamax/0.9.0", "1f8b",
    ["data: {}\n\n"], 0, -1, 1, 2, 2**64,
    1e308, True, None, [], {},
]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(PIVOTS),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


def _mutated(draw: Callable[..., Any], value: Any, depth: int) -> Any:
    """``value`` changed at ``depth`` levels down (or at a leaf above): new containers, none edited
    in place. Each depth is as likely as the next, so the checks near the root get their share."""
    if not (isinstance(value, (dict, list)) and value and depth > 0):
        return _changed(draw, value)
    out: Any = dict(value) if isinstance(value, dict) else list(value)
    key = draw(st.sampled_from(list(out) if isinstance(out, dict) else range(len(out))))
    if depth > 1:
        out[key] = _mutated(draw, out[key], depth - 1)
        return out
    op = draw(st.integers(0, 3))
    if op == 0:
        del out[key]
    elif op == 1 and isinstance(out, list):
        out.insert(key, out[key])
    elif op == 1:
        out[draw(st.sampled_from(KEYS))] = draw(json_values)
    else:
        out[key] = _changed(draw, out[key])
    return out


def _changed(draw: Callable[..., Any], value: Any) -> Any:
    """Another value, or the same text with a piece replaced."""
    if isinstance(value, str) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value)))
        j = draw(st.integers(i, len(value)))
        return value[:i] + draw(st.text(max_size=8) | st.sampled_from(PIVOTS[:23])) + value[j:]
    return draw(json_values)


def _as_json(draw: Callable[..., Any], doc: Any) -> bytes:
    text = json.dumps(
        doc, indent=draw(st.sampled_from([None, 1, 4])), ensure_ascii=draw(st.booleans())
    )
    return text.encode("utf-8", "surrogatepass")


def _recode(draw: Callable[..., Any], name: str, doc: Any) -> Any:
    """Bodies stored the other ways the formats allow: gzip bytes in VCR, base64 in HAR."""
    if not draw(st.booleans()):
        return doc
    doc = copy.deepcopy(doc)
    if name.endswith(".vcr.yaml"):
        for inter in doc.get("interactions", []):
            body = inter["response"]["body"]["string"]
            inter["response"]["body"]["string"] = gzip.compress(body.encode())
            inter["response"]["headers"]["Content-Encoding"] = ["gzip"]
    elif name.endswith(".har"):
        for entry in doc["log"]["entries"]:
            content = entry["response"]["content"]
            if "text" in content:
                content["text"] = base64.b64encode(content["text"].encode()).decode()
                content["encoding"] = "base64"
    return doc


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TAPE = b"!tape\n"  # OkReplay's root tag, which the safe loader does not construct
PARSED = {  # the fixtures as data, parsed once (edits copy what they change)
    name: (
        yaml.load(data.removeprefix(TAPE), Loader=_YAML_LOADER)
        if name.endswith((".yaml", ".yml"))
        else orjson.loads(data)
    )
    for name, data in SAMPLES.items()
    if name.endswith((".yaml", ".yml", ".json", ".har"))
}
LINES = {
    name: [orjson.loads(line) for line in data.splitlines()]
    for name, data in SAMPLES.items()
    if name.endswith(".jsonl")
}


@st.composite
def edited(draw: Callable[..., Any]) -> tuple[str, bytes, Any]:
    """A fixture parsed, changed in one to three places, and written back: (name, bytes, doc)."""
    name = draw(st.sampled_from(sorted([*PARSED, *LINES])))
    if name in LINES:
        lines = list(LINES[name])
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = _mutated(draw, lines[i], draw(st.integers(1, 4)))
        text = b"".join(_as_json(draw, line).replace(b"\n", b" ") + b"\n" for line in lines)
        return name, text, None
    doc = _recode(draw, name, PARSED[name])
    for _ in range(draw(st.integers(1, 3))):
        doc = _mutated(draw, doc, draw(st.integers(1, 7)))
    if name.endswith((".yaml", ".yml")):
        unicode = draw(st.booleans())
        text = yaml.dump(doc, Dumper=_YAML_DUMPER, allow_unicode=unicode, sort_keys=False)
        tape = TAPE if SAMPLES[name].startswith(TAPE) else b""
        return name, tape + text.encode("utf-8", "surrogatepass"), doc
    return name, _as_json(draw, doc), doc


# -- nothing escapes, everything is located ----------------------------------------------------


@given(st.one_of(random_bytes, text_junk, behind_openings))
def test_any_bytes(folder: Path, data: bytes) -> None:
    _read(folder, data)


@given(damaged())
def test_damaged_fixtures(folder: Path, data: bytes) -> None:
    _read(folder, data)


def _edit_read(folder: Path, edit: tuple[str, bytes, Any]) -> None:
    """Read an edited fixture: besides `_read`'s checks, every entry is read or reported."""
    name, data, doc = edit
    items = _read(folder, data)
    info = [i.format for i in items if isinstance(i, TraceInfo)]
    if doc is not None and info and info[0] in ENTRIES_AT:
        entries: Any = doc
        for key in ENTRIES_AT[info[0]]:
            entries = entries.get(key) if isinstance(entries, dict) else None
        if isinstance(entries, list):
            key = ENTRIES_AT[info[0]][-1] if ENTRIES_AT[info[0]] else ""
            seen = {i.loc.where.split(" ")[0] for i in items if i.loc.where}
            assert seen >= {f"{key}[{n}]" for n in range(len(entries))}, (name, seen)


ENTRIES_AT = {  # where each recording format keeps its entries
    "har": ("log", "entries"),
    "polly": ("log", "entries"),
    "vcr-json": ("interactions",),
    "vcr-yaml": ("interactions",),
    "go-vcr-yaml": ("interactions",),
    "okreplay-yaml": ("interactions",),
    "ruby-vcr-yaml": ("http_interactions",),
    "ruby-vcr-json": ("http_interactions",),
    "betamax-json": ("http_interactions",),
    "test-proxy": ("Entries",),
    "exvcr": (),
    "nock": (),
}


@given(edited())
def test_edited_fixtures(folder: Path, edit: tuple[str, bytes, Any]) -> None:
    _edit_read(folder, edit)


# -- at length (`make test-slow`); --hypothesis-show-statistics prints the inputs tried ----------


@pytest.mark.slow
@AT_LENGTH
@given(st.one_of(random_bytes, text_junk, behind_openings, damaged()))
def test_any_bytes_and_damage_at_length(folder: Path, data: bytes) -> None:
    _read(folder, data)


@pytest.mark.slow
@AT_LENGTH
@given(edited())
def test_edited_fixtures_at_length(folder: Path, edit: tuple[str, bytes, Any]) -> None:
    _edit_read(folder, edit)


# -- damage that must be reported -------------------------------------------------------------

NATIVE_LINES = NATIVE.splitlines(keepends=True)
ENTRIES = range(1, len(NATIVE_LINES) - 1)  # indexes of the entry lines


@given(st.sampled_from(ENTRIES))
def test_a_repeated_entry_is_reported(folder: Path, i: int) -> None:
    data = b"".join(NATIVE_LINES[: i + 1] + NATIVE_LINES[i:])
    items = _read(folder, data)
    assert ("input.bad_sequence", i + 2) in {
        (p.code, p.loc.line) for p in items if isinstance(p, InputProblem)
    }


@given(st.sampled_from(ENTRIES))
def test_a_dropped_entry_is_reported(folder: Path, i: int) -> None:
    data = b"".join(NATIVE_LINES[:i] + NATIVE_LINES[i + 1 :])
    assert "input.bad_sequence" in _codes(_read(folder, data))


@given(st.integers(1, len(NATIVE) - 2))
def test_a_cut_trace_is_reported(folder: Path, at: int) -> None:
    assert "input.truncated" in _codes(_read(folder, NATIVE[:at]))


@given(st.sampled_from(sorted(SAMPLES)), st.integers(1, 10**6))
def test_a_cut_document_is_reported(folder: Path, name: str, at: int) -> None:
    data = SAMPLES[name]
    if name.endswith((".har", ".json")):  # one JSON document: any cut before its end
        cut = data[: at % (len(data.rstrip()) - 1) + 1]
        assert _codes(_read(folder, cut)) & {"input.truncated", "input.malformed_json"}
    elif name.endswith(".jsonl"):  # JSON Lines: a cut inside a line
        lines = data.splitlines(keepends=True)
        line = lines[at % len(lines)]
        cut = data[: data.index(line) + max(1, len(line) // 2)]
        assert "input.truncated" in _codes(_read(folder, cut))
    else:
        _read(folder, data[: at % len(data)])


# -- what fuzzing found: each once a traceback (an `input.internal_error`) or nothing reported ---

HEADER = b'{"kind":"header","format":"runmodel-trace","version":1}\n'
EVENT = b'{"kind":"event","seq":1,"exchange":%s,"event":"x","data":1,"wall":null,"mono":null}\n'
STREAMED = {"Content-Type": ["text/event-stream"]}


def _vcr(uri: str, headers: dict[str, Any], body: str | bytes) -> bytes:
    response = {"status": {"code": 200}, "headers": headers, "body": {"string": body}}
    interaction = {"request": {"method": "POST", "uri": uri, "body": None}, "response": response}
    return yaml.safe_dump({"interactions": [interaction], "version": 1}).encode()


@pytest.mark.parametrize(
    ("data", "code", "line", "where"),
    [
        (b'{"object": []}\n{"object": {}}\n', "input.unknown_object", 1, None),
        (b'{"kind": [], "seq": 1}\n', "input.unknown_format", 1, None),
        (b'[{"object": [1]}]', "input.unknown_object", 1, "[0]"),
        (b"Run(id='run_1', object=['thread.run'])\n", "input.unknown_object", 1, None),
        (HEADER + EVENT % b"[]", "input.bad_entry", 2, None),
        (HEADER + EVENT % b'{"a": 1}', "input.bad_entry", 2, None),
        (_vcr("http://[::1/v1/threads", {}, "{}"), "input.bad_entry", 2, "interactions[0]"),
        (
            _vcr("/v1/threads/t/runs", STREAMED, 'data: {"id": 1}\n\ndata: {"id": \n\n'),
            "input.malformed_json",
            2,
            "interactions[0] event 1",
        ),
        (_vcr("/v1/threads/t/runs", STREAMED, b"data: \xff\n\n"), "input.bad_encoding", 2, None),
    ],
    ids=[
        "object-not-a-string",
        "kind-not-a-string",
        "object-in-array",
        "printed-object-list",
        "event-exchange-list",
        "event-exchange-object",
        "url-unclosed-bracket",
        "stream-event-not-json",
        "stream-body-not-utf8",
    ],
)
def test_found_by_fuzzing(
    folder: Path, data: bytes, code: str, line: int, where: str | None
) -> None:
    items = _read(folder, data)
    problems = [(p.code, p.loc.line) for p in items if isinstance(p, InputProblem)]
    assert (code, line) in problems
    if where is not None:
        assert where in {p.loc.where for p in items if isinstance(p, InputProblem)}


@pytest.mark.parametrize("damage", ["", "    junk: \x0b\x0c\n"])
@pytest.mark.parametrize("breaks", ["\x85\u2028\u2029", "\r"])
def test_yaml_lines_count_line_feeds_only(folder: Path, damage: str, breaks: str) -> None:
    """YAML breaks lines at CR, NEL, U+2028, U+2029 too, `str.splitlines` also at VT and FF: an
    interaction's line must still be the file's line, in a cassette that parses and in one
    salvaged (control characters are not YAML)."""
    interaction = (
        "- request:\n    method: GET\n    uri: 'http://h/v1/threads/t/runs/r'\n    body: null\n"
        "  response:\n    status: {code: 200}\n    headers: {}\n"
        f'    body: {{string: \'{{"id": "r", "note": "{breaks}"}}\'}}\n'
    )
    damaged = interaction.replace("    body: null\n", "    body: null\n" + damage)
    text = "interactions:\n" + interaction + damaged + interaction + "version: 1\n"
    items = _read(folder, text.encode())
    starts = [n for n, line in enumerate(text.split("\n"), 1) if line == "- request:"]
    exchanges = [(i.loc.where, i.loc.line) for i in items if isinstance(i, Exchange)]
    problems = [(p.loc.where, p.loc.line) for p in items if isinstance(p, InputProblem)]
    if damage:  # reported on the line of the damage
        assert exchanges == [("interactions[0]", starts[0]), ("interactions[2]", starts[2])]
        assert problems == [("interactions[1]", starts[1] + 4)]
    else:
        assert exchanges == [(f"interactions[{n}]", starts[n]) for n in range(3)]
        assert problems == []
