"""The streaming protocol (evidence §5), judged per stream: event order, deltas, done.

One `StreamJudge` follows every open stream (server-sent events of one exchange). It judges only
the order of events; the objects the events carry are observed by the engine like any other,
so run statuses from a stream feed the same lifecycle checks as polled ones. Event names come
from the model: ``<object>.created``, ``<object>.<status>`` for each status of the run, step and
message lifecycles, ``<object>.delta`` for steps and messages, and ``thread.created``,
``error``, ``done``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from runmodel import (
    API_OBJECTS,
    MESSAGE,
    RUN,
    STEP,
    Evidence,
    Grade,
    Lifecycle,
    Strictness,
)

from ..observations import StreamEvent
from .results import Severity, Violation
from .verdicts import CREATE_RUN

__all__ = ["CREATE_RUN", "CREATE_THREAD_AND_RUN", "OBJECTS", "STREAM_EVIDENCE", "StreamJudge"]

STREAM_EVIDENCE = Evidence(
    (Grade.DOCUMENTED, Grade.OBSERVED),
    (
        "spec",
        "sdk",
        "rec:openai-dotnet/StreamingToolCall",
        "rec:openllmetry/test_streaming_new_assistant",
        "rec:ruby-openai/runs_streamed_create",
    ),
    "the streaming protocol, evidence §5; a submit_tool_outputs stream opens with the old "
    "step's thread.run.step.completed (recorded)",
)
"""The grade of the stream-order facts: the spec's stream examples and the SDK's event handler
document them, and recorded streams show them; they are not part of the model's data."""

OBJECTS: dict[Any, Lifecycle] = dict(API_OBJECTS)
"""The API's ``object`` names of the model's lifecycles (event names are ``<object>.<what>``;
the checker routes each observed object to its lifecycle by this name): the model's
`runmodel.API_OBJECTS`."""

CREATE_THREAD_AND_RUN = "create_thread_and_run"
"""The route whose stream creates a thread, then a run (`CREATE_RUN`: a run on a thread)."""

_PREFIX = {lc.name: obj for obj, lc in OBJECTS.items()}
# (this module judges the Assistants streams: the run's, its steps' and messages' events)
_CREATING = (CREATE_RUN, CREATE_THREAD_AND_RUN)
_THREAD_CREATED, _DONE, _ERROR = "thread.created", "done", "error"

# event name -> (lifecycle, phase, the status its data must carry); phases: created, status, delta
_EVENTS: dict[str, tuple[Lifecycle, str, str | None]] = {}
for _lc in (RUN, STEP, MESSAGE):
    _EVENTS[f"{_PREFIX[_lc.name]}.created"] = (_lc, "created", _lc.initial)
    _EVENTS.update({f"{_PREFIX[_lc.name]}.{s}": (_lc, "status", s) for s in _lc.statuses})
    if _lc is not RUN:
        _EVENTS[f"{_PREFIX[_lc.name]}.delta"] = (_lc, "delta", None)

_HINTS = {
    "stream.order": "Emit events in the documented order (evidence §5).",
    "stream.delta_before_created": "Send an object's created event before any delta for it.",
    "stream.after_done": "Send nothing after the done event.",
    "stream.event_mismatch": "An event's name must name the status its data carries.",
    "stream.unknown_event": "Clients must ignore events they do not know; extend the model if "
    "the event is new.",
    "stream.unfinished": "The stream was not read to its done event (the client broke off, or "
    "the trace is truncated).",
}


class _Stream:
    __slots__ = (
        "count",
        "done",
        "error",
        "messages",
        "open",
        "required",
        "route",
        "run_id",
        "run_status",
    )

    def __init__(self, route: str) -> None:
        self.route = route  # the route that opened it ("" if unknown)
        self.count = 0
        self.done = False
        self.error = False
        self.required = False  # thread.run.requires_action seen: only done may follow
        self.run_id: str | None = None
        self.run_status: str | None = None
        self.open: dict[tuple[str, str], str | None] = {}  # open step/message -> step type
        self.messages: dict[str, str] = {}  # message id -> the open step that creates it


class StreamJudge:
    """Follows every open stream and reports each break of the protocol as a `Violation`.

    `report` receives the violations (with the stream's run id where known); `is_settled(
    lifecycle, id)` says whether a step or message is known to have settled already. A stream
    that creates its run must open every step and message it settles; another stream (e.g.
    submit_tool_outputs) settles the step an earlier one left open, so there only settling an
    object known to be settled is out of order.
    """

    def __init__(
        self,
        report: Callable[[Violation], None],
        is_settled: Callable[[str, str], bool],
        memory: int,
    ) -> None:
        self._report = report
        self._is_settled = is_settled
        self._memory = memory
        self._streams: dict[int | None, _Stream] = {}
        self._finished: OrderedDict[int | None, str | None] = OrderedDict()  # -> its run id

    def opened(self, seq: int | None, route: str) -> None:
        """A streamed response began on exchange `seq` (`route`: what the request did)."""
        self._streams[seq] = _Stream(route)

    def finish(self) -> None:
        """End of input: a stream still open never reached its done event."""
        for s in self._streams.values():
            self._flag(
                s,
                "stream.unfinished",
                "the stream ended without its done event",
                None,
                observed=f"{s.count} events, no done",
                allowed="done last",
                severity=Severity.WARNING,
            )
        self._streams.clear()

    def event(self, ev: StreamEvent) -> None:
        """Judge one event's place in its stream."""
        sid, name, data = ev.exchange_seq, ev.event, ev.data
        s = self._streams.get(sid)
        if s is None:
            if sid is not None and sid in self._finished:
                ended = _Stream("")
                ended.run_id = self._finished[sid]
                self._flag(
                    ended,
                    "stream.after_done",
                    f"{name} after the stream's done event",
                    ev,
                    observed=name,
                    allowed="nothing after done",
                )
                return
            s = self._streams[sid] = _Stream("")
        s.count += 1
        if name == _DONE:
            self._done(s, ev)
            del self._streams[sid]
            self._finished[sid] = s.run_id
            if len(self._finished) > self._memory:
                self._finished.popitem(last=False)
            return
        if s.required:
            self._flag(
                s,
                "stream.order",
                f"{name} after thread.run.requires_action",
                ev,
                observed=name,
                allowed="done right after thread.run.requires_action",
            )
        spec = _EVENTS.get(name)
        if name == _THREAD_CREATED:
            if s.count != 1 or s.route not in (CREATE_THREAD_AND_RUN, ""):
                self._flag(
                    s,
                    "stream.order",
                    "thread.created out of place",
                    ev,
                    observed=f"thread.created as event {s.count} of a "
                    f"{s.route or 'unknown'} stream",
                    allowed="thread.created first, only in create-thread-and-run streams",
                )
        elif name == _ERROR:
            s.error = True
        elif spec is None:
            self._flag(
                s,
                "stream.unknown_event",
                f"unknown event {name!r}",
                ev,
                observed=name,
                allowed=f"the model's events: {', '.join(_EVENTS)}, {_DONE}, {_ERROR}",
                severity=Severity.WARNING,
            )
        elif type(data) is dict and type(data.get("id")) is str:
            self._order(s, spec, data["id"], data, ev)

    def _order(
        self,
        s: _Stream,
        spec: tuple[Lifecycle, str, str | None],
        oid: str,
        data: dict[str, Any],
        ev: StreamEvent,
    ) -> None:
        lc, phase, want = spec
        name = ev.event
        if lc is RUN:
            s.run_id = oid
        elif type(data.get("run_id")) is str:
            s.run_id = data["run_id"]
        got = data.get("status")
        if want is not None and got != want:
            self._flag(
                s,
                "stream.event_mismatch",
                f"{name} carries status {got!r}",
                ev,
                observed=f"{name} with status {got!r}",
                allowed=f"status {want!r}",
                subject=oid,
            )
        if lc is RUN:
            self._run_event(s, phase, want, ev)
            return
        key = (lc.name, oid)
        if phase == "created":
            if key in s.open:
                self._flag(
                    s,
                    "stream.order",
                    f"{name} twice for {oid}",
                    ev,
                    observed=name,
                    allowed="one created event per object",
                    subject=oid,
                )
            s.open[key] = data.get("type") if lc is STEP else None
            details = data.get("step_details")
            mc = details.get("message_creation") if type(details) is dict else None
            if lc is STEP and type(mc) is dict and type(mc.get("message_id")) is str:
                s.messages[mc["message_id"]] = oid
            elif lc is MESSAGE and oid not in s.messages:
                self._flag(
                    s,
                    "stream.order",
                    f"message {oid} created outside its message_creation step",
                    ev,
                    observed=name,
                    subject=oid,
                    allowed="thread.message.created inside the message_creation step that names it",
                )
            return
        if phase == "delta":
            if key not in s.open:
                self._flag(
                    s,
                    "stream.delta_before_created",
                    f"{name} for {oid} before its created event",
                    ev,
                    observed=name,
                    subject=oid,
                    allowed=f"{_PREFIX[lc.name]}.created for {oid} first",
                )
            return
        opened = key in s.open or (s.route not in _CREATING and not self._is_settled(lc.name, oid))
        if not opened:
            self._flag(
                s,
                "stream.order",
                f"{name} for {oid}, which the stream has not opened or already settled",
                ev,
                observed=name,
                subject=oid,
                allowed=f"{_PREFIX[lc.name]}.created first; nothing after the terminal event",
            )
        elif want in lc.terminal:
            s.open.pop(key, None)
            if lc is STEP:
                for mid in [m for m, step in s.messages.items() if step == oid]:
                    del s.messages[mid]
                    if (MESSAGE.name, mid) in s.open:
                        self._flag(
                            s,
                            "stream.order",
                            f"step {oid} ended before its message {mid}",
                            ev,
                            observed=name,
                            subject=oid,
                            allowed="the message's terminal event before its step's",
                        )

    def _run_event(self, s: _Stream, phase: str, want: str | None, ev: StreamEvent) -> None:
        name = ev.event
        creating = s.route in _CREATING
        if phase == "created":
            if s.run_status is not None or not (creating or s.route == ""):
                self._flag(
                    s,
                    "stream.order",
                    f"{name} out of place",
                    ev,
                    observed=name,
                    allowed="thread.run.created once, first, in streams that create a run",
                )
        elif s.run_status is None and creating:
            self._flag(
                s,
                "stream.order",
                f"{name} before thread.run.created",
                ev,
                observed=name,
                allowed="thread.run.created first",
            )
        prev = s.run_status
        if phase == "status" and want is not None and prev is not None and prev != want:
            perm = Strictness.PERMISSIVE  # (whether the move is legal is the lifecycle's check)
            if RUN.edge(prev, want, perm) is None and RUN.reachable(prev, want, perm):
                path = RUN.path(prev, want, perm) or ()
                self._flag(
                    s,
                    "stream.order",
                    f"{name} skips statuses after {prev}",
                    ev,
                    observed=f"{prev} → {want}",
                    path=tuple(str(e) for e in path),
                    allowed="each status change as its own event: "
                    + " → ".join([prev, *(e.dest for e in path)]),
                )
        if phase == "status" or prev is None:
            s.run_status = want
        if want in RUN.terminal:
            self._open_check(s, ev, f"the run ended ({want})")
        elif want in RUN.settled and phase == "status":
            s.required = True

    def _open_check(self, s: _Stream, ev: StreamEvent, why: str) -> None:
        for (lcname, oid), kind in list(s.open.items()):
            if s.required and lcname == STEP.name and kind == "tool_calls":
                continue  # left open for the client's outputs
            self._flag(
                s,
                "stream.order",
                f"{why} while {lcname} {oid} is still open",
                ev,
                observed=f"no terminal event for {lcname} {oid}",
                subject=oid,
                allowed="every step and message settled first (only a tool_calls step "
                "stays open at requires_action)",
            )
            del s.open[lcname, oid]

    def _done(self, s: _Stream, ev: StreamEvent) -> None:
        if s.error:
            return
        if s.run_status is not None and s.run_status not in RUN.settled:
            self._flag(
                s,
                "stream.order",
                f"done while the run is {s.run_status}",
                ev,
                observed=f"done after thread.run.{s.run_status}",
                allowed="done after a terminal run event or thread.run.requires_action",
            )
        self._open_check(s, ev, "the stream ended")

    def _flag(
        self,
        s: _Stream | None,
        code: str,
        message: str,
        ev: StreamEvent | None,
        *,
        observed: str,
        allowed: str,
        severity: Severity = Severity.ERROR,
        subject: str | None = None,
        path: tuple[str, ...] = (),
    ) -> None:
        rid = s.run_id if s is not None else None
        where = (rid, subject or rid, ev.loc if ev else None, ev.seq if ev else None)
        self._report(
            Violation.of(
                code,
                severity,
                message,
                where,
                observed=observed,
                allowed=allowed,
                ev=STREAM_EVIDENCE,
                hint=_HINTS[code],
                path=path,
            )
        )
