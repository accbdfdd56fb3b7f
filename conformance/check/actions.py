"""The client's actions in recorded HTTP traffic, and the server's replies to them: the
Assistants run's part of the checker (`RunTraffic`), with its streams.

Each action is judged by what the client could know (`conformance.check.verdicts`, the one
judgement of a client's action): every status the run could be in by the time of the request,
given the moves the model lets the server make unseen (the clock's too, once the run's
``expires_at`` may have passed, by the server's clock where a Date header showed it). The
reply to an illegal action must be the documented one (`conformance.errors`); a refusal naming
another status is accepted when the run could have got there meanwhile (that status is then
recorded as observed). Refusals of other kinds (validation, unknown ids: 404) are not lifecycle
matters and are not judged.
"""

from __future__ import annotations

import re
from typing import Any

from runmodel import RUN, Actor, Strictness

from ..errors import (
    ERROR_EVIDENCE,
    ERROR_HTTP_STATUS,
    ERROR_TYPE,
    format_call_ids,
    format_error,
    parse_error,
)
from ..observations import Exchange, StreamEvent
from .findings import Where, finding
from .parts import Host, register_part
from .results import Severity, Violation
from .state import RunState
from .streams import CREATE_THREAD_AND_RUN, StreamJudge
from .verdicts import (
    CANCEL,
    CREATE_MESSAGE,
    CREATE_RUN,
    SUBMIT_TOOL_OUTPUTS,
    Verdict,
    allows,
    assess_action,
    judge_action,
    legal_way,
    submitted_call_ids,
)

__all__ = ["RunTraffic"]

_SUBMIT, _CANCEL = SUBMIT_TOOL_OUTPUTS, CANCEL
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        _SUBMIT,
        re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/submit_tool_outputs/?\Z"),
    ),
    (_CANCEL, re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/cancel/?\Z")),
    (CREATE_THREAD_AND_RUN, re.compile(r"/threads/runs/?\Z")),
    (CREATE_RUN, re.compile(r"/threads/(?P<thread>[^/]+)/runs/?\Z")),
    (CREATE_MESSAGE, re.compile(r"/threads/(?P<thread>[^/]+)/messages/?\Z")),
)
_REFUSAL = {_SUBMIT: "submit_not_accepted", _CANCEL: "cancel_not_allowed"}
_ERR, _WARN = Severity.ERROR, Severity.WARNING

_DOUBTED = (
    "Only an inferred or disputed edge lets the client do this, so the refusal may be the "
    "API's own behaviour: a recording of the real API either way would settle the grade."
)
_HINTS = {
    "server.accepted_illegal": "The API refuses this action with HTTP 400 and a documented text.",
    "server.error_mismatch": "Reply with HTTP 400, error.type invalid_request_error and the "
    "documented text (conformance.errors).",
}

# whether some status reachable from s (at any level) accepts the client trigger t
_EVER = {
    (s, t): any(
        RUN.reachable(s, x, Strictness.PERMISSIVE) and allows(RUN, x, t, Strictness.PERMISSIVE)
        for x in RUN.statuses
    )
    for s in RUN.statuses
    for t in (_SUBMIT, _CANCEL)
}


def _v(code: str, severity: Severity, message: str, where: Where, **details: Any) -> Violation:
    return finding(_HINTS, code, severity, message, where, **details)


class RunTraffic:
    """The Assistants run's traffic: every exchange and stream event no other part took."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._add = host.findings.add
        self._streams = StreamJudge(self._stream_finding, host.is_settled, host.memory)

    def exchange(self, ex: Exchange) -> bool:
        """Judge one HTTP exchange: the client's action, then the server's reply; have the
        body observed."""
        host = self._host
        action, groups = None, {}
        if ex.method.upper() == "POST":
            for name, pattern in _ROUTES:
                m = pattern.search(ex.path)
                if m is not None:
                    action, groups = name, m.groupdict()
                    break
        if action is not None:
            host.checkable += 1
        status = ex.status
        ok = status is not None and 200 <= status < 300
        run: RunState | None = None
        prior: str | None = None  # the run's status as the client last saw it
        verdict: Verdict | None = None
        if action in _REFUSAL:
            run = host.run(groups["run"])
            prior = run.status
            if prior is not None:
                verdict = self._action(action, run, prior, ex)
        elif action in (CREATE_RUN, CREATE_MESSAGE):
            run, verdict = self._on_thread(action, groups["thread"], ex)
        if status is None or ok:
            if run is not None and action in _REFUSAL:
                run.triggers = run.triggers | {action}  # a request without a reply took effect
                if ok and verdict is not None and prior is not None and not _EVER[prior, action]:
                    self._add(
                        run,
                        _v(
                            "server.accepted_illegal",
                            _ERR,
                            f"HTTP {status} to {action} on run {run.oid}, last seen {prior}",
                            (run.oid, run.oid, ex.loc, ex.seq),
                            observed=f"HTTP {status}",
                            allowed=f"HTTP 400: no status reachable from {prior!r} accepts "
                            f"{action}",
                            ev=ERROR_EVIDENCE[_REFUSAL[action]],
                        ),
                    )
            if ok and ex.streamed:
                self._streams.opened(ex.seq, action or "")
            elif ok:
                host.observe(ex.response_body, ex.loc, ex.seq, ex.wall, True)
        elif status >= 400 and action is not None:
            self._reply(action, run, prior, verdict, ex)
        return True

    def stream_event(self, ev: StreamEvent) -> bool:
        """Judge one event's place in its stream."""
        self._streams.event(ev)
        return True

    def finish(self) -> None:
        """End of input: a stream still open never reached its done event."""
        self._streams.finish()

    def _stream_finding(self, v: Violation) -> None:
        self._add(self._host.run(v.run_id) if v.run_id else None, v)

    def _unseen(self, run: RunState, ex: Exchange) -> tuple[Actor, ...]:
        """Who may have moved the run since the client last saw it: the server; the clock too
        once the run's expires_at may have passed (by the server's clock where a Date header
        showed it)."""
        last = run.last
        exp: Any = last.get("expires_at") if last is not None else None
        now = self._host.server_time(ex.loc, ex.wall)
        if type(exp) in (int, float) and now is not None and now >= exp:
            return (Actor.SERVER, Actor.CLOCK)
        return (Actor.SERVER,)

    def _action(self, action: str, run: RunState, prior: str, ex: Exchange) -> Verdict | None:
        """Judge a submit or cancel by what the client knew; record the untrusted edges a
        legal one takes."""
        judged = assess_action(
            action,
            prior,
            run_id=run.oid,
            strictness=self._host.strictness,
            unseen=self._unseen(run, ex) if action == _CANCEL else (),
            required=run.calls,
            submitted=submitted_call_ids(ex.request_body) if run.calls else None,
        )
        verdict, need = judged.verdict, self._host.findings.need
        if judged.way is not None:
            need(run, tuple(str(e) for e in judged.way if not e.evidence.trusted))
        if verdict is not None:
            self._add(run, verdict.violation((run.oid, run.oid, ex.loc, ex.seq)))
            if verdict.needs:
                need(run, verdict.needs)
        return verdict

    def _on_thread(
        self, action: str, tid: str, ex: Exchange
    ) -> tuple[RunState | None, Verdict | None]:
        """Judge a new run or message on a thread by its active run: (that run, the verdict)
        when it is illegal."""
        locked = self._host.active_run(tid)
        if locked is None or locked.status is None:
            return None, None
        verdict = judge_action(
            action,
            locked.status,
            run_id=locked.oid,
            thread_id=tid,
            strictness=self._host.strictness,
            unseen=self._unseen(locked, ex),
            path=ex.path,
        )
        if verdict is None:
            return None, None
        self._add(locked, verdict.violation((locked.oid, locked.oid, ex.loc, ex.seq)))
        return locked, verdict

    def _reply(
        self,
        action: str,
        run: RunState | None,
        prior: str | None,
        verdict: Verdict | None,
        ex: Exchange,
    ) -> None:
        """Judge a refusal of the client's action."""
        body: Any = ex.response_body if type(ex.response_body) is dict else {}
        err: Any = body.get("error") if type(body.get("error")) is dict else {}
        text: str = err.get("message") if type(err.get("message")) is str else ""
        etype: Any = err.get("type")
        if verdict is not None and verdict.refusal is not None:
            self._documented(action, run, prior, verdict, text, etype, ex)
            return
        if run is None or action not in _REFUSAL:
            return  # refusals of other kinds (validation, unknown ids) are not lifecycle matters
        said = parse_error(_REFUSAL[action], text)
        if prior is None:
            if verdict is None and said is not None and said["status"] in RUN:
                # the documented refusal names the status of a run not seen before
                run.observations += 1
                self._host.refusal_observed()
                self._host.observe_status(run, said["status"], ex.loc, ex.seq)
            return
        if verdict is None:  # the client had every reason to think the action legal
            self._surprise(action, run, prior, said, text, f"HTTP {ex.status} {etype}: {text}", ex)

    def _documented(
        self,
        action: str,
        run: RunState | None,
        prior: str | None,
        verdict: Verdict,
        text: str,
        etype: Any,
        ex: Exchange,
    ) -> None:
        """The refusal of an illegal action: the documented one, or a race the run could have
        won meanwhile."""
        kind = verdict.refusal or ""
        want = format_error(kind, **verdict.fields)
        allowed = f"HTTP {ERROR_HTTP_STATUS} {ERROR_TYPE}: {want}"
        rid = run.oid if run is not None else None
        where: Where = (rid, rid, ex.loc, ex.seq)
        observed = f"HTTP {ex.status} {etype}: {text}"
        if ex.status != ERROR_HTTP_STATUS or etype != ERROR_TYPE:
            message = f"{action} refused, but not with the documented status and type"
            severity = _ERR
        elif text != want:
            said = parse_error(kind, text)
            if (
                said
                and "status" in said
                and run
                and prior
                and self._raced(run, action, prior, said["status"], ex)
            ):
                return
            message = f"{action} refused with other words than the documented ones"
            severity = _WARN
        else:
            return
        self._add(
            run,
            _v(
                "server.error_mismatch",
                severity,
                message,
                where,
                observed=observed,
                allowed=allowed,
                ev=ERROR_EVIDENCE[kind],
            ),
        )

    def _surprise(
        self,
        action: str,
        run: RunState,
        prior: str,
        said: dict[str, str] | None,
        text: str,
        observed: str,
        ex: Exchange,
    ) -> None:
        """A refusal of an action the client had every reason to think legal."""
        where: Where = (run.oid, run.oid, ex.loc, ex.seq)
        if said is not None and not self._raced(run, action, prior, said["status"], ex):
            # a refusal of what only untrusted edges allow is no surprise: graded by those edges
            unseen = self._unseen(run, ex) if action == _CANCEL else ()
            way = legal_way(RUN, prior, action, self._host.strictness, unseen) or ()
            weakest = next((e.evidence for e in way if not e.evidence.trusted), None)
            self._add(
                run,
                _v(
                    "server.error_mismatch",
                    _WARN if weakest is not None else _ERR,
                    f"{action} refused on run {run.oid} "
                    f"as {said['status']!r}, a status that accepts it or cannot follow "
                    f"{prior!r}",
                    where,
                    observed=observed,
                    allowed=f"{action} accepted in {prior!r}"
                    + (f" by {'; '.join(str(e) for e in way)}" if weakest is not None else ""),
                    ev=weakest or ERROR_EVIDENCE[_REFUSAL[action]],
                    path=tuple(str(e) for e in way) if weakest is not None else (),
                    hint=_DOUBTED if weakest is not None else _HINTS["server.error_mismatch"],
                ),
            )
        elif (
            said is None
            and action == _SUBMIT
            and run.calls  # the round was seen: its call ids are known (a refusal names no ids)
            and parse_error("tool_outputs_mismatch", text)
        ):
            self._add(
                run,
                _v(
                    "server.error_mismatch",
                    _ERR,
                    "submit_tool_outputs with exactly the required call ids refused on run "
                    f"{run.oid}",
                    where,
                    observed=observed,
                    allowed=f"outputs for {format_call_ids(run.calls)} accepted",
                    ev=ERROR_EVIDENCE["tool_outputs_mismatch"],
                ),
            )

    def _raced(self, run: RunState, action: str, prior: str, said: str, ex: Exchange) -> bool:
        """A refusal naming another status is fine if the run could have got there and that
        status refuses the action too (at the checker's strictness: at strict, requires_action
        refuses a cancel); the status is then recorded as observed."""
        lv = self._host.strictness
        if said not in RUN or allows(RUN, said, action, lv):
            return False
        if not RUN.reachable(prior, said, lv):
            return False
        if said != prior:
            self._host.observe_status(run, said, ex.loc, ex.seq)
        return True


register_part(RUN.name, RunTraffic)
