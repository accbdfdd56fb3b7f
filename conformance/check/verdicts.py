"""Whether a client's action on a run is legal, judged by what the client could know.

One judgement, used by the checker on recorded traffic and open to anyone judging a client
(the harness): every status the run could be in by the time of the request, given the moves
the model lets `unseen` actors make (`runmodel.Lifecycle.closure`). A cancel is legal when one
of those statuses has a client ``cancel`` edge (a run last seen queued may have started); tool
outputs answer a round the client saw, so a submit is judged by the last observed status alone,
with exactly the required call ids in one request; a new run or message on a thread is legal
when the thread's run may have ended unseen. Among the ways an action is legal, the one of
highest grade is taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runmodel import FACTS, RUN, Actor, Edge, Evidence, Fact, Lifecycle, Strictness, Trigger

from ..errors import ERROR_EVIDENCE, format_call_ids
from ..observations import Location
from .results import Severity, Violation

__all__ = [
    "ACTIONS",
    "CANCEL",
    "CREATE_MESSAGE",
    "CREATE_RUN",
    "SUBMIT_TOOL_OUTPUTS",
    "Judgement",
    "Verdict",
    "allows",
    "answered_unchanged",
    "assess_action",
    "judge_action",
    "legal_way",
    "may_have_ended",
    "submitted_call_ids",
]

SUBMIT_TOOL_OUTPUTS, CANCEL = Trigger.SUBMIT_TOOL_OUTPUTS, Trigger.CANCEL
"""The model's client triggers of the submit and cancel endpoints."""
CREATE_RUN, CREATE_MESSAGE = "create_run", "create_message"
"""A new run, a new message on a thread: legal only once the thread's run may have ended."""
ACTIONS = (SUBMIT_TOOL_OUTPUTS, CANCEL, CREATE_RUN, CREATE_MESSAGE)
"""The client actions `judge_action` judges."""

_LOCK_KIND = {CREATE_RUN: "run_while_active", CREATE_MESSAGE: "message_while_active"}
_REFUSAL = {SUBMIT_TOOL_OUTPUTS: "submit_not_accepted", CANCEL: "cancel_not_allowed"}

_NEEDS_PERMISSIVE = (
    "Run with --strictness permissive to admit inferred and disputed edges, or find evidence "
    "that grades them documented or observed."
)
_HINTS = {
    "client.submit_outside_requires_action": "Submit tool outputs only after observing "
    "requires_action, once per round.",
    "client.submit_wrong_call_ids": "Submit one output for each id in "
    "required_action.submit_tool_outputs.tool_calls, and no other.",
    "client.submit_partial": "Submit every output of a round in one request.",
    "client.cancel_illegal": "Cancel only a run that the model lets the client cancel.",
    "client.run_while_active": "Wait until the thread's run is terminal (or cancel it and wait "
    "for cancelled) before starting another.",
    "client.message_while_active": "Wait until the thread's run is terminal before adding "
    "messages.",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """An illegal client action, as the checker reports it (always an error), and the reply
    the API documents for it: `refusal` is an error kind of `conformance.errors` with its
    `fields`, None when the API accepts the action (only the permissive model allows it: then
    `needs` names the untrusted edges it takes)."""

    code: str
    message: str
    observed: str
    allowed: str
    evidence: Evidence
    hint: str
    path: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    refusal: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def violation(
        self, where: tuple[str | None, str | None, Location | None, int | None]
    ) -> Violation:
        """The checker's finding, located by ``(run_id, subject, loc, seq)``."""
        return Violation.of(
            self.code,
            Severity.ERROR,
            self.message,
            where,
            observed=self.observed,
            allowed=self.allowed,
            ev=self.evidence,
            hint=self.hint,
            path=self.path,
            needs=self.needs,
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    """`assess_action`'s answer: the way of highest grade by which a submit or cancel is legal
    (the unseen moves, then the client's edge; None when there is none at the strictness), and
    the verdict when the action is illegal (None: legal)."""

    way: tuple[Edge, ...] | None
    verdict: Verdict | None


def allows(lc: Lifecycle, status: str, trigger: str, lv: Strictness) -> Edge | None:
    """The client edge `trigger` takes from `status` at `lv`, or None."""
    return next((e for e in lc.triggers(status, Actor.CLIENT, lv) if e.trigger == trigger), None)


def legal_way(
    lc: Lifecycle, prior: str, trigger: str, lv: Strictness, unseen: tuple[Actor, ...]
) -> tuple[Edge, ...] | None:
    """The way of highest grade by which `trigger` is legal: unseen moves from `prior`, then the
    client's edge (the path's weakest edge graded best, the shortest among those); None if the
    client's action is legal in no status the run could be in at `lv`."""
    best: tuple[Edge, ...] | None = None
    best_key: tuple[int, int] | None = None
    for s in lc.closure(prior, lv, unseen):
        edge = allows(lc, s, trigger, lv)
        if edge is None:
            continue
        hidden = lc.best_path(prior, s, lv, allow=lambda e: e.actor in unseen)
        if hidden is None:
            continue
        way = (*hidden, edge)
        key = (max(e.grade.rank for e in way), len(way))
        if best_key is None or key < best_key:
            best, best_key = way, key
    return best


def answered_unchanged(lc: Lifecycle, status: str) -> Fact | None:
    """The lifecycle's fact that a cancel in the terminal `status` is a no-op answered with the
    object unchanged (``<lifecycle>.cancel.idempotent`` for a status a cancel leads to,
    ``<lifecycle>.cancel.finished`` for the other terminal ones); None where the model has no
    such fact (a run's cancel there is refused)."""
    if status not in lc.terminal:
        return None
    cancelled = {e.dest for e in lc.edges(Strictness.PERMISSIVE) if e.trigger == CANCEL}
    kind = "idempotent" if status in cancelled else "finished"
    return FACTS.get(f"{lc.name}.cancel.{kind}")


def may_have_ended(lc: Lifecycle, status: str, lv: Strictness, unseen: tuple[Actor, ...]) -> bool:
    """Whether a run last seen in `status` may be terminal by now, unseen (its thread unlocked)."""
    return bool(lc.closure(status, lv, unseen) & lc.terminal)


def submitted_call_ids(body: Any) -> list[str]:
    """The ``tool_call_id`` of each output in a submit_tool_outputs request body, in order (a
    value that is not a string as its ``repr``; nothing when the body has no list of outputs)."""
    outputs = body.get("tool_outputs") if type(body) is dict else None
    got: list[str] = []
    for o in outputs if type(outputs) is list else ():
        if type(o) is dict:
            cid = o.get("tool_call_id")
            got.append(cid if type(cid) is str else repr(cid))
    return got


def judge_action(
    action: str,
    status: str,
    *,
    run_id: str,
    thread_id: str | None = None,
    strictness: Strictness = Strictness.STRICT,
    unseen: tuple[Actor, ...] = (Actor.SERVER,),
    required: Sequence[str] = (),
    submitted: Sequence[str] | None = None,
    path: str = "",
    lifecycle: Lifecycle = RUN,
) -> Verdict | None:
    """Judge a client's `action` (one of `ACTIONS`) on run `run_id` last seen by the client in
    `status` (for a new run or message: the status of the thread's run); None when it is legal.

    `unseen`: who may have moved the run since (the server; the clock too once its
    ``expires_at`` may have passed); only a cancel counts on such moves. A submit is judged
    against the `required` call ids (none: not judged) by the `submitted` ones (see
    `submitted_call_ids`). `path` is the request's path, named in a new run's or message's
    finding. The messages are the checker's.
    """
    return assess_action(
        action,
        status,
        run_id=run_id,
        thread_id=thread_id,
        strictness=strictness,
        unseen=unseen,
        required=required,
        submitted=submitted,
        path=path,
        lifecycle=lifecycle,
    ).verdict


def assess_action(
    action: str,
    status: str,
    *,
    run_id: str,
    thread_id: str | None = None,
    strictness: Strictness = Strictness.STRICT,
    unseen: tuple[Actor, ...] = (Actor.SERVER,),
    required: Sequence[str] = (),
    submitted: Sequence[str] | None = None,
    path: str = "",
    lifecycle: Lifecycle = RUN,
) -> Judgement:
    """`judge_action`, with the way that makes a submit or cancel legal (whose untrusted edges
    the checker records as needed)."""
    lc, lv = lifecycle, strictness
    if action in _LOCK_KIND:
        if may_have_ended(lc, status, lv, unseen):
            return Judgement(None, None)
        return Judgement(None, _locked(lc, action, status, run_id, thread_id, path))
    if action not in _REFUSAL:
        raise ValueError(f"unknown client action {action!r}; known: {', '.join(ACTIONS)}")
    if action == CANCEL and answered_unchanged(lc, status) is not None:
        return Judgement(None, None)  # a no-op, answered with the object unchanged
    if action != CANCEL:  # tool outputs answer a round the client saw
        unseen = ()
    way = legal_way(lc, status, action, lv, unseen)
    if way is None:
        return Judgement(None, _illegal(lc, action, status, run_id, lv, unseen))
    if action != SUBMIT_TOOL_OUTPUTS or not required or submitted is None:
        return Judgement(way, None)
    return Judgement(way, _call_ids(run_id, required, submitted))


def _untrusted(path: Iterable[Edge]) -> tuple[str, ...]:
    return tuple(str(e) for e in path if not e.evidence.trusted)


def _illegal(
    lc: Lifecycle,
    action: str,
    prior: str,
    run_id: str,
    lv: Strictness,
    unseen: tuple[Actor, ...],
) -> Verdict:
    """A submit or cancel that no status the run could be in allows at `lv`."""
    code = (
        "client.submit_outside_requires_action"
        if action == SUBMIT_TOOL_OUTPUTS
        else "client.cancel_illegal"
    )
    perm = legal_way(lc, prior, action, Strictness.PERMISSIVE, unseen)
    needs = _untrusted(perm) if perm else ()
    weakest = next((e.evidence for e in perm or () if not e.evidence.trusted), None)
    allowed_in = [s for s in lc.statuses if allows(lc, s, action, lv)]
    could = sorted(lc.closure(prior, lv, unseen))
    seen = f"{prior!r}" + (
        f" (by now possibly {', '.join(x for x in could if x != prior)})" if len(could) > 1 else ""
    )
    return Verdict(
        code,
        f"{action} on run {run_id} in status {seen}",
        observed=f"POST {action} while {prior}",
        allowed=f"{action} only in {', '.join(allowed_in) or 'no status'} at {lv.value}",
        evidence=weakest or ERROR_EVIDENCE[_REFUSAL[action]],
        hint=_NEEDS_PERMISSIVE if needs else _HINTS[code],
        path=tuple(str(e) for e in perm or ()),
        needs=needs,
        # with needs, the API accepts it (the permissive model agrees)
        refusal=None if needs else _REFUSAL[action],
        fields={} if needs else {"status": prior},
    )


def _call_ids(run_id: str, want: Sequence[str], got: Sequence[str]) -> Verdict | None:
    """A submit in the right status, judged by its call ids: exactly the round's, at once."""
    if sorted(got) == sorted(want):
        return None
    partial = bool(got) and set(got) < set(want) and len(set(got)) == len(got)
    code = "client.submit_partial" if partial else "client.submit_wrong_call_ids"
    return Verdict(
        code,
        f"tool outputs for {format_call_ids(got)}; run {run_id} requires {format_call_ids(want)}",
        observed=f"tool_call_ids {format_call_ids(got)}",
        allowed=f"exactly {format_call_ids(want)}, in one request",
        evidence=ERROR_EVIDENCE["tool_outputs_mismatch"],
        hint=_HINTS[code],
        refusal="tool_outputs_mismatch",
        fields={"expected": format_call_ids(want), "got": format_call_ids(got)},
    )


def _locked(
    lc: Lifecycle, action: str, status: str, run_id: str, thread_id: str | None, path: str
) -> Verdict:
    """A new run or message on a thread whose run cannot have ended without the client."""
    kind = _LOCK_KIND[action]
    code = f"client.{kind}"
    what = "a new run" if action == CREATE_RUN else "a new message"
    tid = thread_id or "its thread"
    request = f"POST {path}" if path else f"POST {action}"
    return Verdict(
        code,
        f"{what} on {tid} while its run {run_id} is {status}",
        observed=f"{request} while run {run_id} is {status}, which cannot end without the client",
        allowed=f"nothing new on a thread while its run is active ({', '.join(sorted(lc.active))})",
        evidence=ERROR_EVIDENCE[kind],
        hint=_HINTS[code],
        refusal=kind,
        fields={"thread_id": thread_id or "", "run_id": run_id},
    )
