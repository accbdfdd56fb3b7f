"""Field rules per status, and the links between a run and its steps and messages.

Each rule is named (a stable code the checker reports), graded and sourced like an edge. Rules
are small objects with one of two methods: `snapshot` judges one observed object on its own,
`change` judges an object against the previous observation of the same object. Both return None
when the rule holds, or a short sentence saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._core import Evidence
from ._lifecycles import MESSAGE, RUN, STEP

__all__ = ["LINKS", "MARKS", "RULES", "VALUES", "FieldRule", "FieldValues", "Link"]

_Obj = Mapping[str, Any]


_ev = Evidence.of
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
class _Present(FieldRule):
    """The field is non-null in these statuses."""

    null: ClassVar[bool | None] = False

    def snapshot(self, obj: _Obj) -> str | None:
        f = self.fields[0]
        if obj.get(f) is None:
            return f"{f} is null in status {obj.get('status')!r}; it must be set"
        return None


@dataclass(frozen=True, slots=True)
class _Absent(FieldRule):
    """The field is null in these statuses."""

    null: ClassVar[bool | None] = True

    def snapshot(self, obj: _Obj) -> str | None:
        f = self.fields[0]
        if obj.get(f) is not None:
            return f"{f} is set in status {obj.get('status')!r}; it must be null"
        return None


@dataclass(frozen=True, slots=True)
class _Ordered(FieldRule):
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
class _Offset(FieldRule):
    """fields[0] == fields[1] + offset wherever fields[0] is set."""

    offset: int = 0

    def snapshot(self, obj: _Obj) -> str | None:
        f, base = self.fields
        v, b = obj.get(f), obj.get(base)
        if isinstance(v, (int, float)) and isinstance(b, (int, float)) and v - b != self.offset:
            return f"{f} is {base} + {v - b}, not {base} + {self.offset}"
        return None


@dataclass(frozen=True, slots=True)
class _Immutable(FieldRule):
    """The field never changes once observed."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        if f in prev and f in obj and prev[f] != obj[f]:
            return f"{f} changed from {prev[f]!r} to {obj[f]!r}"
        return None


@dataclass(frozen=True, slots=True)
class _Kept(FieldRule):
    """Once set, the field stays set (its value may move forward; see _NonDecreasing)."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        if prev.get(f) is not None and f in obj and obj[f] is None:
            return f"{f} was {prev[f]!r} and became null"
        return None


@dataclass(frozen=True, slots=True)
class _NotReset(FieldRule):
    """While set, the field keeps one value (it may become null)."""

    stateful: bool = field(default=True, init=False)

    def change(self, prev: _Obj, obj: _Obj) -> str | None:
        f = self.fields[0]
        a, b = prev.get(f), obj.get(f)
        if a is not None and b is not None and a != b:
            return f"{f} changed from {a!r} to {b!r}"
        return None


@dataclass(frozen=True, slots=True)
class _NonDecreasing(FieldRule):
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


_ROUNDS = (
    "rec:openai-dotnet/FunctionToolsWork",
    "rec:openai-dotnet/StreamingToolCall",
    "rec:openllmetry/test_agent_with_query_tool",
)
"""The recordings of real traffic with a tool round (requires_action, a submit, the resume)."""

_RUN_TIMES = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at")
_IDS = ("id", "object", "created_at", "thread_id", "assistant_id")


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


_RUN_RULES: list[FieldRule] = [
    _Present(
        "run.required_action.set",
        "run",
        "required_action is set in requires_action",
        _ev("D", "spec", "sdk"),
        ("required_action",),
        _s("requires_action"),
    ),
    _Absent(
        "run.required_action.null",
        "run",
        "required_action is null outside requires_action",
        _ev("D", "spec", "sdk", note='"Will be null if no action is required"'),
        ("required_action",),
        frozenset(RUN.statuses) - {"requires_action"},
    ),
    _Present(
        "run.last_error.set",
        "run",
        "last_error is set in failed",
        _ev("D", "spec", "sdk"),
        ("last_error",),
        _s("failed"),
    ),
    _Absent(
        "run.last_error.null",
        "run",
        "last_error is null outside failed",
        _ev("D", "spec", "sdk", note='"Will be null if there are no errors"'),
        ("last_error",),
        frozenset(RUN.statuses) - {"failed"},
    ),
    _Present(
        "run.failed_at.set",
        "run",
        "failed_at is set in failed",
        _ev("D", "spec", "sdk"),
        ("failed_at",),
        _s("failed"),
    ),
    _Present(
        "run.completed_at.set",
        "run",
        "completed_at is set in completed",
        _ev("D", "spec", "sdk"),
        ("completed_at",),
        _s("completed"),
    ),
    _Present(
        "run.completed_at.incomplete",
        "run",
        "completed_at is set in incomplete",
        _ev("O", "openai-python#1407"),
        ("completed_at",),
        _s("incomplete"),
    ),
    _Present(
        "run.cancelled_at.set",
        "run",
        "cancelled_at is set in cancelled",
        _ev("I", "spec", note="no sample of a cancelled run seen"),
        ("cancelled_at",),
        _s("cancelled"),
    ),
    _Present(
        "run.incomplete_details.set",
        "run",
        "incomplete_details is set in incomplete",
        _ev("D", "spec", "sdk"),
        ("incomplete_details",),
        _s("incomplete"),
    ),
    _Absent(
        "run.incomplete_details.null",
        "run",
        "incomplete_details is null outside incomplete",
        _ev("D", "sdk", note='"Will be null if the run is not incomplete"'),
        ("incomplete_details",),
        frozenset(RUN.statuses) - {"incomplete"},
    ),
    _Present(
        "run.started_at.set",
        "run",
        "started_at is set once the run has been in progress",
        _ev("D", "spec", note="set from in_progress on"),
        ("started_at",),
        _s("in_progress", "requires_action", "completed", "incomplete"),
    ),
    _Kept(
        "run.started_at.kept",
        "run",
        "started_at, once set, stays set (also back in queued after a submit)",
        _ev(
            "D/O",
            "spec",
            *_ROUNDS,
            note="set in queued after every recorded submit (3 of 3 rounds)",
        ),
        ("started_at",),
    ),
    _Present(
        "run.expires_at.set",
        "run",
        "expires_at is set while the run can still expire",
        _ev("D/O", "spec", "lesson"),
        ("expires_at",),
        _s("queued", "in_progress", "requires_action"),
    ),
    _Absent(
        "run.expires_at.null",
        "run",
        "expires_at is null in completed, failed and incomplete",
        _ev("O", "openai-openapi#150", "openai-python#1407", "lesson"),
        ("expires_at",),
        _s("completed", "failed", "incomplete"),
    ),
    _NotReset(
        "run.expires_at.not_reset",
        "run",
        "expires_at is not reset by submit_tool_outputs",
        _ev("D", "spec"),
        ("expires_at",),
    ),
    _Offset(
        "run.expires_at.ten_minutes",
        "run",
        "expires_at is created_at + 600",
        _ev(
            "O",
            "spec",
            "lesson",
            note='"roughly 10 minutes" in docs:runs; exactly 600 s in every sample',
        ),
        ("expires_at", "created_at"),
        frozenset(RUN.statuses),
        offset=600,
    ),
    _Absent(
        "run.usage.null_while_running",
        "run",
        "usage is null while queued or in progress",
        _ev("D", "sdk", note='docstring: "null if the run is not in a terminal state"'),
        ("usage",),
        _s("queued", "in_progress"),
    ),
    _Absent(
        "run.usage.null_in_requires_action",
        "run",
        "usage is null in requires_action",
        _ev(
            "O/X",
            *_ROUNDS,
            "sdk",
            "spec",
            note="null in every recorded requires_action snapshot, polled and streamed; the "
            "docstring says null until terminal; a spec example shows usage here",
        ),
        ("usage",),
        _s("requires_action"),
    ),
    _Ordered(
        "run.timestamps.ordered",
        "run",
        "created_at ≤ started_at ≤ the terminal timestamp",
        _ev("O", "spec", "lesson"),
        ("created_at", "started_at", "completed_at"),
        frozenset(RUN.statuses),
    ),
    _Ordered(
        "run.timestamps.ordered_failed",
        "run",
        "created_at ≤ started_at ≤ failed_at",
        _ev("O", "spec"),
        ("created_at", "started_at", "failed_at"),
        frozenset(RUN.statuses),
    ),
    _Ordered(
        "run.timestamps.ordered_cancelled",
        "run",
        "created_at ≤ started_at ≤ cancelled_at",
        _ev("I", "spec"),
        ("created_at", "started_at", "cancelled_at"),
        frozenset(RUN.statuses),
    ),
    _NonDecreasing(
        "run.timestamps.monotonic",
        "run",
        "timestamps never move backwards",
        _ev(
            "O",
            "spec",
            "lesson",
            *_ROUNDS,
            note="started_at moves forward on resume after a submit (3 of 3 recorded rounds)",
        ),
        (*_RUN_TIMES, "expires_at"),
    ),
    *(
        _Immutable(
            f"run.{f}.immutable", "run", f"{f} never changes", _ev("O", "spec", "lesson"), (f,)
        )
        for f in _IDS
    ),
]

_STEP_RULES: list[FieldRule] = [
    *(
        _Present(
            f"run_step.{f}.set",
            "run_step",
            f"{f} is set in {st}",
            _ev("D", "sdk", "spec"),
            (f,),
            _s(st),
        )
        for f, st in (
            ("completed_at", "completed"),
            ("cancelled_at", "cancelled"),
            ("failed_at", "failed"),
            ("expired_at", "expired"),
            ("last_error", "failed"),
        )
    ),
    _Absent(
        "run_step.usage.null_while_running",
        "run_step",
        "usage is null while in progress",
        _ev("D", "sdk"),
        ("usage",),
        _s("in_progress"),
    ),
    _NonDecreasing(
        "run_step.timestamps.monotonic",
        "run_step",
        "timestamps never move backwards",
        _ev("O", "spec"),
        ("created_at", "completed_at", "cancelled_at", "failed_at", "expired_at"),
    ),
    *(
        _Immutable(
            f"run_step.{f}.immutable", "run_step", f"{f} never changes", _ev("O", "spec"), (f,)
        )
        for f in ("id", "object", "created_at", "run_id", "thread_id", "type")
    ),
]

_MESSAGE_RULES: list[FieldRule] = [
    _Present(
        "message.completed_at.set",
        "message",
        "completed_at is set in completed",
        _ev("D", "sdk", "spec"),
        ("completed_at",),
        _s("completed"),
    ),
    _Present(
        "message.incomplete_at.set",
        "message",
        "incomplete_at is set in incomplete",
        _ev("D", "sdk", "spec"),
        ("incomplete_at",),
        _s("incomplete"),
    ),
    _Present(
        "message.incomplete_details.set",
        "message",
        "incomplete_details is set in incomplete",
        _ev("D", "sdk", "spec"),
        ("incomplete_details",),
        _s("incomplete"),
    ),
    *(
        _Immutable(
            f"message.{f}.immutable", "message", f"{f} never changes", _ev("O", "spec"), (f,)
        )
        for f in ("id", "object", "created_at", "thread_id", "role")
    ),
]

RULES: dict[str, tuple[FieldRule, ...]] = {
    RUN.name: tuple(_RUN_RULES),
    STEP.name: tuple(_STEP_RULES),
    MESSAGE.name: tuple(_MESSAGE_RULES),
}


def _marks(rules: tuple[FieldRule, ...], statuses: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    kept = {r.fields[0] for r in rules if isinstance(r, _Kept) and r.evidence.trusted}
    return {
        s: tuple(
            r.fields[0]
            for r in rules
            if r.null is False and r.evidence.trusted and s in r.statuses and r.fields[0] in kept
        )
        for s in statuses
    }


MARKS: dict[str, dict[str, tuple[str, ...]]] = {
    lc.name: _marks(RULES[lc.name], lc.statuses) for lc in (RUN, STEP, MESSAGE)
}
"""Per lifecycle and status: the fields a visit to that status leaves set for good (a trusted
rule sets them there, and a trusted rule keeps them set). An observation with such a field
null was never in that status: e.g. a run whose ``started_at`` is null never was in_progress."""


@dataclass(frozen=True, slots=True)
class Link:
    """How a step or message must stand while its run is in certain statuses.

    While the run is in one of `run_statuses`, a child of `lifecycle` (restricted to `step_type`
    where given) that is in `from_statuses` is a violation; `expected` is what it should be.
    """

    code: str
    lifecycle: str
    summary: str
    evidence: Evidence
    run_statuses: frozenset[str]
    from_statuses: frozenset[str]
    expected: frozenset[str]
    step_type: str | None = None


LINKS: tuple[Link, ...] = (
    Link(
        "run_step.open_while_requires_action",
        STEP.name,
        "the tool_calls step stays in_progress while its run requires action",
        _ev("D", "docs:function-calling", "spec", note="outputs null until submitted"),
        _s("requires_action"),
        STEP.terminal,
        _s("in_progress"),
        step_type="tool_calls",
    ),
    Link(
        "run_step.expires_with_run",
        STEP.name,
        "a step still open when its run expired is expired",
        _ev("D", "docs:runs", "sdk"),
        _s("expired"),
        _s("in_progress"),
        _s("expired"),
    ),
    Link(
        "run_step.settles_with_run",
        STEP.name,
        "no step is still in_progress after its run ended",
        _ev(
            "I", "sdk", note='step statuses have "the same meaning as run statuses"; no sample seen'
        ),
        RUN.terminal - {"expired"},
        _s("in_progress"),
        STEP.terminal,
    ),
    Link(
        "message.settles_with_run",
        MESSAGE.name,
        "no message is still in_progress after its run ended (reason run_cancelled/expired/failed)",
        _ev("I", "spec", note="the incomplete reasons name these run statuses; no sample seen"),
        RUN.terminal,
        _s("in_progress"),
        MESSAGE.terminal,
    ),
)


@dataclass(frozen=True, slots=True)
class FieldValues:
    """The values an enumerated field may take (failure codes, incomplete reasons), graded."""

    code: str  # "<lifecycle>.<field path>", e.g. "run.last_error.code"
    values: tuple[str, ...]
    evidence: Evidence


VALUES: dict[str, FieldValues] = {
    v.code: v
    for v in (
        FieldValues(
            "run.last_error.code",
            ("server_error", "rate_limit_exceeded", "invalid_prompt"),
            _ev("D", "spec", "sdk"),
        ),
        FieldValues(
            "run.incomplete_details.reason",
            ("max_completion_tokens", "max_prompt_tokens"),
            _ev("D", "spec", "sdk", "openai-python#1407"),
        ),
        FieldValues("run.required_action.type", ("submit_tool_outputs",), _ev("D", "spec", "sdk")),
        FieldValues(
            "run_step.last_error.code",
            ("server_error", "rate_limit_exceeded"),
            _ev("D", "spec", "sdk"),
        ),
        FieldValues("run_step.type", ("message_creation", "tool_calls"), _ev("D", "spec", "sdk")),
        FieldValues(
            "message.incomplete_details.reason",
            ("content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"),
            _ev("D", "spec", "sdk"),
        ),
    )
}
