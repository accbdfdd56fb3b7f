"""Decoding only the fields the checker reads: bare run, run step, message and response
objects, fast.

A run object of an SDK dump is ~1.2 kB, most of it (instructions, tools, metadata) never read by
the checker. `Shape` decodes the fields a set of names gives into a dict with `msgspec`, which
skips the others without building them (the decoding itself costs about a third of `orjson.loads`
of the whole line; the smaller objects are also cheaper for the checker to keep, compare and
free), and says None for whatever it cannot hold exactly as a full parse would: a line that is not
such an object, or that a full parse would read differently or reject. The caller then parses the
line whole, as it always did. `CHECKED` is the checker's shape, derived in this one place from the
model's rules (`runmodel.RULES`, `runmodel.MARKS`) and the few fields the engine itself reads.

A decoded object keeps, under `WHOLE`, the line it came from: two decoded objects are equal when
their whole objects are (the same line, or lines that parse to equal objects), so that the
checker's test for a repeated poll means what it meant with whole objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

import msgspec
import orjson

from runmodel import API_OBJECTS, MARKS, RULES

__all__ = ["CHECKED", "ENGINE_FIELDS", "KINDS", "WHOLE", "Shape", "Whole"]

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

_UNSET = msgspec.UNSET

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
        return orjson.loads(raw) if type(raw) is bytes else raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Whole):
            return NotImplemented
        if self.raw == other.raw:
            return True
        return bool(self.value() == other.value())

    __hash__ = None  # type: ignore[assignment]  # (compared like the dict it stands for)

    def __repr__(self) -> str:
        return "Whole(...)"


# A byte map for the number guard: digits become "0", what may precede a number becomes ":",
# "e", "E" and "+" become "e", everything else "a" (see `_decoder`).
_MAP = bytearray(b"a" * 256)
for _c in b"0123456789":
    _MAP[_c] = ord("0")
for _c in b":,[ \t\r\n-":
    _MAP[_c] = ord(":")
for _c in b"eE+":
    _MAP[_c] = ord("e")
_NUMBER_MAP = bytes(_MAP)
del _MAP, _c
_LONG_NUMBER = b":" + b"0" * 19  # 19 digits after a delimiter: maybe beyond a 64-bit integer
_BIG_EXPONENT = b"e000"  # an exponent of three digits: maybe beyond a double


class Shape:
    """A decoder of bare snapshot objects (run, run step, message) to the named fields only.

    `decode(line)` gives a dict of the fields present in the line (and `WHOLE`), or None when the
    line must be parsed whole: not a JSON object, not a snapshot kind, an ``id`` that is not a
    string, a ``status`` that is neither absent nor a string, invalid JSON or UTF-8, or a number a
    full parse (`orjson`) could read differently (beyond 64-bit integers or a double's range).
    """

    def __init__(self, fields: Mapping[str, Iterable[str]]) -> None:
        self.fields = {
            kind: tuple(dict.fromkeys(("id", "object", "status", *names)))
            for kind, names in fields.items()
        }
        """Per ``object`` type, the fields decoded (``id``, ``object`` and ``status`` first)."""
        structs = tuple(
            msgspec.defstruct(
                f"Decoded_{KINDS.get(kind, 'object')}",
                [("id", str, msgspec.NODEFAULT), ("status", str, _UNSET)]
                + [(name, Any, _UNSET) for name in names[3:]],
                tag_field="object",
                tag=kind,
                forbid_unknown_fields=False,
                gc=False,
            )
            for kind, names in self.fields.items()
        )
        self.decode = _decoder(structs)
        """`decode(line)`: the line's object, only this shape's fields (and `WHOLE`); None when
        the line must be parsed whole instead."""

    def project(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A whole object (parsed in full) as `decode` gives it: this shape's fields, and WHOLE."""
        out = {k: obj[k] for k in self.fields.get(str(obj.get("object")), ()) if k in obj}
        out[WHOLE] = Whole(dict(obj) if type(obj) is not dict else obj)
        return out


def _decoder(structs: tuple[type[msgspec.Struct], ...]) -> Callable[[bytes], dict[str, Any] | None]:
    """`Shape.decode` for these structs, a closure over its constants (the checker's hot path)."""
    decode = msgspec.json.Decoder(Union[structs]).decode  # noqa: UP007 (a union made at run time)
    kinds = {struct: struct.__struct_config__.tag for struct in structs}
    asdict = msgspec.structs.asdict
    errors = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)
    unset, whole, numbers = _UNSET, Whole, _NUMBER_MAP

    def decoded(line: bytes) -> dict[str, Any] | None:
        try:
            struct = decode(line)
        except errors:
            return None
        # Would a full parse accept the line and read its numbers the same? It checks the UTF-8
        # of the strings the decoder skips; it reads an integer beyond 64 bits (19 digits or
        # more) as a float; it rejects a number beyond a double's range (an exponent of three
        # digits). Erring on the side of the full parse.
        if not line.isascii():
            try:
                line.decode()
            except UnicodeDecodeError:
                return None
        mapped = line.translate(numbers)
        if _LONG_NUMBER in mapped or _BIG_EXPONENT in mapped:
            return None
        obj = asdict(struct)
        if unset in obj.values():  # (the fields absent from the line are left out)
            obj = {k: v for k, v in obj.items() if v is not unset}
        obj["object"] = kinds[type(struct)]
        obj[WHOLE] = whole(line)
        return obj

    return decoded


def _checked_fields(lifecycle: str) -> tuple[str, ...]:
    ruled = {f for r in RULES.get(lifecycle, ()) for f in r.fields}
    marked = {f for fs in MARKS.get(lifecycle, {}).values() for f in fs}
    return (*ENGINE_FIELDS.get(lifecycle, ()), *sorted(ruled | marked))


CHECKED = Shape({kind: _checked_fields(lc) for kind, lc in KINDS.items()})
"""The checker's shape: every field a field rule, a mark or the engine reads."""
