"""Decoding only the fields the checker reads: bare run, run step, message and response
objects, fast.

A run object of an SDK dump is ~1.2 kB, most of it (instructions, tools, metadata) never read by
the checker. `Shape` decodes the fields a set of names gives into a dict with `msgspec`, which
skips the others without building them (the decoding costs about half of `orjson.loads` of the
whole line; the smaller objects are also cheaper for the checker to keep, compare and free), and
says None for whatever it cannot hold exactly as the full parse (`parse`) would: a line that is
not such an object, or that the full parse would read differently or reject. The caller then
parses the line whole. `CHECKED` is the checker's shape, derived in this one place from the
model's rules (`runmodel.RULES`, `runmodel.MARKS`) and the few fields the engine itself reads.

A decoded object keeps, under `WHOLE`, the line it came from: two decoded objects are equal when
their whole objects are (the same line, or lines that parse to equal objects), so that the
checker's test for a repeated poll means what it meant with whole objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypedDict

import msgspec
import orjson

from runmodel import API_OBJECTS, MARKS, RULES

__all__ = ["CHECKED", "ENGINE_FIELDS", "KINDS", "WHOLE", "Shape", "Whole", "parse"]

KINDS = {kind: lc.name for kind, lc in API_OBJECTS.items()}
"""The ``object`` types a shape decodes, and the model lifecycle of each (others are parsed
whole)."""

ENGINE_FIELDS = {
    "run": ("thread_id", "required_action", "expires_at"),  # thread, tool call ids, expiry
    "run_step": ("run_id", "type", "step_details"),  # run, step type, tool call ids
    "message": ("run_id",),
    "response": (),  # (its part reads requests and replies, never a bare object)
}
"""The fields the checking engine reads of an object besides its field rules' (and its ``id``,
``object`` and ``status``), by lifecycle."""

WHOLE = "\x00whole"
"""The key of a decoded object under which its `Whole` is kept (never a field of the API's)."""


class Whole:
    """The whole object a decoded one came from, compared as the whole objects would be.

    Holds the line (bytes) and parses it only to compare with a different line: equal lines give
    equal objects, and lines that differ are equal when their objects are (key order, spacing).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: bytes | dict[str, Any]) -> None:
        self.raw = raw

    def value(self) -> Any:
        """The whole object, parsed."""
        raw = self.raw
        return parse(raw) if type(raw) is bytes else raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Whole):
            return NotImplemented
        if self.raw == other.raw:
            return True
        return bool(self.value() == other.value())

    __hash__ = None  # type: ignore[assignment]  # (compared like the dict it stands for)

    def __repr__(self) -> str:
        return "Whole(...)"


_PARSE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
_any = msgspec.json.Decoder().decode


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # (beyond Python's digit limit for int(): a double's, infinite)
        return float(text)


def parse(raw: bytes) -> Any:
    """The whole line, parsed: the full parse the decoded shape agrees with.

    msgspec, which reads integers exactly (as the shape does); a number beyond its range (a
    shape skips it, unread, in a field it does not decode) is read by Python's own parser,
    exactly or as infinity; anything else it rejects is `orjson`'s to accept or reject, with
    orjson's message (a ``json.JSONDecodeError``).
    """
    try:
        return _any(raw)
    except _PARSE_ERRORS as exc:
        if "out of range" in str(exc):
            return json.loads(raw, parse_int=_int, parse_constant=_no_constant)
    return orjson.loads(raw)


class Shape:
    """A decoder of bare snapshot objects (run, run step, message, response) to the named fields
    only.

    `decode(line)` gives a dict of the fields present in the line (and `WHOLE`), or None when the
    line must be parsed whole: not a JSON object, not a snapshot kind, an ``id`` that is not a
    string, a ``status`` that is neither absent nor a string, invalid JSON or UTF-8, or a number
    beyond msgspec's range in a field it reads (`parse` reads such a number as Python's parser
    does).
    """

    def __init__(self, fields: Mapping[str, Iterable[str]]) -> None:
        self.fields = {
            kind: tuple(dict.fromkeys(("id", "object", "status", *names)))
            for kind, names in fields.items()
        }
        """Per ``object`` type, the fields decoded (``id``, ``object`` and ``status`` first)."""
        self.decode = _decoder(self.fields)
        """`decode(line)`: the line's object, only this shape's fields (and `WHOLE`); None when
        the line must be parsed whole instead."""

    def project(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A whole object (parsed in full) as `decode` gives it: this shape's fields, and WHOLE."""
        out = {k: obj[k] for k in self.fields.get(str(obj.get("object")), ()) if k in obj}
        out[WHOLE] = Whole(dict(obj) if type(obj) is not dict else obj)
        return out


def _typed(kind: str, names: tuple[str, ...]) -> Any:
    """The decoded form of one ``object`` type: a TypedDict of its fields, none required (so
    that msgspec makes the dict itself, absent fields left out), ``object`` only this type."""
    types: dict[str, Any] = dict.fromkeys(names, Any)
    types.update(id=str, object=Literal[kind], status=str)
    return TypedDict(f"Decoded_{KINDS.get(kind, 'object')}", types, total=False)  # type: ignore[operator]


def _decoder(fields: Mapping[str, tuple[str, ...]]) -> Callable[[bytes], dict[str, Any] | None]:
    """`Shape.decode` for these fields, a closure over its constants (the checker's hot path).

    One msgspec decoder per ``object`` type, the one that last decoded a line tried first (a
    line of another type fails on its ``object`` and the next is tried)."""
    decoders = [msgspec.json.Decoder(_typed(kind, names)).decode for kind, names in fields.items()]
    order = list(decoders)
    errors = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)
    whole = Whole

    def decoded(line: bytes) -> dict[str, Any] | None:
        for decode in order:
            try:
                obj: dict[str, Any] = decode(line)
                break
            except errors:
                continue
        else:
            return None
        if decode is not order[0]:
            order.remove(decode)
            order.insert(0, decode)
        if "object" not in obj or "id" not in obj:
            return None
        # The decoder skips the other fields unread: it does not check the UTF-8 of their
        # strings, which a full parse rejects (a number beyond range it reads alike, `parse`).
        if not line.isascii():
            try:
                line.decode()
            except UnicodeDecodeError:
                return None
        obj[WHOLE] = whole(line)
        return obj

    return decoded


def _checked_fields(lifecycle: str) -> tuple[str, ...]:
    ruled = {f for r in RULES.get(lifecycle, ()) for f in r.fields}
    marked = {f for fs in MARKS.get(lifecycle, {}).values() for f in fs}
    return (*ENGINE_FIELDS.get(lifecycle, ()), *sorted(ruled | marked))


CHECKED = Shape({kind: _checked_fields(lc) for kind, lc in KINDS.items()})
"""The checker's shape: every field a field rule, a mark or the engine reads."""
