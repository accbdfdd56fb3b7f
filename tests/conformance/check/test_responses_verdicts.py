"""`judge_action` and `assess_action` answer for the response lifecycle too (the harness asks
them): a cancel is legal while the response may still be active, and a no-op the API answers
with the response unchanged once it has ended (facts cancel.idempotent and cancel.finished)."""

from __future__ import annotations

import pytest

from conformance.check import CANCEL, assess_action, judge_action
from conformance.check.verdicts import answered_unchanged
from runmodel import FACTS, RESPONSE, RUN, Actor, Strictness


@pytest.mark.parametrize("lv", list(Strictness), ids=lambda s: s.value)
@pytest.mark.parametrize("status", sorted(RESPONSE.active))
def test_a_cancel_of_an_active_response_is_legal_by_the_models_edge(
    status: str, lv: Strictness
) -> None:
    judged = assess_action(CANCEL, status, run_id="resp_1", strictness=lv, lifecycle=RESPONSE)
    assert judged.verdict is None
    assert judged.way is not None
    (edge,) = judged.way
    assert (edge.source, edge.dest, edge.actor) == (status, "cancelled", Actor.CLIENT)
    assert judge_action(CANCEL, status, run_id="resp_1", strictness=lv, lifecycle=RESPONSE) is None


@pytest.mark.parametrize("status", sorted(RESPONSE.terminal))
def test_a_cancel_of_an_ended_response_is_a_no_op_by_its_fact(status: str) -> None:
    fact = answered_unchanged(RESPONSE, status)
    want = "response.cancel.idempotent" if status == "cancelled" else "response.cancel.finished"
    assert fact is FACTS[want]
    judged = assess_action(CANCEL, status, run_id="resp_1", lifecycle=RESPONSE)
    assert (judged.way, judged.verdict) == (None, None)


def test_a_run_has_no_such_fact_and_its_cancel_stays_judged_as_before() -> None:
    assert all(answered_unchanged(RUN, s) is None for s in RUN.statuses)
    verdict = judge_action(CANCEL, "completed", run_id="run_1")
    assert verdict is not None
    assert verdict.code == "client.cancel_illegal"
