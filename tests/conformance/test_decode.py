"""The checker's fast decoding (`conformance.decode`) against the full parse it replaces.

Differential: every file is checked twice, by ``read(path)`` (every line parsed whole) and by
``read(path, shape=CHECKED)`` (what ``runmodel check`` does), and the two must give the same
events, findings, counts and coverage, on random, broken and real traces. Miniature wrong shapes
show the comparison fails when the fast path reads less than the checker needs.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check import Event, check
from conformance.decode import CHECKED, ENGINE_FIELDS, KINDS, WHOLE, Shape, Whole, parse
from conformance.readers import SNAPSHOT_OBJECTS, read
from conformance.strategies import run_objects
from runmodel import MARKS, RULES
from tests.conformance.check.response_scenarios import response
from tests.helpers.checktrace import T0, message, run, step

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "recordings" / "real"
FIXTURES = ROOT / "tests" / "fixtures"


def events(path: Path, shape: Shape | None) -> list[Event]:
    return list(check(read(path, shape=shape)))


def assert_same_check(data: bytes, shape: Shape = CHECKED) -> None:
    """Check `data` (a file's bytes) both ways: the events must be equal."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        path.write_bytes(data)
        full, fast = events(path, None), events(path, shape)
    assert fast == full


def decoded_lines(data: bytes, shape: Shape = CHECKED) -> int:
    """How many lines of `data` the fast path decodes (the rest are parsed whole)."""
    return sum(shape.decode(line) is not None for line in data.splitlines(keepends=True))


# -- the shape, from the model -----------------------------------------------------------------


def test_the_shape_holds_every_field_the_model_and_the_engine_read() -> None:
    assert KINDS == SNAPSHOT_OBJECTS
    for kind, lifecycle in KINDS.items():
        fields = set(CHECKED.fields[kind])
        assert {f for r in RULES[lifecycle] for f in r.fields} <= fields
        assert {f for fs in MARKS[lifecycle].values() for f in fs} <= fields
        assert set(ENGINE_FIELDS[lifecycle]) | {"id", "object", "status"} <= fields


def test_a_run_line_decodes_to_its_checked_fields_only() -> None:
    obj = run("requires_action", instructions="long text", tools=[{"type": "function"}])
    line = orjson.dumps(obj) + b"\n"
    got = CHECKED.decode(line)
    assert got is not None
    assert "instructions" not in got
    assert "tools" not in got
    assert got[WHOLE] == Whole(orjson.loads(line))
    assert {k: v for k, v in got.items() if k != WHOLE} == {
        k: obj[k] for k in CHECKED.fields["thread.run"] if k in obj
    }
    assert got == CHECKED.project(obj)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"run_1","object":"thread.run","status":"queued","x":"\xff"}\n',  # not UTF-8
        b'{"id":"run_1","object":"thread.run","status":"queued","created_at":1e400}\n',  # beyond
        b'{"id":"run_1","object":"thread.run","status":"queued","usage":{"n":-1E+309}}\n',
        b'{"id":"run_1","object":"thread.run","created_at":' + b"9" * 5000 + b"}\n",
        b'{"id":"run_1","object":"thread.run","status":null}\n',  # status not a string
        b'{"id":1,"object":"thread.run","status":"queued"}\n',
        b'{"id":"a","object":"thread.assistant"}\n',
        b'{"id":"a","object":"thread.run","object":"thread.message","status":"queued"}\n',
        b'{"object":"list","data":[]}\n',
        b"[1, 2]\n",
        b'{"id":"run_1","object":"thread.run",\n',
    ],
)
def test_what_the_fast_shape_cannot_hold_is_parsed_whole(line: bytes) -> None:
    assert CHECKED.decode(line) is None


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"run_1","object":"thread.run","status":"queued","x":1e400}\n',  # beyond a double
        b'{"id":"run_1","object":"thread.run","status":"queued","x":-1E+309}\n',
        b'{"id":"run_1","object":"thread.run","status":"queued","x":' + b"9" * 5000 + b"}\n",
        b'{"id":"run_1","object":"thread.run","status":"queued","created_at":123456789012345678901}\n',
        b'{"id":"run_1","object":"thread.run","status":"queued","usage":{"n":-9223372036854775809}}\n',
        b'{"id":"run_1","object":"thread.run","status":"queued","created_at":12345678901234567890,'
        b'"x":1e999}\n',
    ],
)
def test_numbers_beyond_a_double_or_64_bits_read_alike_both_ways(line: bytes) -> None:
    got = CHECKED.decode(line)
    assert got is not None  # (a number the shape skips, or reads exactly as the full parse)
    want = CHECKED.project(parse(line))
    assert got.keys() == want.keys()
    assert all(_same_values(got[k], want[k]) for k in got if k != WHOLE)
    assert_same_check(line)


def test_the_full_parse_reads_integers_exactly_and_overflow_as_infinity() -> None:
    assert parse(b'{"a":123456789012345678901,"b":1e400,"c":-1E+309}') == {
        "a": 123456789012345678901,
        "b": float("inf"),
        "c": float("-inf"),
    }
    with pytest.raises(ValueError, match="not JSON"):
        parse(b'{"a":1e400,"b":NaN}')
    with pytest.raises(ValueError, match="control character"):
        parse(b'{"a":"\t"}')  # (orjson's message, as before)


def test_equal_objects_in_other_spellings_stay_equal() -> None:
    obj = run("in_progress")
    a = CHECKED.decode(orjson.dumps(obj) + b"\n")
    b = CHECKED.decode(json.dumps(obj, sort_keys=True, indent=None).encode() + b"\n")
    c = CHECKED.decode(orjson.dumps({**obj, "metadata": {"k": "v"}}) + b"\n")
    assert a is not None
    assert b is not None
    assert c is not None
    assert a == b  # the same object, keys in another order
    assert a != c  # a field the checker does not read changed: still another observation


# -- random objects, field by field ------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # (what orjson can write)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


JSON = st.recursive(JSON_SCALARS, _containers, max_leaves=8)
# number literals that parsers read differently, pasted into the text as they are
LITERALS = st.sampled_from(
    [
        "1e400",
        "-1E+309",
        "1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901234567890",
        "1.5e308",
        "0.1e1",
        "-0",
        "-0.0",
        "2.2250738585072011e-308",
    ]
)
FIELDS = st.sampled_from(
    sorted({f for names in CHECKED.fields.values() for f in names} | {"metadata", "tools", "x"})
)


@st.composite
def object_lines(draw: st.DrawFn) -> bytes:
    """A JSON line of a run, step or message object with random values, spellings and damage."""
    base = draw(
        st.sampled_from(
            [
                run("requires_action"),
                run("completed"),
                step("in_progress", kind="tool_calls", calls=["call_1"]),
                message("completed"),
                message(None),
                response("queued"),
                response("completed", calls=["call_1"]),
                response("failed"),
            ]
        )
    )
    obj = dict(base)
    for field, value in draw(st.dictionaries(FIELDS, JSON, max_size=4)).items():
        obj[field] = value
    for field in draw(st.lists(FIELDS, max_size=2)):
        obj.pop(field, None)
    literal = draw(st.none() | st.tuples(FIELDS, LITERALS))
    if literal is not None:
        obj[literal[0]] = "@@literal@@"
    if draw(st.booleans()):
        text = orjson.dumps(obj)
    else:
        keys = list(obj)
        draw(st.randoms(use_true_random=False)).shuffle(keys)
        text = json.dumps(
            {k: obj[k] for k in keys},
            ensure_ascii=draw(st.booleans()),
            separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
        ).encode()
    if literal is not None:
        text = text.replace(b'"@@literal@@"', literal[1].encode())
    return text + b"\n"


def _same_values(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 are not the same reading)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same_values(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)


@given(object_lines())
def test_a_decoded_line_reads_as_the_full_parse_does(line: bytes) -> None:
    got = CHECKED.decode(line)
    try:
        whole = parse(line)
    except ValueError:
        assert got is None  # the full parse rejects it: so must the fast path
        return
    if got is None:
        return  # parsed whole: the same by construction
    want = CHECKED.project(whole)
    assert got.keys() == want.keys()
    assert all(_same_values(got[k], want[k]) for k in got if k != WHOLE)
    assert got[WHOLE] == want[WHOLE]


# -- random and broken traces, checked both ways -----------------------------------------------


def _lines(objs: list[dict[str, Any]], rng: random.Random) -> Iterator[bytes]:
    for obj in objs:
        line = orjson.dumps(obj) + b"\n"
        for _ in range(rng.choice((1, 1, 2, 3))):  # a poller's repeats
            yield line


@st.composite
def traces(draw: st.DrawFn) -> bytes:
    """Interleaved run lives (legal), with steps and messages, field changes and repeats."""
    rng = draw(st.randoms(use_true_random=False))
    lives = [
        [
            {**o, "id": f"run_{n}", "thread_id": f"thread_{n}"}
            for o in draw(run_objects(max_rounds=2, max_gap=60))
        ]
        for n in range(draw(st.integers(1, 3)))
    ]
    for life in lives:
        for i in draw(st.lists(st.integers(0, len(life) - 1), max_size=3)):
            field = draw(FIELDS)
            life[i] = {**life[i], field: draw(JSON)}
    children = [
        step(s, rid="run_0", sid=f"step_{n}")
        for n, s in enumerate(draw(st.lists(st.sampled_from(["in_progress", "completed"]))))
    ] + [message(s, rid="run_0") for s in draw(st.lists(st.sampled_from(["in_progress", None])))]
    streams = [list(_lines(life, rng)) for life in [*lives, children]]
    out: list[bytes] = []
    while any(streams):
        lines = rng.choice([s for s in streams if s])
        out.append(lines.pop(0))
    return b"".join(out)


@st.composite
def response_traces(draw: st.DrawFn) -> bytes:
    """Interleaved response lives (background, polled: legal), with field changes and repeats."""
    rng = draw(st.randoms(use_true_random=False))
    lives = []
    for n in range(draw(st.integers(1, 3))):
        end = draw(st.sampled_from(["completed", "failed", "incomplete", "cancelled"]))
        path = ["queued", *(["in_progress"] if end != "cancelled" or draw(st.booleans()) else [])]
        life = [response(status, rid=f"resp_{n}") for status in [*path, end]]
        for i in draw(st.lists(st.integers(0, len(life) - 1), max_size=3)):
            life[i] = {**life[i], draw(FIELDS): draw(JSON)}
        lives.append(list(_lines(life, rng)))
    out: list[bytes] = []
    while any(lives):
        lines = rng.choice([s for s in lives if s])
        out.append(lines.pop(0))
    return b"".join(out)


@settings(max_examples=30)
@given(response_traces())
def test_random_response_traces_check_the_same_both_ways(data: bytes) -> None:
    assert decoded_lines(data) > 0  # (the fast path is exercised)
    assert_same_check(data)


@settings(max_examples=30)
@given(traces())
def test_random_traces_check_the_same_both_ways(data: bytes) -> None:
    assert decoded_lines(data) > 0  # (the fast path is exercised)
    assert_same_check(data)


PASTES = [b",", b'"', b"}", b"\\u00e9", b"\xc3"]


@st.composite
def broken(draw: st.DrawFn) -> bytes:
    """A random trace damaged as bytes: lines cut, bytes flipped, chars and literals pasted."""
    lines = draw(traces()).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        how = draw(st.sampled_from(["cut", "flip", "paste", "literal", "repeat"]))
        if how == "cut":
            line = line[:at]
        elif how == "flip":
            line = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]
        elif how == "paste":
            line = line[:at] + draw(st.sampled_from(PASTES)) + line[at:]
        elif how == "literal":
            line = line.replace(b"null", draw(LITERALS).encode(), 1)
        else:
            lines.insert(i, line)
        lines[i] = line
    return b"".join(lines)


@settings(max_examples=30)
@given(broken())
def test_broken_traces_check_the_same_both_ways(data: bytes) -> None:
    assert_same_check(data)


# -- real traces ---------------------------------------------------------------------------------


def _recordings() -> list[Path]:
    real = sorted(p for p in REAL.glob("*") if p.is_file() and p.name != "SOURCES.md")
    return real + sorted(p for p in FIXTURES.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", _recordings(), ids=lambda p: p.name)
def test_real_recordings_check_the_same_both_ways(path: Path) -> None:
    assert events(path, CHECKED) == events(path, None)


def _objects(path: Path) -> Iterator[dict[str, Any]]:
    """The run, step, message and response objects a recording's replies and events hold."""
    for item in read(path):
        body = getattr(item, "response_body", None) or getattr(item, "data", None)
        if isinstance(body, dict) and body.get("object") == "list":
            body = {"data": body.get("data")}
        elif isinstance(body, dict) and isinstance(body.get("response"), dict):
            body = body["response"]  # a response's stream event
        for obj in body.get("data", [body]) if isinstance(body, dict) else ():
            if isinstance(obj, dict) and obj.get("object") in KINDS:
                yield obj


def test_the_objects_of_real_recordings_check_the_same_both_ways() -> None:
    """The real recordings hold replies, not bare objects: their objects as JSON Lines take the
    fast path (the lesson's file too)."""
    lines = [orjson.dumps(o) + b"\n" for p in _recordings() for o in _objects(p)]
    lines += (FIXTURES / "lesson_runs.jsonl").read_bytes().splitlines(keepends=True)
    data = b"".join(lines)
    assert decoded_lines(data) >= len(lines) * 3 // 4
    assert_same_check(data)


# -- the comparison can fail ---------------------------------------------------------------------


def test_a_shape_that_misses_a_field_the_rules_read_is_caught() -> None:
    """A miniature wrong shape, without ``failed_at``: it misses a failed_at before started_at."""
    narrow = Shape(
        {kind: [f for f in names if f != "failed_at"] for kind, names in CHECKED.fields.items()}
    )
    data = b"".join(
        orjson.dumps(o) + b"\n" for o in (run("queued"), run("in_progress", failed_at=T0 - 100))
    )
    with pytest.raises(AssertionError):
        assert_same_check(data, narrow)
    assert_same_check(data)
