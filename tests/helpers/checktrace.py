"""Builders for the checker's tests: reader items made by hand, and objects a correct server sends.

`Trace` numbers its items like a native trace (line = seq), so a test can assert the exact
location of a finding. The object builders fill every field the way the API does for a status;
tests override single fields to break one rule on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance.check import (
    CheckFinished,
    CheckSummary,
    Event,
    RunChecked,
    Violation,
    ViolationFound,
    check,
)
from conformance.observations import (
    Exchange,
    InputProblem,
    Item,
    Location,
    Snapshot,
    StreamEvent,
)
from runmodel import Strictness

T0 = 1_712_030_293
FILE = "t.jsonl"
_FINISHED = ("completed", "incomplete", "failed")  # statuses whose runs drop expires_at


def run(
    status: str,
    *,
    rid: str = "run_1",
    tid: str = "thread_1",
    calls: Sequence[str] = ("call_1",),
    started: int | bool | None = True,
    t: int = T0 + 20,
    **over: Any,
) -> dict[str, Any]:
    """A run object as the API returns it in `status` (`started`: started_at, True = T0+1)."""
    start = T0 + 1 if started is True else (None if started is False else started)
    if status == "queued" and started is True:
        start = None
    o: dict[str, Any] = {
        "id": rid,
        "object": "thread.run",
        "created_at": T0,
        "assistant_id": "asst_1",
        "thread_id": tid,
        "status": status,
        "started_at": start,
        "expires_at": None if status in _FINISHED else T0 + 600,
        "cancelled_at": t if status == "cancelled" else None,
        "failed_at": t if status == "failed" else None,
        "completed_at": t if status in ("completed", "incomplete") else None,
        "required_action": None,
        "last_error": None,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "incomplete_details": None,
        "usage": None,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    if status == "requires_action":
        o["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": c, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    for c in calls
                ]
            },
        }
    if status == "failed":
        o["last_error"] = {"code": "server_error", "message": "Sorry, something went wrong."}
    if status == "incomplete":
        o["incomplete_details"] = {"reason": "max_completion_tokens"}
    if status in ("completed", "incomplete", "failed", "cancelled", "expired"):
        o["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    o.update(over)
    return o


def step(
    status: str,
    *,
    sid: str = "step_1",
    rid: str = "run_1",
    kind: str = "message_creation",
    calls: Sequence[str] = (),
    message: str = "msg_1",
    t: int = T0 + 20,
    **over: Any,
) -> dict[str, Any]:
    """A run step object in `status` (`kind`: message_creation or tool_calls)."""
    details: dict[str, Any]
    if kind == "tool_calls":
        details = {
            "type": "tool_calls",
            "tool_calls": [
                {
                    "id": c,
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}", "output": None},
                }
                for c in calls
            ],
        }
    else:
        details = {"type": "message_creation", "message_creation": {"message_id": message}}
    o: dict[str, Any] = {
        "id": sid,
        "object": "thread.run.step",
        "created_at": T0 + 2,
        "run_id": rid,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "type": kind,
        "status": status,
        "cancelled_at": t if status == "cancelled" else None,
        "completed_at": t if status == "completed" else None,
        "expired_at": t if status == "expired" else None,
        "failed_at": t if status == "failed" else None,
        "last_error": {"code": "server_error", "message": "x"} if status == "failed" else None,
        "step_details": details,
        "usage": None
        if status == "in_progress"
        else {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "metadata": {},
    }
    o.update(over)
    return o


def message(
    status: str | None,
    *,
    mid: str = "msg_1",
    rid: str | None = "run_1",
    t: int = T0 + 20,
    **over: Any,
) -> dict[str, Any]:
    """A message object in `status` (None: a user message as the API returns it)."""
    o: dict[str, Any] = {
        "id": mid,
        "object": "thread.message",
        "created_at": T0 + 2,
        "thread_id": "thread_1",
        "run_id": rid,
        "assistant_id": "asst_1" if rid else None,
        "role": "assistant" if rid else "user",
        "status": status,
        "completed_at": t if status == "completed" else None,
        "incomplete_at": t if status == "incomplete" else None,
        "incomplete_details": {"reason": "run_failed"} if status == "incomplete" else None,
        "content": [],
        "attachments": [],
        "metadata": {},
    }
    o.update(over)
    return o


def mutations(obj: dict[str, Any], field: str) -> Iterator[dict[str, Any]]:
    """Copies of `obj` with `field` set to other values (null, an object, a string, numbers)."""
    value = obj.get(field)
    candidates: list[Any] = [None, {"x": 1}, "changed", 1]
    if isinstance(value, int):
        candidates += [value + 1000, value - 1000]
    for c in candidates:
        if c != value:
            yield {**obj, field: c}


def error(message: str, status_type: str = "invalid_request_error") -> dict[str, Any]:
    """An API error body."""
    return {"error": {"message": message, "type": status_type, "param": None, "code": None}}


class Trace:
    """Reader items built by hand; every item gets the next line and seq of one file."""

    def __init__(self, file: str = FILE) -> None:
        self.file = file
        self.items: list[Item] = []
        self.line = 0

    def _next(self) -> Location:
        self.line += 1
        return Location(self.file, self.line)

    def snap(self, obj: dict[str, Any], wall: float | None = None) -> int:
        """A bare object; returns its line."""
        loc = self._next()
        self.items.append(Snapshot(loc, self.line, obj, wall))
        return self.line

    def snaps(self, objs: Iterable[dict[str, Any]]) -> list[int]:
        """Several bare objects; returns their lines."""
        return [self.snap(o) for o in objs]

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int | None = 200,
        request: Any = None,
        streamed: bool = False,
        wall: float | None = None,
    ) -> int:
        """An HTTP exchange (path without the /v1 prefix is fine); returns its line (= seq)."""
        loc = self._next()
        self.items.append(
            Exchange(
                loc,
                self.line,
                wall,
                None,
                method,
                "/v1" + path,
                {},
                request,
                status,
                {},
                None if streamed else body,
                streamed,
            )
        )
        return self.line

    def event(self, name: str, data: Any, exchange: int) -> int:
        """One server-sent event of the streamed exchange at line `exchange`."""
        loc = self._next()
        self.items.append(StreamEvent(loc, self.line, exchange, None, None, name, data))
        return self.line

    def done(self, exchange: int) -> int:
        """The stream's done event."""
        return self.event("done", "[DONE]", exchange)

    def problem(self, code: str, text: str) -> int:
        """A reader's input problem."""
        loc = self._next()
        self.items.append(InputProblem(loc, code, text))
        return self.line


class Outcome:
    """The events of one check, with helpers to find violations."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.violations: list[Violation] = []
        self.results = []
        for e in events:
            if isinstance(e, RunChecked):
                self.results.append(e.result)
                self.violations.extend(e.result.violations)
            elif isinstance(e, ViolationFound):
                self.violations.append(e.violation)
        last = events[-1]
        assert isinstance(last, CheckFinished)
        self.summary: CheckSummary = last.summary

    @property
    def codes(self) -> list[str]:
        """Every violation code, in report order."""
        return [v.code for v in self.violations]

    def only(self, code: str) -> Violation:
        """The one violation with `code` (fails if there is none or more than one)."""
        found = [v for v in self.violations if v.code == code]
        assert len(found) == 1, f"expected one {code}, got {self.codes}"
        return found[0]


def checked(items: Iterable[Item] | Trace, strictness: Strictness = Strictness.STRICT) -> Outcome:
    """Check items (or a Trace's items) and collect the events."""
    if isinstance(items, Trace):
        items = items.items
    return Outcome(list(check(items, strictness)))
