"""The field rules, enumerated values and links of the Assistants lifecycles, and their
registration: importing this module adds the run, run step and message lifecycles to the model.

The kinds of rule are in `runmodel.fields`; the lifecycles' statuses and edges in `_lifecycles`.
"""

from __future__ import annotations

from ._core import Evidence
from ._lifecycles import MESSAGE, RUN, STEP
from ._registry import register
from .fields import (
    Absent,
    FieldRule,
    FieldValues,
    Immutable,
    Kept,
    Link,
    NonDecreasing,
    NotReset,
    Offset,
    Ordered,
    Present,
)

__all__ = ["EXPIRY_SECONDS"]

EXPIRY_SECONDS = 600
"""How long after ``created_at`` a run expires (``run.expires_at.ten_minutes``): "roughly 10
minutes" in the docs, exactly 600 s in every sample."""

_ev = Evidence.of

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
    Present(
        "run.required_action.set",
        "run",
        "required_action is set in requires_action",
        _ev("D", "spec", "sdk"),
        ("required_action",),
        _s("requires_action"),
    ),
    Absent(
        "run.required_action.null",
        "run",
        "required_action is null outside requires_action",
        _ev("D", "spec", "sdk", note='"Will be null if no action is required"'),
        ("required_action",),
        frozenset(RUN.statuses) - {"requires_action"},
    ),
    Present(
        "run.last_error.set",
        "run",
        "last_error is set in failed",
        _ev("D", "spec", "sdk"),
        ("last_error",),
        _s("failed"),
    ),
    Absent(
        "run.last_error.null",
        "run",
        "last_error is null outside failed",
        _ev("D", "spec", "sdk", note='"Will be null if there are no errors"'),
        ("last_error",),
        frozenset(RUN.statuses) - {"failed"},
    ),
    Present(
        "run.failed_at.set",
        "run",
        "failed_at is set in failed",
        _ev("D", "spec", "sdk"),
        ("failed_at",),
        _s("failed"),
    ),
    Present(
        "run.completed_at.set",
        "run",
        "completed_at is set in completed",
        _ev("D", "spec", "sdk"),
        ("completed_at",),
        _s("completed"),
    ),
    Present(
        "run.completed_at.incomplete",
        "run",
        "completed_at is set in incomplete",
        _ev("O", "openai-python#1407"),
        ("completed_at",),
        _s("incomplete"),
    ),
    Present(
        "run.cancelled_at.set",
        "run",
        "cancelled_at is set in cancelled",
        _ev("I", "spec", note="no sample of a cancelled run seen"),
        ("cancelled_at",),
        _s("cancelled"),
    ),
    Present(
        "run.incomplete_details.set",
        "run",
        "incomplete_details is set in incomplete",
        _ev("D", "spec", "sdk"),
        ("incomplete_details",),
        _s("incomplete"),
    ),
    Absent(
        "run.incomplete_details.null",
        "run",
        "incomplete_details is null outside incomplete",
        _ev("D", "sdk", note='"Will be null if the run is not incomplete"'),
        ("incomplete_details",),
        frozenset(RUN.statuses) - {"incomplete"},
    ),
    Present(
        "run.started_at.set",
        "run",
        "started_at is set once the run has been in progress",
        _ev("D", "spec", note="set from in_progress on"),
        ("started_at",),
        _s("in_progress", "requires_action", "completed", "incomplete"),
    ),
    Kept(
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
    Present(
        "run.expires_at.set",
        "run",
        "expires_at is set while the run can still expire",
        _ev("D/O", "spec", "lesson"),
        ("expires_at",),
        _s("queued", "in_progress", "requires_action"),
    ),
    Absent(
        "run.expires_at.null",
        "run",
        "expires_at is null in completed, failed and incomplete",
        _ev("O", "openai-openapi#150", "openai-python#1407", "lesson"),
        ("expires_at",),
        _s("completed", "failed", "incomplete"),
    ),
    NotReset(
        "run.expires_at.not_reset",
        "run",
        "expires_at is not reset by submit_tool_outputs",
        _ev("D", "spec"),
        ("expires_at",),
    ),
    Offset(
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
        offset=EXPIRY_SECONDS,
    ),
    Absent(
        "run.usage.null_while_running",
        "run",
        "usage is null while queued or in progress",
        _ev("D", "sdk", note='docstring: "null if the run is not in a terminal state"'),
        ("usage",),
        _s("queued", "in_progress"),
    ),
    Absent(
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
    Ordered(
        "run.timestamps.ordered",
        "run",
        "created_at ≤ started_at ≤ the terminal timestamp",
        _ev("O", "spec", "lesson"),
        ("created_at", "started_at", "completed_at"),
        frozenset(RUN.statuses),
    ),
    Ordered(
        "run.timestamps.ordered_failed",
        "run",
        "created_at ≤ started_at ≤ failed_at",
        _ev("O", "spec"),
        ("created_at", "started_at", "failed_at"),
        frozenset(RUN.statuses),
    ),
    Ordered(
        "run.timestamps.ordered_cancelled",
        "run",
        "created_at ≤ started_at ≤ cancelled_at",
        _ev("I", "spec"),
        ("created_at", "started_at", "cancelled_at"),
        frozenset(RUN.statuses),
    ),
    NonDecreasing(
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
        Immutable(
            f"run.{f}.immutable", "run", f"{f} never changes", _ev("O", "spec", "lesson"), (f,)
        )
        for f in _IDS
    ),
]

_STEP_RULES: list[FieldRule] = [
    *(
        Present(
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
    Absent(
        "run_step.usage.null_while_running",
        "run_step",
        "usage is null while in progress",
        _ev("D", "sdk"),
        ("usage",),
        _s("in_progress"),
    ),
    NonDecreasing(
        "run_step.timestamps.monotonic",
        "run_step",
        "timestamps never move backwards",
        _ev("O", "spec"),
        ("created_at", "completed_at", "cancelled_at", "failed_at", "expired_at"),
    ),
    *(
        Immutable(
            f"run_step.{f}.immutable", "run_step", f"{f} never changes", _ev("O", "spec"), (f,)
        )
        for f in ("id", "object", "created_at", "run_id", "thread_id", "type")
    ),
]

_MESSAGE_RULES: list[FieldRule] = [
    Present(
        "message.completed_at.set",
        "message",
        "completed_at is set in completed",
        _ev("D", "sdk", "spec"),
        ("completed_at",),
        _s("completed"),
    ),
    Present(
        "message.incomplete_at.set",
        "message",
        "incomplete_at is set in incomplete",
        _ev("D", "sdk", "spec"),
        ("incomplete_at",),
        _s("incomplete"),
    ),
    Present(
        "message.incomplete_details.set",
        "message",
        "incomplete_details is set in incomplete",
        _ev("D", "sdk", "spec"),
        ("incomplete_details",),
        _s("incomplete"),
    ),
    *(
        Immutable(f"message.{f}.immutable", "message", f"{f} never changes", _ev("O", "spec"), (f,))
        for f in ("id", "object", "created_at", "thread_id", "role")
    ),
]

_LINKS: tuple[Link, ...] = (
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


_VALUES: tuple[FieldValues, ...] = (
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


register(RUN, _RUN_RULES, [v for v in _VALUES if v.code.startswith("run.")])
register(
    STEP,
    _STEP_RULES,
    [v for v in _VALUES if v.code.startswith("run_step.")],
    [k for k in _LINKS if k.lifecycle == STEP.name],
)
register(
    MESSAGE,
    _MESSAGE_RULES,
    [v for v in _VALUES if v.code.startswith("message.")],
    [k for k in _LINKS if k.lifecycle == MESSAGE.name],
)
