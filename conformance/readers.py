"""Read any supported recording into observation items: `read(path)` is the one entry point.

The format is chosen by content, not by file name: a native trace (JSON Lines with a runmodel
header); cassettes of VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr (YAML or JSON); SDK
test-proxy session records; ExVCR and nock recordings; HAR 1.2 archives and Polly recordings; a
JSON array or JSON Lines of bare run / run-step / message objects; or a log with the SDK's
printed objects (``Run(id='run_…', status='queued', …)``). Every recorded exchange becomes items
by one path (`_exchange_items`). Every item carries its file and line. Bad input becomes
`InputProblem` items and reading goes on; no exception escapes `read`. YAML is loaded with the
safe loader only and printed objects are parsed with `ast`, never evaluated."""

from __future__ import annotations

import ast
import base64
import binascii
import itertools
import re
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._sse import decode_event, parse_sse
from .observations import Exchange, InputProblem, Item, Location, Snapshot, StreamEvent, TraceInfo
from .trace import _json_problem, read_trace

__all__ = ["FORMATS", "PROBLEM_CODES", "SHOWN", "SNAPSHOT_OBJECTS", "detect", "read"]

FORMATS = (
    "runmodel-trace",
    "vcr-yaml",
    "vcr-json",
    "ruby-vcr-yaml",
    "ruby-vcr-json",
    "betamax-json",
    "okreplay-yaml",
    "go-vcr-yaml",
    "test-proxy",
    "exvcr",
    "nock",
    "har",
    "polly",
    "objects-json",
    "objects-jsonl",
    "objects-printed",
)
"""The formats `read` recognises, as named in `detect` and in each `TraceInfo`."""

SNAPSHOT_OBJECTS = {"thread.run": "run", "thread.run.step": "run_step", "thread.message": "message"}
"""The API ``object`` types read as snapshots, and the model lifecycle each belongs to."""

PROBLEM_CODES = {
    "input.io_error": "the file could not be opened or read",
    "input.empty": "the file is empty or blank",
    "input.binary": "the file is binary (or compressed), not text",
    "input.bad_encoding": "text that is not UTF-8",
    "input.unknown_format": "no supported format recognised",
    "input.malformed_json": "JSON that does not parse",
    "input.malformed_yaml": "YAML that does not parse, or uses tags the safe loader refuses",
    "input.malformed_repr": "a printed object that does not parse",
    "input.truncated": "the file ends early: no footer, a cut line, an unclosed document",
    "input.bad_sequence": "sequence numbers repeat, go back, or skip",
    "input.not_an_object": "a value that should be an object is not",
    "input.unknown_object": "an object that is not a run, run step or message",
    "input.bad_entry": "an entry with missing fields or fields of the wrong type",
    "input.bad_header": "a trace header that is missing, misplaced or wrong",
    "input.unsupported_version": "a trace written by a newer version of the format",
    "input.internal_error": "a reader bug; please report it with the file",
}
"""Every `InputProblem` code a reader emits, with what it means."""

_SNIFF = 65536
_BUFFER = 1 << 20
_LINES_CAP = 64 << 20  # JSON documents larger than this get element indexes but no line numbers
_NATIVE = re.compile(rb'"kind"\s*:\s*"(?:header|exchange|event|footer)"|"runmodel-trace"')
_YAML_CASSETTE = re.compile(rb"^(?:http_)?interactions\s*:", re.M)
_PRINTED = re.compile(r"(?<![A-Za-z0-9_.])(Run|RunStep|Message|ThreadMessage)\(")
_PRINTED_KIND = {
    "Run": "thread.run",
    "RunStep": "thread.run.step",
    "Message": "thread.message",
    "ThreadMessage": "thread.message",
}
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")
_TRIED = (
    "runmodel trace; VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr cassettes; SDK test-proxy "
    "records; ExVCR; nock; HAR and Polly; run/step/message objects as JSON, JSON Lines or "
    "printed Run(...) in a log"
)


def read(path: str | Path) -> Iterator[Item]:
    """Every item of a recording, in observation order; the format is detected from content.

    Treat items as read-only: a bare object's line repeated may yield the object yielded before.
    """
    file = str(path)
    try:
        # (a large buffer: line iteration is several times faster than with the default one)
        f = open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 (closed below, also on early stop)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        yield InputProblem(Location(file), "input.io_error", f"cannot open: {reason}")
        return
    try:
        yield from _summarised(_read_open(f, file))
    except OSError as exc:
        yield InputProblem(Location(file), "input.io_error", f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a bug of ours must not become the user's traceback
        yield InputProblem(
            Location(file), "input.internal_error", f"reader failed: {type(exc).__name__}: {exc}"
        )
    finally:
        f.close()


SHOWN = 5
"""Problems of one kind listed in full; the rest of a flood of them is summarised in one."""

_NUMBERS = re.compile(r"\d+")


def _summarised(items: Iterable[Item]) -> Iterator[Item]:
    """The items, with problems of one kind (code, and message but for its numbers) after the
    first `SHOWN` held back, and summarised at the end: how many, first and last line."""
    problem = InputProblem
    kinds: dict[tuple[str, str], list[Any]] = {}  # kind -> [count, first held back, last]
    for item in items:
        if type(item) is problem:
            key = (item.code, _NUMBERS.sub("#", item.message))
            seen = kinds.get(key)
            if seen is None:
                kinds[key] = seen = [0, None, None]
            seen[0] += 1
            if seen[0] > SHOWN:
                seen[1] = seen[1] or item
                seen[2] = item
                continue
        yield item
    for count, first, last in kinds.values():
        if count > SHOWN:
            lines = (
                f"from line {first.loc.line:,} to line {last.loc.line:,}"
                if first.loc.line is not None and last.loc.line is not None
                else f"from {first.loc} to {last.loc}"
            )
            yield InputProblem(
                first.loc,
                first.code,
                f"{count - SHOWN:,} more like the {SHOWN} above ({count:,} in all), {lines}: "
                f"{first.message}",
            )


def detect(path: str | Path) -> str | None:
    """The format `read` would use for a file (one of `FORMATS`), or None when it has none."""
    for item in read(path):
        if isinstance(item, TraceInfo):
            return item.format
        if isinstance(item, InputProblem) and item.code in (
            "input.io_error",
            "input.empty",
            "input.binary",
            "input.unknown_format",
        ):
            return None
    return None


# --------------------------------------------------------------------------------------------
# Detection


def _read_open(f: IO[bytes], file: str) -> Iterable[Item]:
    """Detect the format and return the reader's items (no generator layer of its own)."""
    head = f.read(_SNIFF)
    start = 0
    while True:  # skip leading blank space, however long
        stripped = head.lstrip()
        if stripped or len(head) < _SNIFF:
            break
        start += len(head)
        head = f.read(_SNIFF)
    bom = 3 if start == 0 and head.startswith(b"\xef\xbb\xbf") else 0
    if bom:
        stripped = head[3:].lstrip()
    if not stripped:
        return [InputProblem(Location(file), "input.empty", "the file is empty")]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the file is UTF-16; save it as UTF-8"
        return [InputProblem(Location(file, 1), "input.bad_encoding", message)]
    if _binary(head):
        kind = " (gzip-compressed: decompress it first)" if head[:2] == b"\x1f\x8b" else ""
        return [InputProblem(Location(file), "input.binary", f"the file is binary{kind}")]
    f.seek(bom)
    first = stripped[:1]
    if first == b"{":
        return _read_brace(f, file, head, bom)
    if first == b"[":
        return _read_json_document(f, file, _guess_json(head[bom:]))
    if _YAML_CASSETTE.search(head):
        return _read_yaml(f.read(), file)
    return _numbered(_read_printed(f, file, stripped[:200]))


def _binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    sample = head[:4096]
    controls = sum(1 for b in sample if b < 32 and b not in _TEXT_CONTROLS)
    return controls * 10 > len(sample)


def _read_brace(f: IO[bytes], file: str, head: bytes, bom: int) -> Iterable[Item]:
    """A file starting with ``{``: JSON Lines (native or bare objects) or one JSON document."""
    lines = _nonblank_lines(f, 2)
    f.seek(bom)
    first = _loads(lines[0]) if lines else None
    if isinstance(first, dict):
        if _is_native(first):
            return read_trace(f, file)
        fmt = _json_format(first)[0]
        if fmt != "objects-json" or (len(lines) == 1 and not first.keys() & _OBJECT_KEYS):
            return _read_json_document(f, file, fmt)
        return _read_objects_jsonl(f, file)
    if _NATIVE.search(head):
        return read_trace(f, file)
    if len(lines) > 1 and isinstance(_loads(lines[1]), dict):
        return _read_objects_jsonl(f, file)
    return _read_json_document(f, file, _guess_json(head))


def _guess_json(head: bytes) -> str:
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


def _is_native(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind")
    return obj.get("format") == "runmodel-trace" or (type(kind) is str and kind in _TRACE_KINDS)


_TRACE_KINDS = frozenset({"header", "exchange", "event", "footer"})
_OBJECT_KEYS = frozenset({"object", "event", "data"})  # what a bare object or saved event has


def _nonblank_lines(f: IO[bytes], n: int) -> list[bytes]:
    out: list[bytes] = []
    for line in f:
        if not line.isspace():
            out.append(line)
            if len(out) == n:
                break
    return out


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


# --------------------------------------------------------------------------------------------
# Bare objects


def _read_objects_jsonl(lines: Iterable[bytes], file: str) -> Iterator[Item]:
    """JSON Lines of bare objects: the hot path is one `orjson.loads` and four checks a line.

    A poller records the same object many times: a line identical, byte for byte, to the last
    snapshot line that began the same way (in practice: the same object's previous observation)
    is not parsed again, and yields that line's object itself (equal, since parsing is
    deterministic; shared, so consumers must not mutate it, and the checker compares by identity).
    """
    yield TraceInfo(Location(file, 1), "objects-jsonl", 1)
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    kinds = SNAPSHOT_OBJECTS
    new = tuple.__new__  # a Location without its Python-level constructor: the same tuple
    location = Location
    # line prefix -> (line, its object), least recently seen first
    recent: OrderedDict[bytes, tuple[bytes, dict[str, Any]]] = OrderedDict()
    again = recent.move_to_end
    cap = _RECENT
    lineno = 0
    seq = 0
    for raw in lines:
        lineno += 1
        key = raw[:_PREFIX]
        hit = recent.get(key)
        if hit is not None and hit[0] == raw:
            again(key)
            seq += 1
            yield Snapshot(new(location, (file, lineno, None)), seq, hit[1])
            continue
        try:
            obj = loads(raw)
        except decode_error as exc:
            if not raw.isspace():
                yield _json_problem(file, lineno, raw, exc)
            continue
        if (
            type(obj) is dict
            and type(kind := obj.get("object")) is str  # (a list or object is not hashable)
            and kind in kinds
            and type(obj.get("id")) is str
            and type(obj.get("status", "")) is str
        ):
            if len(raw) <= _LONG:
                recent[key] = (raw, obj)
                again(key)
                if len(recent) > cap:
                    recent.popitem(last=False)
            seq += 1
            yield Snapshot(new(location, (file, lineno, None)), seq, obj)
            continue
        for item in _objects(obj, Location(file, lineno)):
            if isinstance(item, (Snapshot, StreamEvent)):
                seq += 1
                item.seq = seq
            yield item


_PREFIX = 64  # bytes of a line that pick its slot (an object's id comes first in SDK dumps)
_RECENT = 512  # slots kept, the least recently seen dropped first (a few hundred open objects)
_LONG = 16384  # longer lines are always parsed: what is kept stays small (~1 kB a run object)


def _objects(obj: Any, loc: Location, pages: bool = True) -> Iterator[Item]:
    """One bare value: a snapshot, a list page of them, a saved stream event, or a problem.

    Items come unnumbered (``seq`` None); the caller numbers them. Pages do not nest.
    """
    if type(obj) is not dict:
        yield InputProblem(
            loc,
            "input.not_an_object",
            f"expected a run, run step or message object, got {_kind(obj)}",
        )
        return
    kind = obj.get("object")
    if type(kind) is str and kind in SNAPSHOT_OBJECTS:
        bad = _snapshot_problem(obj)
        if bad:
            yield InputProblem(loc, "input.bad_entry", f"{kind} object: {bad}")
        else:
            yield Snapshot(loc, None, obj)
    elif kind == "list" and pages and type(obj.get("data")) is list:
        for i, element in enumerate(obj["data"]):
            where = f"data[{i}]" if loc.where is None else f"{loc.where}.data[{i}]"
            yield from _objects(element, Location(loc.file, loc.line, where), pages=False)
    elif type(obj.get("event")) is str and "data" in obj and kind is None:
        yield StreamEvent(loc, None, None, None, None, obj["event"], obj["data"])
    else:
        what = f"an object of type {kind!r}" if kind is not None else "an object without 'object'"
        yield InputProblem(
            loc, "input.unknown_object", f"{what}, not a run, run step or message; skipped"
        )


def _snapshot_problem(obj: dict[str, Any]) -> str | None:
    if type(obj.get("id")) is not str:
        return f"'id' must be a string, not {_kind(obj.get('id'))}"
    status = obj.get("status", "")
    if type(status) is not str and not (status is None and obj.get("object") == "thread.message"):
        # (user-created messages come back with status null: evidence §4, observed)
        return f"'status' must be a string, not {_kind(status)}"
    return None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "a value")


# --------------------------------------------------------------------------------------------
# JSON documents: a bare-object array or page, a VCR JSON cassette, a HAR archive

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


def _json_format(doc: Any) -> tuple[str, tuple[str, ...]]:
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


def _read_json_document(f: IO[bytes], file: str, guess: str) -> Iterator[Item]:
    data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield TraceInfo(Location(file, 1), guess, 1)
        yield from _numbered(_salvage(data, file, guess, exc))
        return
    fmt, path = _json_format(doc)
    what = _unknown_document(doc) if fmt == "objects-json" else None
    if what is not None:
        yield InputProblem(
            Location(file, _first_line(data)),
            "input.unknown_format",
            f"no supported format fits (tried {_TRIED}); the file is {what}",
        )
        return
    yield TraceInfo(Location(file, 1), fmt, _version(fmt, doc))
    elements = _at(doc, path)
    if elements is None:
        if fmt == "objects-json":
            yield from _numbered(_objects(doc, Location(file, _first_line(data))))
        else:
            name = ".".join(path)
            yield InputProblem(Location(file, 1), "input.bad_entry", f"'{name}' must be an array")
        return
    lines = _element_lines(data, path) if len(data) <= _LINES_CAP else None
    if lines is not None and len(lines) != len(elements):
        lines = None  # the scan disagrees with the parser: give indexes only
    name = path[-1] if path else ""  # "entries[3]", "interactions[3]", "data[3]", "[3]"
    yield from _numbered(
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
        if doc.keys() & _OBJECT_KEYS:
            return None
        return f"a JSON object with keys {_keys(doc)}" if doc else "an empty JSON object"
    if not isinstance(doc, list) or not doc:
        return None
    if any(isinstance(e, dict) and e.keys() & _OBJECT_KEYS for e in doc):
        return None
    first = doc[0]
    shown = f"an object with keys {_keys(first)}" if isinstance(first, dict) else _kind(first)
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
    reader = _ENTRY_READERS.get(fmt)
    return _objects(element, loc) if reader is None else reader(element, loc)


def _numbered(items: Iterable[Item]) -> Iterator[Item]:
    """Number imported items in order from 1; a stream event's exchange 0 means the last one."""
    seq = 0
    exchange = 0
    for item in items:
        if isinstance(item, Exchange):
            seq += 1
            item.seq = exchange = seq
        elif isinstance(item, StreamEvent):
            seq += 1
            item.seq = seq
            if item.exchange_seq == 0:
                item.exchange_seq = exchange
        elif isinstance(item, Snapshot):
            seq += 1
            item.seq = seq
        yield item


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


# --------------------------------------------------------------------------------------------
# HTTP archives: shared by VCR and HAR


def _exchange_items(
    loc: Location,
    wall: float | None,
    method: str,
    url: str,
    request_body: bytes | str | None,
    status: int | None,
    headers: dict[str, str],
    body: bytes | str | None,
) -> Iterator[Item]:
    try:
        split = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        yield InputProblem(loc, "input.bad_entry", f"the request URL does not parse: {exc}")
        return
    query: dict[str, str] = {}
    for k, v in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(k, v)
    streamed = headers.get("content-type", "").startswith("text/event-stream")
    if body and not streamed:
        text = body if isinstance(body, str) else body[:64].decode("utf-8", "replace")
        streamed = text.lstrip().startswith(("event:", "data:"))
    yield Exchange(
        loc,
        None,
        wall,
        None,
        method.upper(),
        split.path,
        query,
        _json_body(request_body),
        status,
        headers,
        None if streamed else _json_body(body),
        streamed,
    )
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"the response body is not UTF-8 (byte {exc.start}); read with U+FFFD"
            yield InputProblem(loc, "input.bad_encoding", message)
    if streamed and body:
        for n, (event, data) in enumerate(parse_sse(body)):
            name, payload = decode_event(event, data)
            where = Location(
                loc.file, loc.line, f"{loc.where} event {n}" if loc.where else f"event {n}"
            )
            if type(payload) is str and (bad := _unreadable(data)) is not None:
                yield InputProblem(where, "input.malformed_json", f"{name} event: {bad}")
            yield StreamEvent(where, None, 0, wall, None, name, payload)


def _unreadable(data: str) -> str | None:
    """Why the SDK could not read an event's data (it parses all but ``[DONE]`` as JSON)."""
    if data.startswith("[DONE]"):
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return f"its data is not JSON ({exc}); the SDK cannot read it"
    return None


def _json_body(body: bytes | str | None) -> Any:
    if body is None or body in ("", b""):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body if isinstance(body, str) else body.decode("utf-8", "replace")


def _inflate(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            return zlib.decompress(body, 47 if encoding != "deflate" else 15)
        except zlib.error:
            return body
    return body


def _vcr_interaction(inter: Any, loc: Location) -> Iterator[Item]:
    """A VCR-style interaction: VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr (v1 and v2)."""
    if not isinstance(inter, dict):
        yield InputProblem(loc, "input.not_an_object", "an interaction must be a mapping")
        return
    request, response = inter.get("request"), inter.get("response")
    uri = request.get("uri", request.get("url")) if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(uri, str):
        yield InputProblem(
            loc, "input.bad_entry", "an interaction needs a request with a 'uri' (or 'url')"
        )
        return
    method = request.get("method")
    if not isinstance(method, str):
        yield InputProblem(loc, "input.bad_entry", "the request needs a string 'method'")
        return
    ok, request_body = _vcr_body(request.get("body"))
    if not ok:
        yield InputProblem(loc, "input.bad_entry", "the request body must be a string")
        return
    if not isinstance(response, dict):
        yield InputProblem(loc, "input.bad_entry", "an interaction needs a 'response' mapping")
        return
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    if type(code) is not int and type(response.get("code")) is int:  # go-vcr: "200 OK" and 200
        code = response["code"]
    headers = _vcr_headers(response.get("headers"))
    ok, body = _vcr_body(response.get("body"))
    if type(code) is not int or headers is None or not ok:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "the response needs an integer status code, string headers and a string body",
        )
        return
    if isinstance(body, bytes):
        body = _inflate(body, headers.get("content-encoding", ""))
    yield from _exchange_items(loc, None, method, uri, request_body, code, headers, body)


def _vcr_body(body: Any) -> tuple[bool, bytes | str | None]:
    """A VCR body (a string, bytes, ``{string: ...}`` or Ruby VCR's and Betamax's
    ``{base64_string: ...}``), and whether it was one of those."""
    if isinstance(body, dict):
        if "base64_string" in body and isinstance(body["base64_string"], str):
            try:
                return True, base64.b64decode(body["base64_string"])
            except (binascii.Error, ValueError):
                return False, None
        body = body.get("string")
    if body is None or isinstance(body, (str, bytes)):
        return True, body
    return False, None


def _value_body(body: Any, headers: dict[str, str]) -> bytes | str | None:
    """A body stored as a JSON value (test proxy, nock): text as it is, a list of text lines (an
    event stream, or text kept line by line) joined, and any other value as its JSON."""
    if body is None or isinstance(body, str):
        return body
    if (
        isinstance(body, list)
        and body
        and all(type(line) is str for line in body)
        and "json" not in headers.get("content-type", "")
    ):
        return "".join(body)
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
        raise ValueError(f"a body that cannot be read as JSON: {exc}") from exc


def _proxy_entry(entry: Any, loc: Location) -> Iterator[Item]:
    """An entry of an SDK test-proxy session record (``{"Entries": [...]}``)."""
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "an entry must be an object")
        return
    method, uri, code = entry.get("RequestMethod"), entry.get("RequestUri"), entry.get("StatusCode")
    if not isinstance(method, str) or not isinstance(uri, str) or type(code) is not int:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "an entry needs a string 'RequestMethod' and 'RequestUri' and an integer 'StatusCode'",
        )
        return
    request_headers = _vcr_headers(entry.get("RequestHeaders"))
    headers = _vcr_headers(entry.get("ResponseHeaders"))
    if headers is None or request_headers is None:
        yield InputProblem(
            loc, "input.bad_entry", "headers must map names to strings or lists of strings"
        )
        return
    try:
        request_body = _value_body(entry.get("RequestBody"), request_headers)
        body = _value_body(entry.get("ResponseBody"), headers)
    except ValueError as exc:
        yield InputProblem(loc, "input.bad_entry", str(exc))
        return
    yield from _exchange_items(loc, None, method, uri, request_body, code, headers, body)


def _exvcr_pair(pair: Any, loc: Location) -> Iterator[Item]:
    """An ExVCR interaction: ``{"request": {url, method, body}, "response": {status_code}}``."""
    if not isinstance(pair, dict):
        yield InputProblem(loc, "input.not_an_object", "an interaction must be an object")
        return
    request, response = pair.get("request"), pair.get("response")
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("url"), str)
        or not isinstance(request.get("method"), str)
        or not isinstance(response, dict)
        or type(response.get("status_code")) is not int
    ):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "an interaction needs a request with 'url' and 'method', and a response with an "
            "integer 'status_code'",
        )
        return
    headers = _vcr_headers(response.get("headers"))
    request_body, body = request.get("body"), response.get("body")
    if (
        headers is None
        or not isinstance(request_body, (str, type(None)))
        or not isinstance(body, (str, type(None)))
    ):
        yield InputProblem(
            loc, "input.bad_entry", "headers must be strings and bodies strings or null"
        )
        return
    yield from _exchange_items(
        loc,
        None,
        request["method"],
        request["url"],
        request_body,
        response["status_code"],
        headers,
        body,
    )


def _nock_entry(entry: Any, loc: Location) -> Iterator[Item]:
    """A nock recording: ``{scope, method, path, body, status, response, rawHeaders}``."""
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "a recorded call must be an object")
        return
    scope, method, path = entry.get("scope"), entry.get("method"), entry.get("path")
    status = entry.get("status", 200)
    if (
        not isinstance(scope, str)
        or not isinstance(method, str)
        or not isinstance(path, str)
        or type(status) is not int
    ):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "a recorded call needs string 'scope', 'method' and 'path' and an integer 'status'",
        )
        return
    raw = entry.get("rawHeaders")
    headers = _raw_headers(raw) if raw is not None else _vcr_headers(entry.get("headers"))
    if headers is None:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "headers must be a mapping of strings, or rawHeaders name, value, ... strings",
        )
        return
    try:
        request_body = _value_body(entry.get("body"), {})
        body = _nock_body(entry.get("response"), entry.get("responseIsBinary") is True, headers)
    except ValueError as exc:
        yield InputProblem(loc, "input.bad_entry", str(exc))
        return
    url = scope.rstrip("/") + (path if path.startswith("/") else "/" + path)
    yield from _exchange_items(loc, None, method, url, request_body, status, headers, body)


def _vcr_headers(headers: Any) -> dict[str, str] | None:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        return None
    out: dict[str, str] = {}
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(name, str) or not all(isinstance(v, str) for v in values):
            return None
        out[name.lower()] = ", ".join(values)
    return out


def _har_entry(entry: Any, loc: Location) -> Iterator[Item]:
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "a HAR entry must be an object")
        return
    request, response = entry.get("request"), entry.get("response")
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("url"), str)
    ):
        yield InputProblem(
            loc, "input.bad_entry", "a HAR entry needs a request with 'method' and 'url'"
        )
        return
    if not isinstance(response, dict) or type(response.get("status")) is not int:
        yield InputProblem(
            loc, "input.bad_entry", "a HAR entry needs a response with an integer 'status'"
        )
        return
    headers = _har_headers(response.get("headers"))
    post = request.get("postData")
    request_body = post.get("text") if isinstance(post, dict) else None
    content = response.get("content")
    body: bytes | str | None = None
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        body = content["text"]
        if content.get("encoding") == "base64":
            try:
                body = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                yield InputProblem(
                    loc, "input.bad_entry", "response.content.text is not valid base64"
                )
                return
    if headers is None or not isinstance(request_body, (str, type(None))):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "HAR headers must be name/value objects and postData.text a string",
        )
        return
    status = response["status"] or None  # HAR uses 0 for "no response"
    yield from _exchange_items(
        loc,
        _har_time(entry.get("startedDateTime")),
        request["method"],
        request["url"],
        request_body,
        status,
        headers,
        body,
    )


def _har_headers(headers: Any) -> dict[str, str] | None:
    if headers is None:
        return {}
    if not isinstance(headers, list):
        return None
    pairs = []
    for h in headers:
        if not isinstance(h, dict) or not isinstance(h.get("name"), str):
            return None
        if not isinstance(h.get("value"), str):
            return None
        pairs.append((h["name"].lower(), h["value"]))
    out: dict[str, str] = {}
    for name, value in pairs:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _har_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _raw_headers(raw: Any) -> dict[str, str] | None:
    """Node's ``rawHeaders``: ``[name, value, name, value, ...]``, repeated names joined."""
    if not isinstance(raw, list) or len(raw) % 2 or not all(type(h) is str for h in raw):
        return None
    out: dict[str, str] = {}
    for name, value in zip(raw[::2], raw[1::2], strict=True):
        name = name.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _nock_body(response: Any, binary: bool, headers: dict[str, str]) -> bytes | str | None:
    """A nock response: a JSON value or text, or hex (chunks) when binary or compressed."""
    chunks = isinstance(response, list) and response and all(type(c) is str for c in response)
    if (binary and type(response) is str) or (chunks and (binary or "content-encoding" in headers)):
        try:
            data = bytes.fromhex(response if type(response) is str else "".join(response))
        except ValueError:
            raise ValueError("a binary response must be hex") from None
        return _inflate(data, headers.get("content-encoding", ""))
    return _value_body(response, headers)


_ENTRY_READERS = {
    "har": _har_entry,
    "polly": _har_entry,
    "vcr-json": _vcr_interaction,
    "ruby-vcr-json": _vcr_interaction,
    "betamax-json": _vcr_interaction,
    "test-proxy": _proxy_entry,
    "exvcr": _exvcr_pair,
    "nock": _nock_entry,
}
"""How each JSON document format's entries become items: all through `_exchange_items`."""


# --------------------------------------------------------------------------------------------
# VCR YAML cassettes (safe loader only: tags that would build Python objects are refused)


def _read_yaml(data: bytes, file: str) -> Iterator[Item]:
    import yaml

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        yield InputProblem(
            Location(file, line), "input.bad_encoding", "the file is not valid UTF-8"
        )
        text = data.decode("utf-8", "replace")
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = _compose(loader_class, text)
    except (yaml.YAMLError, RecursionError) as exc:
        fmt, key = _yaml_guess(text)
        yield TraceInfo(Location(file, 1), fmt, 1)
        yield from _numbered(_yaml_salvage(text, file, exc, loader_class, key))
        return
    pairs = {
        key.value: value
        for key, value in (root.value if isinstance(root, yaml.MappingNode) else [])
        if isinstance(key, yaml.ScalarNode)
    }
    key = "http_interactions" if "http_interactions" in pairs else "interactions"
    interactions = pairs.get(key)
    version = pairs.get("version")
    number = version.value if isinstance(version, yaml.ScalarNode) else ""
    fmt = _yaml_format(root, key, interactions)
    yield TraceInfo(Location(file, 1), fmt, int(number) if number.isdigit() else 1)
    if not isinstance(interactions, yaml.SequenceNode):
        yield InputProblem(Location(file, 1), "input.bad_entry", f"no '{key}' list")
        return
    yield from _numbered(_yaml_items(interactions.value, loader_class, file, text, 0, 0, key))


def _yaml_format(root: Any, key: str, interactions: Any) -> str:
    """Which tool wrote a YAML cassette, from its root and its first interaction's request."""
    import yaml

    if key == "http_interactions":
        return "ruby-vcr-yaml"
    if getattr(root, "tag", "") == "!tape":
        return "okreplay-yaml"
    nodes = interactions.value if isinstance(interactions, yaml.SequenceNode) else []
    first = nodes[0] if nodes else None
    for k, v in first.value if isinstance(first, yaml.MappingNode) else []:
        if getattr(k, "value", None) == "request" and isinstance(v, yaml.MappingNode):
            names = {getattr(n, "value", None) for n, _ in v.value}
            if "url" in names and "uri" not in names:
                return "go-vcr-yaml"
    return "vcr-yaml"


def _yaml_guess(text: str) -> tuple[str, str]:
    """The format and list key of a YAML cassette that does not parse, from its text."""
    head = text[:_SNIFF]
    if re.search(r"^http_interactions\s*:", head, re.M):
        return "ruby-vcr-yaml", "http_interactions"
    if head.lstrip().startswith("!tape"):
        return "okreplay-yaml", "interactions"
    if re.search(r"^\s+url\s*:", head, re.M) and not re.search(r"^\s+uri\s*:", head, re.M):
        return "go-vcr-yaml", "interactions"
    return "vcr-yaml", "interactions"


def _compose(loader_class: Any, text: str) -> Any:
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_items(
    nodes: list[Any],
    loader_class: Any,
    file: str,
    text: str,
    offset: int,
    first: int,
    key: str = "interactions",
) -> Iterator[Item]:
    """Construct each interaction node on its own, so that one bad node loses only itself.

    ``text`` is what the nodes were composed from; its first line is line ``offset + 1``.
    """
    import yaml

    loader = loader_class("")
    at, line = 0, offset + 1  # a character index of text and its line: the count moves forward
    try:
        for i, node in enumerate(nodes, first):
            index = node.start_mark.index
            if index < at:
                at, line = 0, offset + 1
            at, line = index, line + text.count("\n", at, index)
            loc = Location(file, line, f"{key}[{i}]")
            try:
                interaction = loader.construct_object(node, deep=True)
            except (yaml.YAMLError, RecursionError) as exc:
                yield InputProblem(loc, "input.malformed_yaml", _yaml_message(exc))
                continue
            yield from _vcr_interaction(interaction, loc)
    finally:
        loader.dispose()


def _yaml_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"YAML: {text[:300]}"


def _yaml_salvage(
    text: str, file: str, exc: Any, loader_class: Any, key: str = "interactions"
) -> Iterator[Item]:
    """A cassette that does not parse: parse each interaction's lines on their own."""
    import yaml

    lines = _lines(text)
    reported = False
    for index, (begin, end) in enumerate(_yaml_chunks(lines, key)):
        loc = Location(file, begin + 1, f"{key}[{index}]")
        chunk = "".join(lines[begin:end])
        try:
            node = _compose(loader_class, chunk)
        except (yaml.YAMLError, RecursionError) as err:
            reported = True
            line = begin + _yaml_line(err, chunk)
            yield InputProblem(
                Location(file, line, loc.where), "input.malformed_yaml", _yaml_message(err)
            )
            continue
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 1:
            reported = True
            yield InputProblem(loc, "input.malformed_yaml", "this interaction is not one list item")
            continue
        yield from _yaml_items(node.value, loader_class, file, chunk, begin, index, key)
    if not reported:
        at = _yaml_line(exc, text)
        cut = at >= len(lines) and not text.endswith("\n")
        code = "input.truncated" if cut else "input.malformed_yaml"
        yield InputProblem(Location(file, at), code, _yaml_message(exc))


def _lines(text: str) -> list[str]:
    """The lines of ``text`` with their ends, split at LF only: the lines a file's numbers count
    (`str.splitlines` also splits at VT, FF, NEL, U+2028 and more, YAML at CR, NEL, U+2028)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _yaml_line(exc: BaseException, text: str) -> int:
    """The 1-based line a YAML error points at, within ``text``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None and isinstance(getattr(mark, "index", None), int):
        line = text.count("\n", 0, mark.index) + 1  # (the mark's own line counts YAML's breaks)
    elif mark is not None:
        line = int(mark.line) + 1
    elif isinstance(getattr(exc, "position", None), int):  # a reader error: a bad character
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1
    else:
        line = 1
    return max(1, min(line, text.count("\n") + (0 if text.endswith("\n") else 1)))


_YAML_ITEM = re.compile(r"( *)- ")


def _yaml_chunks(lines: list[str], key: str = "interactions") -> list[tuple[int, int]]:
    """Line ranges ``[begin, end)`` of the items of the top-level ``interactions:`` list."""
    begin = next((i for i, s in enumerate(lines) if s.startswith(f"{key}:")), None)
    if begin is None:
        return []
    chunks: list[tuple[int, int]] = []
    indent: str | None = None
    current = -1
    end = len(lines)
    for i in range(begin + 1, len(lines)):
        line = lines[i]
        body = line.lstrip(" ")
        if not body.strip() or body.startswith("#"):
            continue
        lead = line[: len(line) - len(body)]
        if indent is None:
            m = _YAML_ITEM.match(line)
            if m is None:
                return []
            indent = m.group(1)
        if lead == indent and body.startswith("- "):
            if current >= 0:
                chunks.append((current, i))
            current = i
        elif len(lead) <= len(indent):
            end = i  # the next top-level key
            break
    if current >= 0:
        chunks.append((current, end))
    return chunks


# --------------------------------------------------------------------------------------------
# Printed SDK objects in logs: Run(...), RunStep(...), Message(...), ThreadMessage(...)

_MAX_PRINTED_LINES = 400  # a printed object may wrap over this many lines at most
_INTERESTING = re.compile(r"[()\[\]{}'\"]")
_STRING_END = {"'": re.compile(r"\\.|'", re.S), '"': re.compile(r'\\.|"', re.S)}
_SCAN = re.compile(_PRINTED.pattern + r"|[()\[\]{}'\"]")  # a nested object start, or as above


def _opening(head: bytes) -> str:
    """A file's first non-blank line, shortened, as a message shows it."""
    line = head.lstrip().split(b"\n", 1)[0].rstrip(b"\r")
    text = line[:60].decode("utf-8", "replace")
    return repr(text + ("..." if len(line) > 60 else ""))


class _Call:
    """A printed object being read: where it starts, the lines it spans so far, and the scan's
    state (bracket depth, open string quote), so that each new line is scanned once."""

    __slots__ = ("depth", "kind", "line", "lines", "quote", "start")

    def __init__(self, kind: str, line: int, text: str, start: int) -> None:
        self.kind, self.line, self.start = kind, line, start
        self.lines = [(line, text)]
        self.depth = 0
        self.quote = ""


def _advance(call: _Call, text: str, pos: int, size: int) -> tuple[str, int]:
    """Scan ``text[pos:size]`` on for ``call``: ``("closed", end)`` just past its ``)``,
    ``("cut", i)`` when another printed object starts at ``i`` outside any string (no printed
    object holds another: this one was cut short), or ``("open", size)``."""
    depth, quote = call.depth, call.quote
    while True:
        if quote:
            finder = _STRING_END[quote].search
            while (m := finder(text, pos, size)) is not None and m.group() != quote:
                pos = m.end()
            if m is None:
                call.depth, call.quote = depth, quote
                return "open", size
            pos, quote = m.end(), ""
            continue
        m = _SCAN.search(text, pos, size)
        if m is None:
            call.depth, call.quote = depth, quote
            return "open", size
        c = m.group()
        if len(c) > 1:  # a printed object starts: this one's own, or a sign that it was cut
            if depth:
                return "cut", m.start()
            depth = 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return "closed", m.end()
        else:
            quote = c
        pos = m.end()


def _read_printed(f: IO[bytes], file: str, first: bytes = b"") -> Iterator[Item]:
    """Logs: find each printed object's start, read to its closing parenthesis, parse with ast.

    Linear in the file, damaged or not. An object's lines are scanned once, carrying the scan's
    state from line to line. No printed object holds another, so an object still open where
    another starts (outside its strings on its own line; anywhere on a later line) was cut
    short, as is one open after 400 lines or at the end. A cut object's first line is searched
    again from just after its start, and its later lines (which hold no object start) are
    re-read for an object starting there, each at most `_RESCANS` times.
    """
    announced = False
    lineno = 0
    lines = iter(f)
    queue: deque[tuple[int, str, int]] = deque()  # lines to (re)read first: number, text, from
    call: _Call | None = None
    scans: dict[int, int] = {}  # a later line's number -> times scanned for an open object
    while True:
        if queue:
            line, text, pos = queue.popleft()
        else:
            raw = next(lines, None)
            if raw is None:
                if call is None:
                    break
                line, text, pos = lineno, "", 0  # the end: the open object is cut short
            else:
                lineno += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield InputProblem(
                        Location(file, lineno), "input.bad_encoding", "not valid UTF-8"
                    )
                    text = raw.decode("utf-8", "replace")
                line, pos = lineno, 0
                if call is None and scans:
                    scans.clear()
        end = len(text)
        if call is not None and text:
            call.lines.append((line, text))
            scans[line] = times = scans.get(line, 0) + 1
            m = _PRINTED.search(text)
            end = len(text) if m is None else m.start()
            if times > _RESCANS:
                end = 0
        while True:
            if call is None:
                m = _PRINTED.search(text, pos)
                if m is None:
                    break
                call = _Call(m.group(1), line, text, m.start())
                pos = m.start()
                if not announced:
                    announced = True
                    yield TraceInfo(Location(file, line), "objects-printed", 1)
            state, at = _advance(call, text, pos, end)
            if state == "open" and end == len(text) > 0 and line - call.line < _MAX_PRINTED_LINES:
                break  # read on: the object continues on the next line
            end = len(text)
            if state == "closed":
                yield from _printed_object(call, text, at, file)
                call, pos = None, at
                continue
            yield InputProblem(
                Location(file, call.line),
                "input.truncated",
                f"{call.kind}( is never closed: the printed object is cut short",
            )
            again = [(n, t, 0) for n, t in call.lines]
            again[0] = (call.line, call.lines[0][1], call.start + len(call.kind) + 1)
            queue.extendleft(reversed(again))
            call = None
            break
    if not announced:
        yield InputProblem(
            Location(file),
            "input.unknown_format",
            f"no supported format fits (tried {_TRIED}); the file begins {_opening(first)}",
        )


_RESCANS = 2  # a line may be scanned for this many objects begun on earlier lines


def _printed_object(call: _Call, text: str, end: int, file: str) -> Iterator[Item]:
    """The items of a printed object closed at ``end`` of ``text`` (its last line)."""
    spans = call.lines
    if len(spans) == 1:
        source = text[call.start : end]
    else:
        middle = "".join(t for _, t in spans[1:-1])
        source = spans[0][1][call.start :] + middle + text[:end]
    if "\n" in source:  # where the line breaks are: inside strings, or between arguments
        source = _join_wrapped(source, _printed_end(source, 0)[1])
    obj = _parse_printed(source)
    loc = Location(file, call.line)
    if isinstance(obj, str):
        yield InputProblem(loc, "input.malformed_repr", obj)
    else:
        obj.setdefault("object", _PRINTED_KIND[call.kind])
        yield from _objects(obj, loc)


def _printed_end(text: str, start: int) -> tuple[int | None, list[int]]:
    """Index just past the ``)`` closing the call at ``start``, and the newlines inside strings."""
    depth = 0
    newlines: list[int] = []
    pos = start
    find = _INTERESTING.search
    while True:
        m = find(text, pos)
        if m is None:
            return None, newlines
        c = m.group()
        pos = m.end()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return pos, newlines
        elif c in "'\"":
            finder = _STRING_END[c].search
            while True:
                s = finder(text, pos)
                if s is None:
                    return None, newlines
                if s.group() == c:
                    break
                pos = s.end()
            inner_newlines = [i for i in range(pos, s.start()) if text[i] == "\n"]
            newlines.extend(inner_newlines)
            pos = s.end()


def _join_wrapped(source: str, newlines: list[int]) -> str:
    """Line breaks inside string literals (a log wrapping long lines) become ``\\n`` escapes,
    those between arguments spaces."""
    if "\n" not in source:
        return source
    inside = set(newlines)
    return "".join(
        ("\\n" if i in inside else " ") if ch == "\n" else ch for i, ch in enumerate(source)
    )


def _parse_printed(source: str) -> dict[str, Any] | str:
    """A printed object as a dict, via `ast` (nothing is evaluated); a message when it fails."""
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"cannot parse the printed object: {type(exc).__name__}: {getattr(exc, 'msg', exc)}"
    try:
        value = _literal(tree.body)
    except (ValueError, RecursionError) as exc:
        return f"cannot read the printed object: {exc}"
    if not isinstance(value, dict):
        return "the printed object is not a call with keyword arguments"
    return value


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, complex) or value is Ellipsis:
            return repr(value)
        return value
    if isinstance(node, ast.Call):
        if node.args or any(kw.arg is None for kw in node.keywords):
            raise ValueError(f"a call with positional arguments at column {node.col_offset + 1}")
        return {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg is not None}
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {
            str(_literal(k)) if k is not None else "**": _literal(v)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_literal(node.value)}.{node.attr}"
    raise ValueError(f"unexpected {type(node).__name__} at column {node.col_offset + 1}")
