"""Printed SDK objects in logs: Run(...), RunStep(...), Message(...), ThreadMessage(...)."""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

from ..observations import InputProblem, Item, Location, TraceInfo
from ._bare import bare_objects
from ._common import TRIED

__all__ = ["read_printed"]

_PRINTED = re.compile(r"(?<![A-Za-z0-9_.])(Run|RunStep|Message|ThreadMessage)\(")
_PRINTED_KIND = {
    "Run": "thread.run",
    "RunStep": "thread.run.step",
    "Message": "thread.message",
    "ThreadMessage": "thread.message",
}
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


def read_printed(f: IO[bytes], file: str, first: bytes = b"") -> Iterator[Item]:
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
            f"no supported format fits (tried {TRIED}); the file begins {_opening(first)}",
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
        yield from bare_objects(obj, loc)


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
