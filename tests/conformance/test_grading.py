"""One grade, one verdict: the checker, the emulator and the docs treat every fact graded
inferred or disputed the same way, read from the model."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from conformance.check import REPORTED_FACTS, Severity
from conformance.emulator import Emulator
from conformance.errors import format_error, parse_error
from conformance.grading import untrusted_facts, untrusted_table
from runmodel import FACTS, LIFECYCLES, LINKS, RULES, RUN, Actor, Edge, Grade, Strictness
from tests.helpers.checktrace import Trace, checked, error, run

ROOT = Path(__file__).resolve().parents[2]
DOUBT = (Grade.INFERRED, Grade.DISPUTED)
CANCEL = "/threads/thread_1/runs/run_1/cancel"

# how the emulator gets a run into a status a client edge leaves (script, virtual seconds)
REACH = {
    "queued": ("start+100, complete+1", 0.0),
    "requires_action": ("start, require_action(1)+1, start, complete", 2.0),
}


def _untrusted_client_edges() -> list[Edge]:
    return [
        e
        for e in RUN.all_edges
        if e.actor is Actor.CLIENT and not e.evidence.trusted and e.trigger == "cancel"
    ]


def test_the_docs_table_is_the_models() -> None:
    doc = (ROOT / "docs" / "violations.md").read_text(encoding="utf-8")
    section = doc.split("<!-- untrusted-facts:start -->\n", 1)[1].split("<!-- untrusted-facts:end")[
        0
    ]
    assert section == untrusted_table(), "regenerate the table from conformance.grading"


def test_the_table_lists_every_fact_graded_inferred_or_disputed() -> None:
    want = sum(
        any(g in DOUBT for g in e.evidence.grades)
        for lc in LIFECYCLES.values()
        for e in lc.all_edges
    )
    want += sum(any(g in DOUBT for g in r.evidence.grades) for rs in RULES.values() for r in rs)
    want += sum(any(g in DOUBT for g in k.evidence.grades) for k in LINKS)
    want += sum(any(g in DOUBT for g in f.evidence.grades) for f in FACTS.values())
    facts = untrusted_facts()
    assert len(facts) == want > 0
    assert any(f.fact == "run: requires_action → cancelling (cancel)" for f in facts)
    for f in facts:
        if f.kind in ("field rule", "link"):
            assert f"({'error' if f.evidence.trusted else 'warning'})" in f.check_strict
        if f.kind == "protocol fact":
            code = f.fact.split(":", 1)[0]
            judged = f"({'error' if f.evidence.trusted else 'warning'})"
            assert (judged in f.check_strict) == (code in REPORTED_FACTS), f


@pytest.mark.parametrize("edge", _untrusted_client_edges(), ids=str)
def test_an_untrusted_client_edge_is_judged_alike_by_checker_and_emulator(edge: Edge) -> None:
    assert edge.source in REACH, f"teach this test to reach {edge.source}"
    # the emulator: refused with the documented reply at strict, accepted at permissive
    script, wait = REACH[edge.source]
    for lv in Strictness:
        emu = Emulator(strictness=lv)
        client = emu.client(max_retries=0)
        thread_id, run_id = emu.start_run(script)
        emu.clock.advance(wait)
        assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == edge.source
        if lv is Strictness.STRICT:
            with pytest.raises(openai.BadRequestError) as exc:
                client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
            body = exc.value.body
            assert isinstance(body, dict)
            said = parse_error("cancel_not_allowed", body["message"])
            assert said == {"status": edge.source}
        else:
            cancelled = client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
            assert cancelled.status == edge.dest
    # the checker on the same exchanges
    unseen = RUN.closure(edge.source, Strictness.STRICT, (Actor.SERVER,))
    legal_at_strict = any(
        e.trigger == edge.trigger
        for s in unseen
        for e in RUN.triggers(s, Actor.CLIENT, Strictness.STRICT)
    )
    refused = Trace()
    refused.http("GET", "/threads/thread_1/runs/run_1", run(edge.source))
    refused.http(
        "POST",
        CANCEL,
        error(format_error("cancel_not_allowed", status=edge.source)),
        status=400,
    )
    strict = checked(refused)
    if legal_at_strict:  # the run may have moved to a status that allows it: no finding
        assert strict.violations == []
    else:
        v = strict.only("client.cancel_illegal")
        assert (v.severity, v.needs, v.grade) == (Severity.ERROR, (str(edge),), edge.evidence.label)
        assert strict.codes == ["client.cancel_illegal"]
        # at permissive the refusal of what only this edge allows is a warning graded like it
        perm = checked(refused, Strictness.PERMISSIVE)
        w = perm.only("server.error_mismatch")
        assert (w.severity, w.grade) == (Severity.WARNING, edge.evidence.label)
        assert perm.codes == ["server.error_mismatch"]
        assert perm.summary.exit_code == 0
    accepted = Trace()
    accepted.http("GET", "/threads/thread_1/runs/run_1", run(edge.source))
    accepted.http("POST", CANCEL, run(edge.dest, started=edge.source != "queued"))
    assert checked(accepted, Strictness.PERMISSIVE).violations == []
