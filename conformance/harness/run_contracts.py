"""The contracts of the Assistants run (waiter, driver, app): their properties, each judged from
what the client did and what the server's runs did, registered under the run lifecycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runmodel import RUN, Actor, Strictness, Trigger

from ..check import CANCEL, SUBMIT_TOOL_OUTPUTS, judge_action, submitted_call_ids
from ..errors import parse_error
from .options import FUTURE_STATUS
from .record import json_body, seen_run, seen_status_at, segments
from .results import ClientBlocked, Contract, PolledTooFast
from .verdicts import DELETED, Finding, Judging, Property, register
from .watch import Tracked, Watch

__all__ = [
    "PROPERTIES",
    "RUN_CONTRACTS",
    "answers_every_round",
    "forward_compatible",
    "leaves_no_active_run",
    "legal_actions",
    "owns_what_it_deletes",
    "returns",
    "sleeps_between_polls",
    "terminates",
]

_SUCCESS = RUN.target(Trigger.COMPLETE)
_UNSUCCESSFUL = RUN.terminal - {_SUCCESS}  # where a client may raise, if its library says so


# -- legal_actions ------------------------------------------------------------------------------


def _unseen(seen: Mapping[str, Any] | None, at: float) -> tuple[Actor, ...]:
    """Who may have moved the run since the client last saw it: the server; the clock too once
    the run's ``expires_at`` (as last seen) has passed."""
    expires = seen.get("expires_at") if seen is not None else None
    if isinstance(expires, (int, float)) and at >= expires:
        return (Actor.SERVER, Actor.CLOCK)
    return (Actor.SERVER,)


def _judge_client_actions(watch: Watch, tracked: Tracked, strictness: Strictness) -> str | None:
    """Judge each submit and cancel of a run by what the client had seen when it made it, as
    the checker judges recorded traffic (`conformance.check.judge_action`); a second submit for
    a round already answered is illegal too. A status the model does not know is not judged."""
    seen: dict[str, Any] | None = None
    answered: set[tuple[str, ...]] = set()
    run_id = tracked.run_id
    for rec in watch.client_requests():
        path = rec.path.removeprefix("/v1")
        action = None
        if rec.method == "POST" and path.endswith(f"/{run_id}/submit_tool_outputs"):
            action = SUBMIT_TOOL_OUTPUTS
        elif rec.method == "POST" and path.endswith(f"/{run_id}/cancel"):
            action = CANCEL
        status = str(seen["status"]) if seen is not None else RUN.initial
        if action is not None and status in RUN:
            required: tuple[str, ...] = ()
            if action == SUBMIT_TOOL_OUTPUTS and seen is not None and status in RUN.waiting:
                calls = seen["required_action"]["submit_tool_outputs"]["tool_calls"]
                required = tuple(c["id"] for c in calls)
                if required in answered:
                    return (
                        "the client submitted tool outputs twice for the same round "
                        f"{list(required)}"
                    )
                answered.add(required)
            verdict = judge_action(
                action,
                status,
                run_id=tracked.label,
                strictness=strictness,
                unseen=_unseen(seen, rec.at),
                required=required,
                submitted=submitted_call_ids(json_body(rec.body)),
            )
            if verdict is not None:
                return f"the client sent {verdict.message} ({verdict.allowed})"
        now = seen_run(rec, run_id)
        if now is not None:
            seen = now
    return None


def _created_while_active(j: Judging) -> str | None:
    """A run created on a thread whose run had not ended (a retry must wait for the abandoned
    run to be cancelled or to end)."""
    for rec in j.watch.client_requests():
        parts = segments(rec.path)
        if rec.method != "POST" or rec.status != 400 or len(parts) != 3 or parts[2] != "runs":
            continue
        body = json_body(rec.response)
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        fields = parse_error("run_while_active", message) if isinstance(message, str) else None
        if fields is None:
            continue
        busy = j.watch.runs.get(fields["run_id"])
        label = busy.label if busy is not None else fields["run_id"]
        status = seen_status_at(j.emu.requests, fields["run_id"], rec.seq)
        return (
            f"the client created a new run on the thread while the run {label} was still "
            f"{status} (a new run must wait until the last one is cancelled or has ended)"
        )
    return None


def legal_actions(j: Judging) -> list[Finding]:
    """Every submit and cancel legal by what the client had seen; no run on a busy thread."""
    for tracked in j.runs:
        illegal = _judge_client_actions(j.watch, tracked, j.options.strictness)
        if illegal is not None:
            return [("legal_actions", illegal, tracked.run_id)]
    busy = _created_while_active(j)
    return [("legal_actions", busy, j.last)] if busy is not None else []


# -- owns_what_it_deletes, sleeps_between_polls, terminates, forward_compatible -------------------


def owns_what_it_deletes(j: Judging) -> list[Finding]:
    """No delete of an assistant or thread the client did not create."""
    watch = j.watch
    for rec in watch.client_requests():
        parts = segments(rec.path)
        if rec.method != "DELETE" or len(parts) != 2 or parts[0] not in ("assistants", "threads"):
            continue
        if parts[1] not in watch.owned:
            kind = parts[0].removesuffix("s")
            message = (
                f"the client deleted the {kind} {watch.short(parts[1])}, which it did not "
                f"create (it was given to the client to use)"
            )
            return [("owns_what_it_deletes", message, j.last)]
    return []


def sleeps_between_polls(j: Judging) -> list[Finding]:
    """The server's (or the given) interval between two polls of a run; a client stopped for
    polling too fast is judged by that alone."""
    found: list[Finding] = []
    if j.watch.too_fast is not None:
        found.append(("sleeps_between_polls", j.watch.too_fast, j.last))
    if isinstance(j.out.hung, PolledTooFast):
        j.stopped = True
        found.append(("sleeps_between_polls", str(j.out.hung), j.last))
    return found


def terminates(j: Judging) -> list[Finding]:
    """The client returns: it neither blocks nor keeps asking about a settled run."""
    hung_stop = j.out.hung
    if hung_stop is None:
        return []
    j.stopped = True
    if isinstance(hung_stop, ClientBlocked):
        return [("terminates", str(hung_stop), j.last)]
    hung = j.watch.hung_run
    if hung is None or hung.settled_status is None:
        return [("terminates", f"the client was stopped: {hung_stop}", j.last)]
    kind = "terminal" if hung.settled_status in RUN.terminal else "settled"
    shown = sum(  # counted as the timeline lists them
        1
        for r in j.watch.client_requests()
        if r.run_id == hung.run_id
        and (seen := seen_run(r, r.run_id)) is not None
        and seen["status"] == hung.settled_status
    )
    message = (
        f"the client fetched the run {shown} times after it became "
        f"{hung.settled_status} ({kind}) and never returned"
    )
    return [("terminates", message, hung.run_id)]


def _served_future(watch: Watch) -> bool:
    return any(
        (seen := seen_run(r, r.run_id)) is not None and seen.get("status") == FUTURE_STATUS
        for r in watch.client_requests()
        if r.run_id in watch.runs
    )


def forward_compatible(j: Judging) -> list[Finding]:
    """A status the model does not know (served with `future_status`) does not make the client
    raise."""
    if j.out.raised is None or not j.options.future_status or not _served_future(j.watch):
        return []
    j.stopped = True
    message = (
        f"{j.what}, after the run reported status {FUTURE_STATUS!r}, which the model does "
        "not know (a future API may add statuses: keep polling through unknown ones)"
    )
    return [("forward_compatible", message, j.last)]


# -- answers_every_round, leaves_no_active_run, returns -------------------------------------------


def _refused(j: Judging) -> bool:
    """A raise that is the server's refusal of an illegal action already reported is that
    action."""
    return getattr(j.out.raised, "status_code", None) == 400 and any(
        f[0] == "legal_actions" for f in j.found
    )


def _client_cancelled(watch: Watch, tracked: Tracked) -> bool:
    return any(
        r.method == "POST" and r.path.endswith(f"/{tracked.run_id}/cancel")
        for r in watch.client_requests()
    )


def _left_active(j: Judging) -> list[Tracked]:
    """The runs the client left active (not cancelled by it), unless it was refused."""
    if _refused(j):
        return []
    return [
        t for t in j.runs if j.final[t.run_id] in RUN.active and not _client_cancelled(j.watch, t)
    ]


def _can_cancel(status: str, strictness: Strictness) -> bool:
    return any(e.trigger == Trigger.CANCEL for e in RUN.triggers(status, Actor.CLIENT, strictness))


def answers_every_round(j: Judging) -> list[Finding]:
    """No run left waiting for tool outputs."""
    waiting = [t for t in _left_active(j) if j.final[t.run_id] in RUN.waiting]
    if not waiting:
        return []
    j.unanswered = waiting
    t = waiting[0]
    action = j.emu.run_object(t.run_id).get("required_action") or {}
    calls = [c["id"] for c in action.get("submit_tool_outputs", {}).get("tool_calls", [])]
    status = j.final[t.run_id]
    advice = (
        "answer every round, or cancel the run"
        if _can_cancel(status, j.options.strictness)
        else (f"answer every round: no cancel is legal while the run is {status}")
    )
    message = (
        f"{j.what}, leaving the run {t.label} {status} with calls {calls} unanswered ({advice})"
    )
    return [("answers_every_round", message, t.run_id)]


def _give_up_advice(status: str, strictness: Strictness) -> str:
    """What a client that gives up on a run in `status` should do: only ever a legal action."""
    if _can_cancel(status, strictness):
        return "the thread stays locked until the run expires (cancel the run before giving up)"
    return (
        f"the thread stays locked until the run ends (no cancel is legal while it is {status}: "
        "poll until it ends before giving up)"
    )


def _judged_left(j: Judging) -> bool:
    """Whether runs left active are findings: always for an app, else when the client raised."""
    return j.out.raised is not None or j.options.contract is Contract.APP


def leaves_no_active_run(j: Judging) -> list[Finding]:
    """No run left active (queued, in progress, waiting) when the client is done."""
    left = [t for t in _left_active(j) if t not in j.unanswered]
    if not left or not _judged_left(j):
        return []
    t = left[0]
    the_run = f"the run {t.label}" if j.options.contract is Contract.APP else "the run"
    status = j.final[t.run_id]
    message = (
        f"{j.what}, leaving {the_run} {status}: {_give_up_advice(status, j.options.strictness)}"
    )
    return [("leaves_no_active_run", message, t.run_id)]


def returns(j: Judging) -> list[Finding]:
    """What is wrong with how the client ended, if anything (a client that raised leaving a run
    active is reported as that alone)."""
    left = bool(_left_active(j)) and _judged_left(j)
    message = None if left or _refused(j) else _how_it_ended(j)
    return [("returns", message, j.last)] if message is not None else []


def _how_it_ended(j: Judging) -> str | None:
    contract, out, final, runs = j.options.contract, j.out, j.final, j.runs
    if out.raised is not None:
        ended = runs[-1].run_id if runs else None
        if j.options.raises_on_failure and ended is not None and final[ended] in _UNSUCCESSFUL:
            return None  # the library raises on a run that ended unsuccessfully, by design
        return j.what
    if contract is Contract.APP and not runs:
        return "the client returned without creating a run"
    got = getattr(out.returned, "status", None)
    run_id = getattr(out.returned, "id", None)
    if contract is Contract.APP and run_id not in final:
        return None  # an app may return anything; a run it returns is judged below
    if got is None:
        return f"the client returned {type(out.returned).__name__}, not a run"
    status = final[str(run_id)] if run_id in final else final[runs[0].run_id]
    if got not in contract.done:
        after = "" if status == got else f" (the run went on to {status})"
        need = (
            "settled (terminal or requires_action)" if contract is Contract.WAITER else "terminal"
        )
        return f"the client returned the run in status {got}, which is not {need}{after}"
    if got != status and status != DELETED:
        return f"the client returned the run as {got}, but the server's run was {status}"
    return None


# -- the contracts ------------------------------------------------------------------------------

_ONE_RUN: Sequence[Property] = (
    Property("legal_actions", legal_actions),
    Property("owns_what_it_deletes", owns_what_it_deletes),
    Property("sleeps_between_polls", sleeps_between_polls),
    Property("terminates", terminates),
    Property("forward_compatible", forward_compatible),
    Property("leaves_no_active_run", leaves_no_active_run),
    Property("returns", returns),
)
_APP: Sequence[Property] = (
    *_ONE_RUN[:5],
    Property("answers_every_round", answers_every_round),
    *_ONE_RUN[5:],
)

RUN_CONTRACTS = {
    contract: register(RUN.name, contract.value, _APP if contract is Contract.APP else _ONE_RUN)
    for contract in Contract
}
"""The run lifecycle's contracts, registered."""

PROPERTIES: tuple[str, ...] = tuple(p.name for p in _APP)
"""Every property a contract checks, in order of root cause (a report lists them so)."""
