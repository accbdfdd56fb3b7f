"""Bare run, run step and message objects: JSON Lines, and any one value (a page, an event)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..decode import Shape, parse
from ..observations import InputProblem, Item, Location, Snapshot, StreamEvent, TraceInfo
from ..trace import json_line_problem
from ._common import SNAPSHOT_OBJECTS, kind_of

__all__ = ["Observed", "bare_objects", "read_objects_jsonl"]

Observed = Callable[[dict[str, Any], Location, int], bool]
"""A reader's hook offered each bare object of JSON Lines before a `Snapshot` is made of it:
``observed(obj, loc, seq)`` is True when the caller took the observation in place."""


def read_objects_jsonl(
    lines: Iterable[bytes],
    file: str,
    shape: Shape | None = None,
    repeated: Callable[[dict[str, Any]], bool] | None = None,
    observed: Observed | None = None,
    select: Callable[[bytes], bool] | None = None,
) -> Iterator[Item]:
    """JSON Lines of bare objects: the hot path is one decoding and a few checks a line.

    A poller records the same object many times: a line identical, byte for byte, to the last
    snapshot line that began the same way (in practice: the same object's previous observation)
    is not parsed again, and yields that line's object itself (equal, since parsing is
    deterministic; shared, so consumers must not mutate it, and the checker compares by identity).
    With a `shape`, snapshots hold only its fields: decoded by it where it can, else parsed whole
    and projected (`Shape.project`), so that both ways give the same objects. A repeated line's
    object is first offered to `repeated`: when it says True, the caller took the observation
    and no `Snapshot` is made (a poller's unchanged polls cost a comparison of bytes). Any other
    object is first offered to `observed`, likewise (a new observation is checked in place).
    `select(line)` is asked first about every line: False skips it, counted as one snapshot
    (its line and ``seq`` numbers), for a caller that knows the line holds one it does not read.
    """
    yield TraceInfo(Location(file, 1), "objects-jsonl", 1)
    loads = parse
    decode_error = ValueError  # (`json.JSONDecodeError`, and orjson's, derive from it)
    kinds = SNAPSHOT_OBJECTS
    new = tuple.__new__  # a Location without its Python-level constructor: the same tuple
    location = Location
    decode = shape.decode if shape is not None else _whole
    # line prefix -> (line, its object), least recently seen first
    recent: OrderedDict[bytes, tuple[bytes, dict[str, Any]]] = OrderedDict()
    again = recent.move_to_end
    cap = _RECENT
    lineno = 0
    seq = 0
    for raw in lines:
        lineno += 1
        if select is not None and not select(raw):
            seq += 1
            continue
        key = raw[:_PREFIX]
        hit = recent.get(key)
        if hit is not None and hit[0] == raw:
            again(key)
            seq += 1
            if repeated is not None and repeated(hit[1]):
                continue
            loc = new(location, (file, lineno, None))
            if observed is not None and observed(hit[1], loc, seq):
                continue
            yield Snapshot(loc, seq, hit[1])
            continue
        obj: Any = decode(raw)
        if obj is None:
            try:
                obj = loads(raw)
            except decode_error as exc:
                if not raw.isspace():
                    yield json_line_problem(file, lineno, raw, exc)
                continue
            if not (
                type(obj) is dict
                and type(kind := obj.get("object")) is str  # (a list or object is not hashable)
                and kind in kinds
                and type(obj.get("id")) is str
                and type(obj.get("status", "")) is str
            ):
                for item in bare_objects(obj, Location(file, lineno)):
                    if isinstance(item, (Snapshot, StreamEvent)):
                        seq += 1
                        item.seq = seq
                        if shape is not None and isinstance(item, Snapshot):
                            item.obj = shape.project(item.obj)
                    yield item
                continue
            if shape is not None:
                obj = shape.project(obj)
        if len(raw) <= _LONG:
            recent[key] = (raw, obj)
            again(key)
            if len(recent) > cap:
                recent.popitem(last=False)
        seq += 1
        loc = new(location, (file, lineno, None))
        if observed is not None and observed(obj, loc, seq):
            continue
        yield Snapshot(loc, seq, obj)


def _whole(raw: bytes) -> dict[str, Any] | None:
    """No shape: every line is parsed whole."""
    return None


_PREFIX = 64  # bytes of a line that pick its slot (an object's id comes first in SDK dumps)
_RECENT = 512  # slots kept, the least recently seen dropped first (a few hundred open objects)
_LONG = 16384  # longer lines are always parsed: what is kept stays small (~1 kB a run object)


def bare_objects(obj: Any, loc: Location, pages: bool = True) -> Iterator[Item]:
    """One bare value: a snapshot, a list page of them, a saved stream event, or a problem.

    Items come unnumbered (``seq`` None); the caller numbers them. Pages do not nest.
    """
    if type(obj) is not dict:
        yield InputProblem(
            loc,
            "input.not_an_object",
            f"expected a run, run step or message object, got {kind_of(obj)}",
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
            yield from bare_objects(element, Location(loc.file, loc.line, where), pages=False)
    elif type(obj.get("event")) is str and "data" in obj and kind is None:
        yield StreamEvent(loc, None, None, None, None, obj["event"], obj["data"])
    else:
        what = f"an object of type {kind!r}" if kind is not None else "an object without 'object'"
        yield InputProblem(
            loc, "input.unknown_object", f"{what}, not a run, run step or message; skipped"
        )


def _snapshot_problem(obj: dict[str, Any]) -> str | None:
    if type(obj.get("id")) is not str:
        return f"'id' must be a string, not {kind_of(obj.get('id'))}"
    status = obj.get("status", "")
    if type(status) is not str and not (status is None and obj.get("object") == "thread.message"):
        # (user-created messages come back with status null: evidence §4, observed)
        return f"'status' must be a string, not {kind_of(status)}"
    return None
