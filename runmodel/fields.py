"""The kinds of field rule, and the other per-lifecycle facts a lifecycle module declares.

A field rule is named (a stable code the checker reports), graded and sourced like an edge. Rules
are small objects with one of two methods: `snapshot` judges one observed object on its own,
`change` judges an object against the previous observation of the same object. Both return None
when the rule holds, or a short sentence saying what was wrong. A lifecycle module builds its
rules from these kinds and hands them to `runmodel.register`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._core import Evidence

__all__ = [
    "Absent",
    "Fact",
    "FieldRule",
    "FieldValues",
    "Immutable",
    "Kept",
    "Link",
    "NonDecreasing",
    "NotReset",
    "Offset",
    "Ordered",
    "Present",
    "StatusFields",
]

_Obj = Mapping[str, Any]
_NUMBER = (int, float)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A named, graded rule about the fields of one kind of object."""

    code: str
    lifecycle: str
    summary: str
    evidence: Evidence
    fields: tuple[str, ...]
    statuses: frozenset[str] = frozenset()
    stateful: bool = field(default=False, init=False)
    null: ClassVar[bool | None] = None
    """What the rule demands of its one field in `statuses`: null (True) or non-null (False);
    None for any other rule. A checker may test all such rules of a status at once, and run
    them one by one only when that test fails."""

    def snapshot(self, obj: _Obj) -> str | None:
        return None

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Present(FieldRule):
    """The field is non-null in these statuses."""

    null: ClassVar[bool | None] = False

    def snapshot(self, obj: _Obj) -> str | None:
        f = self.fields[0]
        if obj.get(f) is None:
            return f"{f} is null in status {obj.get('status')!r}; it must be set"
        return None


@dataclass(frozen=True, slots=True)
class Absent(FieldRule):
    """The field is null in these statuses."""

    null: ClassVar[bool | None] = True

    def snapshot(self, obj: _Obj) -> str | None:
        f = self.fields[0]
        if obj.get(f) is not None:
            return f"{f} is set in status {obj.get('status')!r}; it must be null"
        return None


@dataclass(frozen=True, slots=True)
class Ordered(FieldRule):
    """Timestamps in this order wherever both are set."""

    def snapshot(self, obj: _Obj) -> str | None:
        # each set timestamp against the previous set one (the checker's hottest rule: a loop)
        fa: str | None = None
        a: Any = None
        for fb in self.fields:
            b = obj.get(fb)
            if b is not None and isinstance(b, _NUMBER):
                if fa is not None and a > b:
                    return f"{fa} ({a}) is later than {fb} ({b})"
                fa, a = fb, b
        return None


@dataclass(frozen=True, slots=True)
class Offset(FieldRule):
    """fields[0] == fields[1] + offset wherever fields[0] is set."""

    offset: int = 0

    def snapshot(self, obj: _Obj) -> str | None:
        f, base = self.fields
        v, b = obj.get(f), obj.get(base)
        if isinstance(v, (int, float)) and isinstance(b, (int, float)) and v - b != self.offset:
            return f"{f} is {base} + {v - b}, not {base} + {self.offset}"
        return None


@dataclass(frozen=True, slots=True)
class Immutable(FieldRule):
    """The field never changes once observed."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        if f in prev and f in obj and prev[f] != obj[f]:
            return f"{f} changed from {prev[f]!r} to {obj[f]!r}"
        return None


@dataclass(frozen=True, slots=True)
class Kept(FieldRule):
    """Once set, the field stays set (its value may move forward; see NonDecreasing)."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        if prev.get(f) is not None and f in obj and obj[f] is None:
            return f"{f} was {prev[f]!r} and became null"
        return None


@dataclass(frozen=True, slots=True)
class NotReset(FieldRule):
    """While set, the field keeps one value (it may become null)."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        a, b = prev.get(f), obj.get(f)
        if a is not None and b is not None and a != b:
            return f"{f} changed from {a!r} to {b!r}"
        return None


@dataclass(frozen=True, slots=True)
class NonDecreasing(FieldRule):
    """No timestamp moves backwards between two observations."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        pg, og = prev.get, obj.get
        for f in self.fields:
            a = pg(f)
            if a is None:  # (not a number: the common case, decided without isinstance)
                continue
            b = og(f)
            if isinstance(a, _NUMBER) and isinstance(b, _NUMBER) and b < a:
                return f"{f} went back from {a} to {b}"
        return None


@dataclass(frozen=True, slots=True)
class Link:
    """How a child object (a step, a message) must stand while its parent (the run) is in
    certain statuses.

    While the parent, of lifecycle `parent`, is in one of `run_statuses`, a child of `lifecycle`
    (restricted to `step_type` where given) that is in `from_statuses` is a violation; `expected`
    is what it should be.
    """

    code: str
    lifecycle: str
    summary: str
    evidence: Evidence
    run_statuses: frozenset[str]
    from_statuses: frozenset[str]
    expected: frozenset[str]
    step_type: str | None = None
    parent: str = "run"


@dataclass(frozen=True, slots=True)
class FieldValues:
    """The values an enumerated field may take (failure codes, incomplete reasons), graded."""

    code: str  # "<lifecycle>.<field path>", e.g. "run.last_error.code"
    values: tuple[str, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Fact:
    """A graded fact of a lifecycle's protocol that no field rule holds: the order and numbering
    of its stream events, what a client's call answers, how a tool round chains. A checker
    reports a breach under the fact's code, with the fact's grade deciding its severity."""

    code: str  # "<lifecycle>.<topic>.<what>", e.g. "response.stream.increasing"
    lifecycle: str
    summary: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class StatusFields:
    """What the model's single-field rules demand of an object in one status: the fields that
    must be null and those that must be set (rules of every grade)."""

    null: tuple[str, ...]
    set: tuple[str, ...]
