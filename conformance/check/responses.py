"""Recorded Responses API traffic, judged by the protocol facts of the model's ``response``
lifecycle (`runmodel.FACTS`): the response's part of the checker (`ResponseTraffic`).

Its moves and field rules are the model's and the checker judges them as a run's (but for a
resumed stream's replay of statuses the response has left: its past, fact
``response.stream.replay_history``). This part judges what the objects alone do not show: a
client's cancel and the server's answer to it, each stream's ``sequence_number`` (across a
resumption too, ``GET /v1/responses/{id}?stream=true&starting_after=N``) and event order, and a
function round (a create whose ``previous_response_id`` answers the ``function_call`` items of a
completed response). A breach is reported under the fact's code, its severity given by the
fact's grade (an error when the fact is trusted, documented or observed, else a warning).
"""

from __future__ import annotations

import re
from typing import Any

from runmodel import FACTS, RESPONSE, Fact, ResponseTrigger

from ..observations import Exchange, Location, StreamEvent
from .parts import Host, register_part
from .results import Severity, Violation
from .state import Recent, RunState
from .verdicts import answered_unchanged, assess_action

__all__ = ["CLIENT_FACTS", "ResponseTraffic"]

_LC = RESPONSE.name
_ROUTE = re.compile(r"/responses(?:/(?P<id>[^/]+)(?P<tail>/[^/]+)?)?/?\Z")
_CANCEL = ResponseTrigger.CANCEL
_PREFIX = _LC + "."  # event names: ``response.<what>``
_CREATED = _PREFIX + "created"
_STATUS_EVENTS = {
    _PREFIX + s: s for s in RESPONSE.statuses if s != RESPONSE.target(_CANCEL)
}  # response.queued, .in_progress, .completed, .failed, .incomplete: the status each carries
_CANCELLED_EVENT = _PREFIX + RESPONSE.target(_CANCEL)
_INITIAL_EVENT = _PREFIX + RESPONSE.initial
_ENDED = RESPONSE.terminal
_ASKED_STATUS = RESPONSE.target(ResponseTrigger.COMPLETE)  # whose function calls a round answers

CLIENT_FACTS = frozenset(
    ("response.round.all_outputs", "response.round.no_orphans", "response.round.parent_ended")
)
"""The facts whose breach is the client's (a function round's answer); the server's acceptance
of such an answer is reported as ``server.accepted_illegal``."""


def _fact(code: str) -> Fact:
    return FACTS[code]


def _severity(fact: Fact) -> Severity:
    return Severity.ERROR if fact.evidence.trusted else Severity.WARNING


def _hint(fact: Fact) -> str:
    note = f" ({fact.evidence.note})" if fact.evidence.note else ""
    return f"Fact {fact.code}: {fact.summary}{note}."


def _calls(output: Any, kind: str, key: str = "call_id") -> list[str]:
    """The ``call_id`` of each item of `kind` in an output or input list, in order."""
    if type(output) is not list:
        return []
    return [
        i[key]
        for i in output
        if type(i) is dict and i.get("type") == kind and type(i.get(key)) is str
    ]


class _Stream:
    """One stream of one response: opened by a create or a resumption (`after`: its
    ``starting_after``), or by events of a stream not seen open."""

    __slots__ = ("after", "background", "count", "ended", "first", "last", "rid", "route")

    def __init__(self, route: str, rid: str | None, after: int | None, background: Any) -> None:
        self.route = route  # "create", "resume" or "" (not seen open)
        self.rid = rid
        self.after = after
        self.background = background  # the create's background flag (None: not known)
        self.count = 0
        self.first: str | None = None  # the first event's name
        self.last: int | None = None  # the last sequence number
        self.ended: str | None = None  # the terminal event seen


class ResponseTraffic:
    """The Responses API's traffic: ``/responses`` exchanges and the events of their streams."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._add = host.findings.add
        self._streams: dict[int | None, _Stream] = {}
        self._ended: Recent[int | None, _Stream] = Recent(host.memory)  # streams that ended
        self._asked: Recent[str, tuple[str, ...]] = Recent(host.memory)  # rid -> call ids
        self._background: Recent[str, bool] = Recent(host.memory)  # rid -> background flag

    # -- exchanges -----------------------------------------------------------------------------

    def exchange(self, ex: Exchange) -> bool:
        """Judge one ``/responses`` exchange (others are not this part's)."""
        m = _ROUTE.search(ex.path)
        if m is None:
            return False
        host = self._host
        host.checkable += 1
        rid, tail, method = m["id"], m["tail"], ex.method.upper()
        ok = ex.status is not None and 200 <= ex.status < 300
        body = ex.request_body if type(ex.request_body) is dict else {}
        if method == "POST" and rid is None:
            self._create(ex, body, ok)
        elif method == "POST" and tail == "/" + _CANCEL and rid is not None:
            self._cancel(ex, rid, ok)
        elif method == "GET" and rid is not None and tail is None and ok:
            if ex.streamed:
                after = ex.query.get("starting_after")
                n = int(after) if after is not None and after.lstrip("-").isdigit() else None
                self._streams[ex.seq] = _Stream("resume", rid, n, None)
            else:
                self._seen(ex.response_body, ex.loc, ex.seq, ex.wall)
        return True

    def _create(self, ex: Exchange, body: dict[str, Any], ok: bool) -> None:
        """A new response: judge the function round it answers, then observe the reply."""
        accepted = ok and not ex.streamed and type(ex.response_body) is dict
        new = ex.response_body.get("id") if accepted else None
        prev = body.get("previous_response_id")
        if type(prev) is str:
            self._round(ex, prev, body.get("input"), new if type(new) is str else None)
        if ok and ex.streamed:
            self._streams[ex.seq] = _Stream("create", None, None, body.get("background"))
        elif ok:
            self._seen(ex.response_body, ex.loc, ex.seq, ex.wall)

    def _round(self, ex: Exchange, prev: str, given: Any, new: str | None) -> None:
        """A function round's answer: an output for every call the parent asked, no other, and
        only once the parent has completed."""
        outputs = _calls(given, "function_call_output")
        if not outputs:
            return
        host = self._host
        where = (prev, prev, ex.loc, ex.seq)
        status = host.status_of(prev)
        asked = self._asked.get(prev)
        if status is None and asked is None:
            return  # the parent was not seen: nothing to judge the answer by
        parent = host.tracked(_LC, prev)
        if status is not None and status != _ASKED_STATUS:
            self._flag(
                parent,
                "response.round.parent_ended",
                f"function_call_output for {prev} while it is {status}",
                where,
                observed=f"a round answering {prev} in status {status}",
                allowed=f"answer a round once {prev} is {_ASKED_STATUS}",
            )
        if asked is None:
            return
        missing = [c for c in asked if c not in outputs]
        extra = [c for c in outputs if c not in asked]
        want = ", ".join(asked) or "none"
        if missing:
            self._flag(
                parent,
                "response.round.all_outputs",
                f"the round answering {prev} lacks outputs for {', '.join(missing)}",
                where,
                observed=f"function_call_output for {', '.join(outputs)}",
                allowed=f"one for each call id {prev} asked: {want}",
            )
            if new is not None:
                fact = _fact("response.round.all_outputs")
                self._add(
                    host.tracked(_LC, new),
                    Violation.of(
                        "server.accepted_illegal",
                        _severity(fact),
                        f"HTTP {ex.status} to a round answering {prev} without outputs for "
                        f"{', '.join(missing)}",
                        (new, new, ex.loc, ex.seq),
                        observed=f"HTTP {ex.status}",
                        allowed="HTTP 400 (param input): " + fact.summary,
                        ev=fact.evidence,
                        hint=_hint(fact),
                        rule=fact.code,
                    ),
                )
        if extra:
            self._flag(
                parent,
                "response.round.no_orphans",
                f"the round answering {prev} has outputs for calls it did not ask: "
                f"{', '.join(extra)}",
                where,
                observed=f"function_call_output for {', '.join(outputs)}",
                allowed=f"only the call ids {prev} asked: {want}",
            )

    def _cancel(self, ex: Exchange, rid: str, ok: bool) -> None:
        """A client's cancel, judged by the model (`assess_action`), and the server's answer."""
        host = self._host
        state = host.tracked(_LC, rid)
        prior = state.status
        where = (rid, rid, ex.loc, ex.seq)
        if prior is not None:
            judged = assess_action(
                _CANCEL, prior, run_id=rid, strictness=host.strictness, lifecycle=RESPONSE
            )
            if judged.way is not None:
                need = tuple(str(e) for e in judged.way if not e.evidence.trusted)
                host.findings.need(state, need)
            if judged.verdict is not None:
                self._add(state, judged.verdict.violation(where))
        if ex.status is None or ok:
            state.triggers = state.triggers | {_CANCEL}
        reply = ex.response_body if type(ex.response_body) is dict else {}
        if ok and self._background.get(rid) is False:
            self._flag(
                state,
                "response.cancel.background_only",
                f"HTTP {ex.status} to a cancel of {rid}, created without background",
                where,
                observed=f"HTTP {ex.status}",
                allowed="HTTP 400: only a background response can be cancelled",
            )
        elif prior is not None and (fact := answered_unchanged(RESPONSE, prior)) is not None:
            said = reply.get("status") if ok else None
            if ex.status is not None and said != prior:
                got = f"HTTP {ex.status}" + (f" with status {said!r}" if ok else "")
                self._add(
                    state,
                    Violation.of(
                        fact.code,
                        _severity(fact),
                        f"cancel of {rid}, {prior}, answered {got}",
                        where,
                        observed=got,
                        allowed=f"HTTP 200 with {rid} unchanged ({prior})",
                        ev=fact.evidence,
                        hint=_hint(fact),
                    ),
                )
        if ok:
            self._seen(reply, ex.loc, ex.seq, ex.wall)

    def _seen(self, body: Any, loc: Location, seq: int | None, wall: float | None) -> None:
        """Remember what a response body tells the round and cancel judgements, then have it
        observed."""
        if type(body) is dict and body.get("object") == _LC and type(body.get("id")) is str:
            rid = body["id"]
            if type(body.get("background")) is bool:
                self._background.add(rid, body["background"])
            if body.get("status") == _ASKED_STATUS:
                self._asked.add(rid, tuple(_calls(body.get("output"), "function_call")))
        self._host.observe(body, loc, seq, wall, True)

    # -- streams -------------------------------------------------------------------------------

    def stream_event(self, ev: StreamEvent) -> bool:
        """Judge one event of a response's stream (others are not this part's)."""
        sid, data = ev.exchange_seq, ev.data
        s = self._streams.get(sid)
        name = ev.event
        if name == "message" and type(data) is dict and type(data.get("type")) is str:
            name = data["type"]  # (an event without an event: line is named by its type)
        if s is None:
            if not name.startswith(_PREFIX) or type(data) is not dict:
                return False
            s = self._ended.get(sid) if sid is not None else None
            if s is None:
                s = self._streams[sid] = _Stream("", None, None, None)
        if type(data) is not dict:
            return True
        response = data.get("response")
        if type(response) is dict and type(response.get("id")) is str:
            s.rid = s.rid or response["id"]
            if s.background is None and type(response.get("background")) is bool:
                s.background = response["background"]
        rid = s.rid
        state = self._host.tracked(_LC, rid) if rid is not None else None
        where = (rid, rid, ev.loc, ev.seq)
        s.count += 1
        if s.ended is not None:
            self._flag(
                state,
                "response.stream.one_terminal",
                f"{name} after the stream's {s.ended}",
                where,
                observed=f"{name} after {s.ended}",
                allowed="nothing after the terminal event",
            )
        self._number(s, state, name, data.get("sequence_number"), where)
        self._order(s, state, name, response, where)
        if s.ended is not None and self._streams.get(sid) is s:
            del self._streams[sid]  # (remembered a while: an event after the end is found)
            self._ended.add(sid, s)
        if type(response) is dict and (s.route != "resume" or self._live(state, response)):
            self._seen(response, ev.loc, ev.seq, ev.wall)
        return True

    @staticmethod
    def _live(state: RunState | None, response: dict[str, Any]) -> bool:
        """Whether a resumed stream's lifecycle event tells the response's present: a resumed
        stream replays its past as first sent (fact stream.replay_history), so a status the
        response has already left is history, not a move."""
        known, status = state.status if state else None, response.get("status")
        if known is None or status == known or type(status) is not str or status not in RESPONSE:
            return True
        return RESPONSE.reachable(known, status)

    def _number(
        self,
        s: _Stream,
        state: RunState | None,
        name: str,
        n: Any,
        where: tuple[str | None, str | None, Location | None, int | None],
    ) -> None:
        """The event's ``sequence_number``: present, from 0 (or right after a resumption's
        ``starting_after``), rising by one."""
        if type(n) is not int:
            self._flag(
                state,
                "response.stream.sequence_number",
                f"{name} without an integer sequence_number",
                where,
                observed=f"sequence_number {n!r}",
                allowed="an integer sequence_number on every event",
            )
            return
        last, s.last = s.last, n
        if last is None and s.after is not None:
            if n <= s.after:
                self._flag(
                    state,
                    "response.stream.increasing",
                    f"{name} #{n} repeats an event before the resumption (starting_after="
                    f"{s.after})",
                    where,
                    observed=f"sequence_number {n} after starting_after={s.after}",
                    allowed=f"above {s.after}",
                )
            elif n != s.after + 1:
                self._flag(
                    state,
                    "response.stream.resume_suffix",
                    f"the stream resumed after {s.after} starts at #{n}",
                    where,
                    observed=f"first sequence_number {n}",
                    allowed=f"{s.after + 1}, the event right after starting_after={s.after}",
                )
        elif last is None:
            if s.route != "" and n != 0:
                self._flag(
                    state,
                    "response.stream.starts_at_zero",
                    f"the stream starts at #{n}",
                    where,
                    observed=f"first sequence_number {n}",
                    allowed="0",
                )
        elif n <= last:
            self._flag(
                state,
                "response.stream.increasing",
                f"{name} #{n} after #{last}",
                where,
                observed=f"sequence_number {last} then {n}",
                allowed=f"above {last}",
            )
        elif n != last + 1:
            self._flag(
                state,
                "response.stream.no_gap",
                f"{name} #{n} after #{last}: {n - last - 1} missing",
                where,
                observed=f"sequence_number {last} then {n}",
                allowed=f"{last + 1}",
            )

    def _order(
        self,
        s: _Stream,
        state: RunState | None,
        name: str,
        response: Any,
        where: tuple[str | None, str | None, Location | None, int | None],
    ) -> None:
        """The event's place: the opening pair, the status a lifecycle event names, one
        terminal event, no cancelled event."""
        if s.count == 1:
            s.first = name
        if s.route == "create" and s.count <= 2:
            opening = {_CREATED, _INITIAL_EVENT} if s.background is True else {_CREATED}
            allowed = " and ".join(sorted(opening)) + (
                ", in either order" if len(opening) > 1 else ""
            )
            if (s.count == 1 and name not in opening) or (
                s.count == 2 and len(opening) > 1 and {s.first, name} != opening
            ):
                self._flag(
                    state,
                    "response.stream.opening",
                    f"the stream opens with {name}" if s.count == 1 else f"{name} second",
                    where,
                    observed=f"event {s.count}: {name}",
                    allowed=f"first {allowed}",
                )
        if name == _CANCELLED_EVENT:
            self._flag(
                state,
                "response.stream.no_cancelled_event",
                f"a {name} event",
                where,
                observed=name,
                allowed="no such event: a cancelled response's stream just ends",
            )
            return
        want = _STATUS_EVENTS.get(name)
        if want is None:
            return
        got = response.get("status") if type(response) is dict else None
        if got != want:
            self._flag(
                state,
                "response.stream.event_status",
                f"{name} carries status {got!r}",
                where,
                observed=f"{name} with status {got!r}",
                allowed=f"status {want!r}",
            )
        if want in _ENDED and s.ended is None:
            s.ended = name

    def finish(self) -> None:
        """End of input: nothing to judge (a stream broken off is resumed or not; the
        response's statuses tell the rest)."""
        self._streams.clear()

    # -- findings ------------------------------------------------------------------------------

    def _flag(
        self,
        state: RunState | None,
        name: str,
        message: str,
        where: tuple[str | None, str | None, Location | None, int | None],
        *,
        observed: str,
        allowed: str,
    ) -> None:
        fact = _fact(name)
        self._add(
            state,
            Violation.of(
                fact.code,
                _severity(fact),
                message,
                where,
                observed=observed,
                allowed=allowed,
                ev=fact.evidence,
                hint=_hint(fact),
            ),
        )


register_part(_LC, ResponseTraffic)
