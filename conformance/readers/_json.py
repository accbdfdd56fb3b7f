"""JSON documents: cassettes, HAR and Polly, test-proxy records, ExVCR, nock, bare objects.

A document that does not parse is salvaged: a tolerant tokenizer finds its intact entries.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

from ..observations import InputProblem, Item, Location, TraceInfo
from ._bare import bare_objects
from ._common import OBJECT_KEYS, TRIED, kind_of, numbered
from ._http import ENTRY_READERS

__all__ = ["guess_json", "json_format", "read_json_document"]

_LINES_CAP = 64 << 20  # JSON documents larger than this get element indexes but no line numbers


def guess_json(head: bytes) -> str:
    """The format a JSON document that may not parse seems to be, from its first bytes."""
    for fmt, pattern in _JSON_GUESSES:
        if pattern.search(head):
            return fmt
    return "objects-json"


_JSON_GUESSES = [
    (fmt, re.compile(pattern))
    for fmt, pattern in (
        ("polly", rb'"_recordingName"\s*:'),
        ("har", rb'^\s*\{\s*"log"\s*:'),
        ("betamax-json", rb'"recorded_with"\s*:\s*"[Bb]etamax'),
        ("ruby-vcr-json", rb'"http_interactions"\s*:'),
        ("vcr-json", rb'"interactions"\s*:'),
        ("test-proxy", rb'^\s*\{\s*"Entries"\s*:'),
        ("nock", rb'^\s*\[\s*\{\s*"scope"\s*:'),
        ("exvcr", rb'^\s*\[\s*\{\s*"(?:request|response)"\s*:'),
    )
]


_PATHS = {
    "har": ("log", "entries"),
    "polly": ("log", "entries"),
    "vcr-json": ("interactions",),
    "ruby-vcr-json": ("http_interactions",),
    "betamax-json": ("http_interactions",),
    "test-proxy": ("Entries",),
    "exvcr": (),
    "nock": (),
    "objects-json": (),
}
"""Where each JSON document format keeps its list of entries."""


def json_format(doc: Any) -> tuple[str, tuple[str, ...]]:
    """The format of a parsed JSON document, by its shape, and the path to its entries."""
    if isinstance(doc, dict):
        log = doc.get("log")
        if isinstance(log, dict):
            creator = log.get("creator")
            name = creator.get("name") if isinstance(creator, dict) else None
            polly = "_recordingName" in log or (type(name) is str and name.startswith("Polly"))
            return ("polly" if polly else "har"), ("log", "entries")
        if "http_interactions" in doc:
            tool = doc.get("recorded_with")
            betamax = type(tool) is str and tool.lower().startswith("betamax")
            return ("betamax-json" if betamax else "ruby-vcr-json"), ("http_interactions",)
        if "interactions" in doc:
            return "vcr-json", ("interactions",)
        if "Entries" in doc:
            return "test-proxy", ("Entries",)
        if doc.get("object") == "list":
            return "objects-json", ("data",)
    elif isinstance(doc, list):
        first = next((e for e in doc[:3] if isinstance(e, dict)), None)
        if first is not None and "scope" in first and "method" in first:
            return "nock", ()
        if first is not None and "request" in first and "response" in first:
            return "exvcr", ()
    return "objects-json", ()


def read_json_document(f: IO[bytes], file: str, guess: str) -> Iterator[Item]:
    data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield TraceInfo(Location(file, 1), guess, 1)
        yield from numbered(_salvage(data, file, guess, exc))
        return
    fmt, path = json_format(doc)
    what = _unknown_document(doc) if fmt == "objects-json" else None
    if what is not None:
        yield InputProblem(
            Location(file, _first_line(data)),
            "input.unknown_format",
            f"no supported format fits (tried {TRIED}); the file is {what}",
        )
        return
    yield TraceInfo(Location(file, 1), fmt, _version(fmt, doc))
    elements = _at(doc, path)
    if elements is None:
        if fmt == "objects-json":
            yield from numbered(bare_objects(doc, Location(file, _first_line(data))))
        else:
            name = ".".join(path)
            yield InputProblem(Location(file, 1), "input.bad_entry", f"'{name}' must be an array")
        return
    lines = _element_lines(data, path) if len(data) <= _LINES_CAP else None
    if lines is not None and len(lines) != len(elements):
        lines = None  # the scan disagrees with the parser: give indexes only
    name = path[-1] if path else ""  # "entries[3]", "interactions[3]", "data[3]", "[3]"
    yield from numbered(
        item
        for i, element in enumerate(elements)
        for item in _element(
            fmt, element, Location(file, None if lines is None else lines[i], f"{name}[{i}]")
        )
    )


def _unknown_document(doc: Any) -> str | None:
    """What a JSON document that holds no run, step, message or saved event looks like, or None
    when it may hold some (its elements are then read, and reported one by one)."""
    if isinstance(doc, dict):
        if doc.keys() & OBJECT_KEYS:
            return None
        return f"a JSON object with keys {_keys(doc)}" if doc else "an empty JSON object"
    if not isinstance(doc, list) or not doc:
        return None
    if any(isinstance(e, dict) and e.keys() & OBJECT_KEYS for e in doc):
        return None
    first = doc[0]
    shown = f"an object with keys {_keys(first)}" if isinstance(first, dict) else kind_of(first)
    return f"a JSON array of {len(doc):,} elements, the first {shown}"


def _keys(obj: dict[str, Any]) -> str:
    keys = ", ".join(repr(k[:40]) for k in itertools.islice(obj, 8))
    return keys + (", ..." if len(obj) > 8 else "") if keys else "(none)"


def _version(fmt: str, doc: Any) -> int:
    if fmt == "vcr-json" and type(doc.get("version")) is int:
        return int(doc["version"])
    if fmt in ("har", "polly") and isinstance(doc["log"].get("version"), str):
        major = doc["log"]["version"].partition(".")[0]
        return int(major) if major.isdigit() and len(major) < 6 else 1
    return 1


def _element(fmt: str, element: Any, loc: Location) -> Iterator[Item]:
    reader = ENTRY_READERS.get(fmt)
    return bare_objects(element, loc) if reader is None else reader(element, loc)


def _at(doc: Any, path: tuple[str, ...]) -> list[Any] | None:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc if isinstance(doc, list) else None


def _first_line(data: bytes) -> int:
    return data[: len(data) - len(data.lstrip())].count(b"\n") + 1


_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[{}\[\],:\n]|"|[^\s{}\[\],:"]+')


def _scan(data: bytes, path: tuple[str, ...]) -> Iterator[tuple[int, int | None, int]]:
    """``(start, end, line)`` of each element of the array at ``path`` in JSON text.

    A regex tokenizer, tolerant of damage (it never raises): used for line numbers when the
    document parses, and to salvage the intact elements when it does not. ``end`` is None for an
    element cut off by the end of the data.
    """
    want = [p.encode() for p in path]
    stack: list[int] = []  # 123 '{' or 91 '['
    keys: list[bytes | None] = []
    target = -1  # depth inside the target array, once found
    line = 1
    start = -1
    start_line = 0
    key_next = False
    last_key: bytes | None = None
    for m in _TOKEN.finditer(data):
        pos = m.start()
        c = data[pos]
        if c == 10:
            line += 1
            continue
        depth = len(stack)
        if depth == target and start < 0 and c not in (44, 93):  # not ',' or ']'
            start, start_line = pos, line
        if c in (123, 91):  # '{' '['
            if c == 91 and target < 0 and keys == want and all(t == 123 for t in stack):
                target = depth + 1
            stack.append(c)
            keys.append(None)
            key_next = c == 123
        elif c in (125, 93):  # '}' ']'
            if depth == target:
                if start >= 0:
                    yield start, pos, start_line
                return
            if stack:
                stack.pop()
                keys.pop()
            key_next = False
        elif c == 44:  # ','
            if depth == target and start >= 0:
                yield start, pos, start_line
                start = -1
            key_next = bool(stack) and stack[-1] == 123
        elif c == 58:  # ':'
            if stack and stack[-1] == 123:
                keys[-1] = last_key
            key_next = False
        elif c == 34 and key_next:  # a string in key position
            last_key = m.group()[1:-1]
    if start >= 0:
        yield start, None, start_line


def _element_lines(data: bytes, path: tuple[str, ...]) -> list[int]:
    return [line for _, _, line in _scan(data, path)]


def _salvage(data: bytes, file: str, guess: str, exc: orjson.JSONDecodeError) -> Iterator[Item]:
    """A JSON document that does not parse: report where, and read its intact elements."""
    path = _PATHS.get(guess, ())
    name = path[-1] if path else ""
    reported = False
    for i, (start, end, line) in enumerate(_scan(data, path)):
        loc = Location(file, line, f"{name}[{i}]")
        if end is None:
            reported = True
            if exc.pos >= len(data.rstrip()) - 1:
                yield InputProblem(loc, "input.truncated", "the document ends inside this element")
            else:  # damage the scan cannot get past (an unclosed string, say)
                at = Location(file, exc.lineno, loc.where)
                yield InputProblem(at, "input.malformed_json", f"not JSON: {exc}; the rest is lost")
            break
        try:
            element = orjson.loads(data[start:end])
        except orjson.JSONDecodeError as err:
            reported = True
            yield InputProblem(loc, "input.malformed_json", f"not JSON: {err}")
            continue
        yield from _element(guess, element, loc)
    if not reported:
        code = "input.truncated" if exc.pos >= len(data.rstrip()) else "input.malformed_json"
        yield InputProblem(Location(file, exc.lineno), code, f"not JSON: {exc}")
