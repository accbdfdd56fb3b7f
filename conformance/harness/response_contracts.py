"""The contracts of a background-responses client (poller, stream, tool-loop): their properties,
each judged from what the client did and what the emulator's responses did, registered under the
response lifecycle. A property that a protocol fact of the model states is named by the fact's
code (``response.stream.increasing``); the others are named for what they check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl

from runmodel import FACTS, RESPONSE, ResponseTrigger

from .response_results import GIVE_UP_AFTER, ResponseContract
from .response_watch import ResponseJudging, TrackedResponse, seen_response, stream_of
from .results import ClientBlocked, PolledTooFast
from .verdicts import DELETED, Finding, Judge, Property, register

__all__ = [
    "ALL_OUTPUTS",
    "BACKGROUND_AGAIN",
    "CHAIN",
    "INCREASING",
    "NO_GAP",
    "NO_ORPHANS",
    "RESPONSE_CONTRACTS",
    "RESPONSE_PROPERTIES",
    "WHILE_ACTIVE",
    "all_outputs",
    "answers_every_round",
    "background_again",
    "cancels_what_it_abandons",
    "chains",
    "no_loss",
    "no_orphans",
    "no_repeat",
    "output_call_ids",
    "returns",
    "sleeps_between_polls",
    "stops_when_terminal",
    "terminates",
]

_UNSUCCESSFUL = RESPONSE.terminal - {RESPONSE.target(ResponseTrigger.COMPLETE)}
"""Where a library may raise by design (``raises_on_failure``): failed, incomplete, cancelled."""

WHILE_ACTIVE = FACTS["response.poll.while_active"].code
INCREASING = FACTS["response.stream.increasing"].code
NO_GAP = FACTS["response.stream.no_gap"].code
CHAIN = FACTS["response.round.chain"].code
ALL_OUTPUTS = FACTS["response.round.all_outputs"].code
NO_ORPHANS = FACTS["response.round.no_orphans"].code
BACKGROUND_AGAIN = FACTS["response.round.background_again"].code


def _status_of(value: Any) -> str | None:
    status = value.get("status") if isinstance(value, dict) else getattr(value, "status", None)
    return status if isinstance(status, str) else None


def _id_of(value: Any) -> str | None:
    rid = value.get("id") if isinstance(value, dict) else getattr(value, "id", None)
    return rid if isinstance(rid, str) else None


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _span(first: int, last: int) -> str:
    return f"event {first}" if first == last else f"events {first}–{last}"


# -- pace and ending ----------------------------------------------------------------------------


def sleeps_between_polls(j: ResponseJudging) -> list[Finding]:
    """The given interval between two polls of a response; a client stopped for polling too
    fast is judged by that alone."""
    found: list[Finding] = []
    if j.watch.too_fast is not None:
        found.append(("sleeps_between_polls", j.watch.too_fast, j.last))
    if isinstance(j.out.hung, PolledTooFast):
        j.stopped = True
        found.append(("sleeps_between_polls", str(j.out.hung), j.last))
    return found


def terminates(j: ResponseJudging) -> list[Finding]:
    """The client returns: it neither blocks nor keeps polling a response that will not
    change (a terminal one, or one the server never moves again: it needs a deadline)."""
    stop = j.out.hung
    if stop is None:
        return []
    j.stopped = True
    hung = j.watch.hung
    if isinstance(stop, ClientBlocked) or hung is None or hung.settled_status is None:
        return [("terminates", f"the client was stopped: {stop}", j.last)]
    rid, status = hung.response_id, hung.settled_status
    shown = sum(
        1
        for r in j.watch.requests()
        if r.response_id == rid
        and (s := seen_response(r, rid)) is not None
        and s["status"] == status
    )
    if status in RESPONSE.terminal:
        message = (
            f"the client fetched the response {shown} times after it became {status} "
            "(terminal) and never returned"
        )
    else:
        message = (
            f"the client polled the response {shown} times while the server left it {status} "
            f"for good, and was still polling after {GIVE_UP_AFTER:g} s: it has no deadline "
            "(give up at a deadline of your own, and cancel the response you abandon)"
        )
    return [("terminates", message, rid)]


def stops_when_terminal(j: ResponseJudging) -> list[Finding]:
    """No poll of a response after the client saw it terminal (fact
    ``response.poll.while_active``)."""
    for tracked in j.responses:
        rid, seen_terminal = tracked.response_id, None
        extra = 0
        for rec in j.watch.requests():
            if seen_terminal is not None and j.watch.is_poll(rec) == rid:
                extra += 1
            seen = seen_response(rec, rid) if rec.response_id == rid else None
            if seen_terminal is None and seen is not None and seen["status"] in RESPONSE.terminal:
                seen_terminal = str(seen["status"])
        if extra:
            message = (
                f"the client polled the response {tracked.label} {extra} more time"
                f"{'s' * (extra != 1)} after it saw it {seen_terminal}, which is terminal "
                f"({FACTS[WHILE_ACTIVE].summary})"
            )
            return [(WHILE_ACTIVE, message, rid)]
    return []


def _left_active(j: ResponseJudging) -> list[TrackedResponse]:
    return [
        t
        for t in j.responses
        if j.final[t.response_id] not in RESPONSE.terminal | {DELETED}
        and not j.cancelled_by_client(t.response_id)
    ]


def cancels_what_it_abandons(j: ResponseJudging) -> list[Finding]:
    """A client that gives up (raises) leaves no background response running: it cancels
    what it abandons."""
    left = _left_active(j)
    if j.out.raised is None or not left:
        return []
    t = left[0]
    message = (
        f"{j.what}, leaving the response {t.label} {j.final[t.response_id]}: it goes on "
        "running on the server (cancel a background response before giving up on it)"
    )
    return [("cancels_what_it_abandons", message, t.response_id)]


def _refused(j: ResponseJudging) -> bool:
    """A raise that is the server's refusal of a round already reported is that round."""
    rounds = {CHAIN, ALL_OUTPUTS, NO_ORPHANS}
    return getattr(j.out.raised, "status_code", None) == 400 and any(
        f[0] in rounds for f in j.found
    )


def returns(j: ResponseJudging) -> list[Finding]:
    """What is wrong with how the client ended, if anything: it returns the terminal response
    as the server has it (a stream consumer may return its events, ending on the terminal one);
    a client that gives up raises only once it has cancelled what it leaves."""
    earlier = {"cancels_what_it_abandons", INCREASING, NO_GAP}  # the cause of a wrong end
    if _refused(j) or any(f[0] in earlier for f in j.found):
        return []
    message = _how_it_ended(j)
    return [("returns", message, j.last)] if message is not None else []


def _how_it_ended(j: ResponseJudging) -> str | None:
    out = j.out
    if out.raised is not None:
        gave_up = any(j.cancelled_by_client(t.response_id) for t in j.responses)
        ended = j.final.get(j.last) if j.last is not None else None
        by_design = j.options.raises_on_failure and ended in _UNSUCCESSFUL
        return None if gave_up or by_design else j.what
    if not j.responses:
        return "the client returned without creating a response"
    returned = out.returned
    if isinstance(returned, (list, tuple)) and j.options.contract is ResponseContract.STREAM:
        return _ended_events(j, list(returned))
    got, rid = _status_of(returned), _id_of(returned)
    if got is None:
        return f"the client returned {type(returned).__name__}, not a response"
    rid = rid if rid in j.final else j.last
    assert rid is not None
    status = j.final[rid]
    if got not in RESPONSE.terminal:
        after = "" if status == got else f" (the response went on to {status})"
        return f"the client returned the response in status {got}, which is not terminal{after}"
    if got != status and status != DELETED:
        return f"the client returned the response as {got}, but the server's response was {status}"
    return None


def _ended_events(j: ResponseJudging, events: list[Any]) -> str | None:
    rid = j.last
    assert rid is not None
    status = j.final[rid]
    if status == RESPONSE.target(ResponseTrigger.CANCEL):
        return None  # a cancelled response's stream just ends (response.stream.no_cancelled_event)
    kinds = [_field(e, "type") for e in events]
    last = kinds[-1] if kinds else "nothing"
    if status not in RESPONSE.terminal:
        return (
            f"the client returned its events ending with {last}, while the response was still "
            f"{status}: a stream consumer ends on a terminal event"
        )
    ends = f"response.{status}"
    if last != ends:
        return (
            f"the client returned its events ending with {last}, not the terminal "
            f"{ends} (the response was {status})"
        )
    return None


# -- the stream ---------------------------------------------------------------------------------


def _stream_requests(j: ResponseJudging, rid: str) -> list[tuple[Any, int | None]]:
    """The client's streams of a response, in order, each with the ``starting_after`` it asked
    for (None for the create's own stream)."""
    out: list[tuple[Any, int | None]] = []
    for rec in j.watch.requests():
        if rec.events is None or rec.response_id != rid:
            continue
        if rec.method == "POST":
            out.append((rec, None))
            continue
        query = dict(parse_qsl(rec.query))
        after = query.get("starting_after")
        out.append((rec, int(after) if after is not None and after.lstrip("-").isdigit() else -1))
    return out


def _resumes(j: ResponseJudging, repeat: bool) -> Finding | None:
    for tracked in j.responses:
        rid, received = tracked.response_id, -1
        for rec, after in _stream_requests(j, rid):
            if after is not None and received >= 0:
                asked = "without starting_after" if after < 0 else f"with starting_after={after}"
                if repeat and after < received:
                    message = (
                        f"the client resumed the stream of {tracked.label} {asked} after it had "
                        f"received events up to {received}: {_span(after + 1, received)} "
                        f"reached it twice ({FACTS[INCREASING].summary})"
                    )
                    return (INCREASING, message, rid)
                if not repeat and after > received:
                    message = (
                        f"the client resumed the stream of {tracked.label} {asked} after it had "
                        f"received events up to {received}: {_span(received + 1, after)} "
                        f"never reached it (resume from the last sequence number received)"
                    )
                    return (NO_GAP, message, rid)
            numbers = stream_of(rec)
            if numbers:
                received = max(received, *numbers)
    return None


def _returned_numbers(j: ResponseJudging) -> list[int] | None:
    returned = j.out.returned
    if j.out.raised is not None or not isinstance(returned, (list, tuple)):
        return None
    numbers = [_field(e, "sequence_number") for e in returned]
    return [n for n in numbers if isinstance(n, int)]


def no_repeat(j: ResponseJudging) -> list[Finding]:
    """A resumed stream asks for the events after the last one received, and the client
    returns no event twice (fact ``response.stream.increasing``)."""
    found = _resumes(j, repeat=True)
    if found is not None:
        return [found]
    numbers = _returned_numbers(j)
    twice = sorted({n for n in numbers or () if numbers is not None and numbers.count(n) > 1})
    if twice:
        message = f"the client returned events {twice} twice ({FACTS[INCREASING].summary})"
        return [(INCREASING, message, j.last)]
    return []


def no_loss(j: ResponseJudging) -> list[Finding]:
    """A resumed stream skips no event, and the client returns every event once (fact
    ``response.stream.no_gap``)."""
    found = _resumes(j, repeat=False)
    if found is not None:
        return [found]
    numbers = _returned_numbers(j)
    if numbers:
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        if missing:
            message = f"the client returned the events without {missing} ({FACTS[NO_GAP].summary})"
            return [(NO_GAP, message, j.last)]
    return []


# -- the tool loop ------------------------------------------------------------------------------


def _rounds(j: ResponseJudging) -> list[tuple[Any, dict[str, Any], TrackedResponse | None]]:
    """Each create of the client with the response whose calls it should answer (None for a
    create that answers none): the last response with calls not answered before it."""
    out: list[tuple[Any, dict[str, Any], TrackedResponse | None]] = []
    answered: set[str] = set()
    for rec, body in j.creates():
        asking = None
        for tracked in j.responses:
            resp = j.emu.responses[tracked.response_id]
            completed = RESPONSE.target(ResponseTrigger.COMPLETE)
            done = [h.at for h in resp.history if h.status == completed]
            if resp.calls() and done and done[0] <= rec.at and resp.id not in answered:
                asking = tracked
        if asking is not None:
            answered.add(asking.response_id)
        out.append((rec, body, asking))
    return out


def _asked(j: ResponseJudging, tracked: TrackedResponse) -> list[str]:
    return j.emu.responses[tracked.response_id].calls()


def output_call_ids(body: Any) -> set[str]:
    """The call ids a create's body answers (its ``function_call_output`` items)."""
    items = body.get("input") if isinstance(body, dict) else None
    return (
        {
            str(i.get("call_id"))
            for i in items or ()
            if isinstance(i, dict) and i.get("type") == "function_call_output"
        }
        if isinstance(items, list)
        else set()
    )


def chains(j: ResponseJudging) -> list[Finding]:
    """Each round's answer names the response that asked as its ``previous_response_id``."""
    for _rec, body, asking in _rounds(j):
        if asking is None:
            continue
        prev = body.get("previous_response_id")
        if prev != asking.response_id:
            how = (
                "without previous_response_id"
                if prev is None
                else f"with previous_response_id {j.watch.short(str(prev))}"
            )
            message = (
                f"the client answered the calls {_asked(j, asking)} of {asking.label} with a "
                f"new response {how} ({FACTS[CHAIN].summary})"
            )
            return [(CHAIN, message, asking.response_id)]
    return []


def all_outputs(j: ResponseJudging) -> list[Finding]:
    """Each round's answer holds a ``function_call_output`` for every call it was asked."""
    for _, body, asking in _rounds(j):
        if asking is None:
            continue
        asked = _asked(j, asking)
        missing = [c for c in asked if c not in output_call_ids(body)]
        if missing:
            message = (
                f"the client answered {asking.label}, which asked for calls {asked}, without "
                f"an output for {missing} ({FACTS[ALL_OUTPUTS].summary})"
            )
            return [(ALL_OUTPUTS, message, asking.response_id)]
    return []


def no_orphans(j: ResponseJudging) -> list[Finding]:
    """No ``function_call_output`` for a call that was not asked."""
    for _, body, asking in _rounds(j):
        asked = set(_asked(j, asking)) if asking is not None else set()
        orphans = sorted(output_call_ids(body) - asked)
        if orphans:
            message = f"the client sent outputs for calls {orphans} that were not asked"
            return [(NO_ORPHANS, message, asking.response_id if asking else j.last)]
    return []


def background_again(j: ResponseJudging) -> list[Finding]:
    """Every response the client creates is a background one, round after round."""
    for n, (_, body, asking) in enumerate(_rounds(j)):
        if body.get("background") is not True:
            which = "its first response" if n == 0 else f"the response of round {n + 1}"
            after = f" (answering {asking.label})" if asking is not None else ""
            message = (
                f"the client created {which}{after} without background=true "
                f"({FACTS[BACKGROUND_AGAIN].summary})"
            )
            return [(BACKGROUND_AGAIN, message, j.last)]
    return []


def answers_every_round(j: ResponseJudging) -> list[Finding]:
    """No completion's function calls left unanswered when the client is done."""
    if _refused(j) or (j.out.raised is not None and j.found):
        return []
    answered = {a.response_id for _, _, a in _rounds(j) if a is not None}
    for tracked in j.responses:
        calls = _asked(j, tracked)
        if calls and tracked.response_id not in answered:
            message = f"{j.what}, leaving the calls {calls} of {tracked.label} unanswered"
            return [("answers_every_round", message, tracked.response_id)]
    return []


# -- the contracts ------------------------------------------------------------------------------


def _prop(name: str, judge: Callable[[ResponseJudging], list[Finding]]) -> Property:
    # the registry's judges take the run's Judging; the response runner passes a ResponseJudging
    return Property(name, cast(Judge, judge))


_PACE = (
    _prop("sleeps_between_polls", sleeps_between_polls),
    _prop("terminates", terminates),
    _prop(WHILE_ACTIVE, stops_when_terminal),
)
_END = (
    _prop("cancels_what_it_abandons", cancels_what_it_abandons),
    _prop("returns", returns),
)
_PROPERTIES: dict[ResponseContract, Sequence[Property]] = {
    ResponseContract.POLLER: (*_PACE, *_END),
    ResponseContract.POLLER_APP: (*_PACE, *_END),
    ResponseContract.STREAM: (
        *_PACE[:2],
        _prop(INCREASING, no_repeat),
        _prop(NO_GAP, no_loss),
        _PACE[2],
        *_END,
    ),
    ResponseContract.TOOL_LOOP: (
        _prop(BACKGROUND_AGAIN, background_again),
        _prop(CHAIN, chains),
        _prop(ALL_OUTPUTS, all_outputs),
        _prop(NO_ORPHANS, no_orphans),
        *_PACE,
        _prop("answers_every_round", answers_every_round),
        *_END,
    ),
}

RESPONSE_CONTRACTS = {
    contract: register(RESPONSE.name, contract.value, props)
    for contract, props in _PROPERTIES.items()
}
"""The response lifecycle's contracts, registered."""

RESPONSE_PROPERTIES: dict[ResponseContract, tuple[str, ...]] = {
    contract: tuple(p.name for p in props) for contract, props in _PROPERTIES.items()
}
"""The properties each response contract checks, in order of root cause."""
