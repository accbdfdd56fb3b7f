"""The client's actions in recorded HTTP traffic, and the server's replies to them.

Judged by what the client could know: every status the run could be in by the time of the
request, given the moves the model lets the server make unseen (`runmodel.Lifecycle.closure`;
the clock's too, once the run's ``expires_at`` may have passed). A cancel is legal when one
of those statuses has a client ``cancel`` edge (a run last seen queued may have started); tool
outputs answer a round the client saw, so a submit is judged by the last observed status, with
exactly the required call ids in one request; a new run or message on a thread is legal when
the thread's run may have ended unseen. Among the ways an action is legal, the one of highest
grade is taken. The reply to an illegal action must be the documented one
(`conformance.errors`); a refusal naming another status is accepted when the run could have
got there meanwhile (that status is then recorded as observed). Refusals of other kinds
(validation, unknown ids: 404) are not lifecycle matters and are not judged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from runmodel import RUN, Actor, Edge, Strictness

from ..errors import (
    ERROR_EVIDENCE,
    ERROR_HTTP_STATUS,
    ERROR_TYPE,
    format_call_ids,
    format_error,
    parse_error,
)
from ..observations import Exchange
from .results import Severity, Violation
from .streams import CREATE_RUN, CREATE_THREAD_AND_RUN
from .verdicts import (
    CANCEL,
    CREATE_MESSAGE,
    SUBMIT_TOOL_OUTPUTS,
    Verdict,
    allows,
    assess_action,
    judge_action,
    legal_way,
    submitted_call_ids,
)

if TYPE_CHECKING:
    from .engine import Checker, _Run, _Where

__all__ = ["judge_exchange"]

_SUBMIT, _CANCEL, _CREATE_MSG = SUBMIT_TOOL_OUTPUTS, CANCEL, CREATE_MESSAGE
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        _SUBMIT,
        re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/submit_tool_outputs/?\Z"),
    ),
    (_CANCEL, re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/cancel/?\Z")),
    (CREATE_THREAD_AND_RUN, re.compile(r"/threads/runs/?\Z")),
    (CREATE_RUN, re.compile(r"/threads/(?P<thread>[^/]+)/runs/?\Z")),
    (_CREATE_MSG, re.compile(r"/threads/(?P<thread>[^/]+)/messages/?\Z")),
)
_LOCK_KIND = (CREATE_RUN, _CREATE_MSG)
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


def _v(code: str, severity: Severity, message: str, where: _Where, **details: Any) -> Violation:
    details.setdefault("hint", _HINTS.get(code, ""))
    return Violation.of(code, severity, message, where, **details)


def _allows(status: str, trigger: str, lv: Strictness) -> Edge | None:
    return allows(RUN, status, trigger, lv)


# whether some status reachable from s (at any level) accepts the client trigger t
_EVER = {
    (s, t): any(
        RUN.reachable(s, x, Strictness.PERMISSIVE) and _allows(x, t, Strictness.PERMISSIVE)
        for x in RUN.statuses
    )
    for s in RUN.statuses
    for t in (_SUBMIT, _CANCEL)
}


def _unseen(c: Checker, run: _Run, ex: Exchange) -> tuple[Actor, ...]:
    """Who may have moved the run since the client last saw it: the server; the clock too once
    the run's expires_at may have passed (by the server's clock where a Date header showed it)."""
    last = run.last
    exp: Any = last.get("expires_at") if last is not None else None
    now = c.server_time(ex.loc, ex.wall)
    if type(exp) in (int, float) and now is not None and now >= exp:
        return (Actor.SERVER, Actor.CLOCK)
    return (Actor.SERVER,)


def judge_exchange(c: Checker, ex: Exchange) -> None:
    """Judge one HTTP exchange: the client's action, then the server's reply; observe the body."""
    action, groups = None, {}
    if ex.method.upper() == "POST":
        for name, pattern in _ROUTES:
            m = pattern.search(ex.path)
            if m is not None:
                action, groups = name, m.groupdict()
                break
    if action is not None:
        c.checkable += 1
    status = ex.status
    ok = status is not None and 200 <= status < 300
    run: _Run | None = None
    prior: str | None = None  # the run's status as the client last saw it
    verdict: Verdict | None = None
    if action in (_SUBMIT, _CANCEL):
        run = c._run(groups["run"])
        prior = run.status
        if prior is not None:
            verdict = _judge_action(c, action, run, prior, ex)
    elif action in _LOCK_KIND:
        tid = groups["thread"]
        active = c._active.get(tid)
        locked = c._run(active) if active is not None else None
        if locked is not None and locked.status is not None:
            verdict = judge_action(
                action,
                locked.status,
                run_id=locked.oid,
                thread_id=tid,
                strictness=c.strictness,
                unseen=_unseen(c, locked, ex),
                path=ex.path,
            )
            if verdict is not None:
                run = locked
                c._add(run, verdict.violation((run.oid, run.oid, ex.loc, ex.seq)))
    illegal = verdict is not None
    if status is None or ok:
        if run is not None and action in (_SUBMIT, _CANCEL):
            run.triggers = run.triggers | {action}  # assume a request without a reply took effect
            if ok and illegal and prior is not None and not _EVER[prior, action]:
                c._add(
                    run,
                    _v(
                        "server.accepted_illegal",
                        _ERR,
                        f"HTTP {status} to {action} on run {run.oid}, last seen {prior}",
                        (run.oid, run.oid, ex.loc, ex.seq),
                        observed=f"HTTP {status}",
                        allowed=f"HTTP 400: no status reachable from {prior!r} accepts {action}",
                        ev=ERROR_EVIDENCE[_REFUSAL[action]],
                    ),
                )
        if ok and ex.streamed:
            c._streams.opened(ex.seq, action or "")
        elif ok:
            c._body(ex.response_body, ex.loc, ex.seq, ex.wall, True)
    elif status >= 400 and action is not None:
        refusal = (verdict.refusal, dict(verdict.fields)) if verdict and verdict.refusal else None
        _judge_refusal(c, action, run, prior, illegal, refusal, ex)


def _judge_action(c: Checker, action: str, run: _Run, prior: str, ex: Exchange) -> Verdict | None:
    """Judge a submit or cancel by what the client knew; record the untrusted edges a legal
    one takes."""
    judged = assess_action(
        action,
        prior,
        run_id=run.oid,
        strictness=c.strictness,
        unseen=_unseen(c, run, ex) if action == _CANCEL else (),
        required=run.calls,
        submitted=submitted_call_ids(ex.request_body) if run.calls else None,
    )
    verdict = judged.verdict
    if judged.way is not None:
        c._need(run, tuple(str(e) for e in judged.way if not e.evidence.trusted))
    if verdict is not None:
        c._add(run, verdict.violation((run.oid, run.oid, ex.loc, ex.seq)))
        if verdict.needs:
            c._need(run, verdict.needs)
    return verdict


def _judge_refusal(
    c: Checker,
    action: str,
    run: _Run | None,
    prior: str | None,
    illegal: bool,
    refusal: tuple[str, dict[str, str]] | None,
    ex: Exchange,
) -> None:
    body: Any = ex.response_body if type(ex.response_body) is dict else {}
    err: Any = body.get("error") if type(body.get("error")) is dict else {}
    text: str = err.get("message") if type(err.get("message")) is str else ""
    etype: Any = err.get("type")
    rid = run.oid if run is not None else None
    where: _Where = (rid, rid, ex.loc, ex.seq)
    observed = f"HTTP {ex.status} {etype}: {text}"
    if refusal is not None:
        kind, fields = refusal
        want = format_error(kind, **fields)
        allowed = f"HTTP {ERROR_HTTP_STATUS} {ERROR_TYPE}: {want}"
        if ex.status != ERROR_HTTP_STATUS or etype != ERROR_TYPE:
            c._add(
                run,
                _v(
                    "server.error_mismatch",
                    _ERR,
                    f"{action} refused, but not with the documented status and type",
                    where,
                    observed=observed,
                    allowed=allowed,
                    ev=ERROR_EVIDENCE[kind],
                ),
            )
        elif text != want:
            said = parse_error(kind, text)
            if not (
                said
                and "status" in said
                and run
                and prior
                and _raced(c, run, action, prior, said["status"], ex)
            ):
                c._add(
                    run,
                    _v(
                        "server.error_mismatch",
                        _WARN,
                        f"{action} refused with other words than the documented ones",
                        where,
                        observed=observed,
                        allowed=allowed,
                        ev=ERROR_EVIDENCE[kind],
                    ),
                )
        return
    if run is not None and prior is None and action in _REFUSAL and not illegal:
        # the documented refusal names the status of a run not seen before: an observation
        said = parse_error(_REFUSAL[action], text)
        if said is not None and said["status"] in RUN:
            run.observations += 1
            c.refusal_observed()
            c._move(run, RUN, run, said["status"], (), ex.loc, ex.seq, False)
            c._lock(run)
        return
    if illegal or run is None or prior is None or action not in _REFUSAL:
        return  # refusals of other kinds (validation, unknown ids) are not lifecycle matters
    # the client had every reason to think the action legal
    said = parse_error(_REFUSAL[action], text)
    if said is not None and not _raced(c, run, action, prior, said["status"], ex):
        # a refusal of what only untrusted edges allow is no surprise: graded by those edges
        unseen = _unseen(c, run, ex) if action == _CANCEL else ()
        way = legal_way(RUN, prior, action, c.strictness, unseen) or ()
        weakest = next((e.evidence for e in way if not e.evidence.trusted), None)
        c._add(
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
        c._add(
            run,
            _v(
                "server.error_mismatch",
                _ERR,
                f"submit_tool_outputs with exactly the required call ids refused on run {run.oid}",
                where,
                observed=observed,
                allowed=f"outputs for {format_call_ids(run.calls)} accepted",
                ev=ERROR_EVIDENCE["tool_outputs_mismatch"],
            ),
        )


def _raced(c: Checker, run: _Run, action: str, prior: str, said: str, ex: Exchange) -> bool:
    """A refusal naming another status is fine if the run could have got there and that
    status refuses the action too (at the checker's strictness: at strict, requires_action
    refuses a cancel); the status is then recorded as observed."""
    if said not in RUN or _allows(said, action, c.strictness):
        return False
    if not RUN.reachable(prior, said, c.strictness):
        return False
    if said != prior:
        c._move(run, RUN, run, said, (), ex.loc, ex.seq, False)
        c._lock(run)
    return True
