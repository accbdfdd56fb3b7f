"""Properties: every legal path of the model, observed by polling (statuses maybe skipped), with
fields as a correct server sets them, conforms; and the mutations the checker claims to catch
(a terminal status observed too early, a field a rule forbids) are caught, exactly located."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conformance.observations import Location
from runmodel import RULES, RUN, Actor, Strictness
from tests.helpers.checktrace import FILE, T0, Trace, checked, mutations, run

# statuses in which a correct server has set started_at: the model's own rule says which
STARTED = next(r for r in RULES["run"] if r.code == "run.started_at.set").statuses


@dataclass
class Walk:
    """One run's legal walk through the model, as the objects a poller would see."""

    rid: str
    objs: list[dict[str, Any]]


@st.composite
def walks(draw: st.DrawFn, strictness: Strictness, rid: str = "run_1") -> Walk:
    """A random walk over `RUN.edges(strictness)` from the initial status, observed in full."""
    status, started, rounds, t = RUN.initial, False, 0, T0 + 10
    objs = [run(status, rid=rid, tid=f"thread_{rid}", started=None)]
    for _ in range(draw(st.integers(1, 12))):
        out = RUN.out(status, strictness)
        if not out:
            break
        status = draw(st.sampled_from(out)).dest
        started = started or status in STARTED
        if status == "requires_action":
            rounds += 1
        t += draw(st.integers(0, 30))
        calls = [f"call_{rounds}_{i}" for i in range(draw(st.integers(1, 2)))]
        objs.append(
            run(
                status,
                rid=rid,
                tid=f"thread_{rid}",
                calls=calls,
                started=T0 + 1 if started else None,
                t=t,
            )
        )
    return Walk(rid, objs)


@st.composite
def polled(draw: st.DrawFn, strictness: Strictness) -> list[dict[str, Any]]:
    """Up to three runs' walks, each with some observations skipped and some polled again
    (an equal, separate object, as a reader yields it), interleaved."""
    runs = [draw(walks(strictness, f"run_{i}")) for i in range(draw(st.integers(1, 3)))]
    queues = []
    for w in runs:
        keep = [w.objs[0]] + [o for o in w.objs[1:-1] if draw(st.booleans())] + w.objs[-1:]
        keep = keep if len(w.objs) > 1 else w.objs
        queues.append([dict(o) for o in keep for _ in range(draw(st.integers(1, 3)))])
    out: list[dict[str, Any]] = []
    while any(queues):
        q = draw(st.sampled_from([q for q in queues if q]))
        out.append(q.pop(0))
    return out


@given(st.data())
def test_legal_strict_walks_conform(data: st.DataObject) -> None:
    t = Trace()
    t.snaps(data.draw(polled(Strictness.STRICT)))
    out = checked(t)
    assert out.violations == []
    assert all(r.level is Strictness.STRICT for r in out.results)


@given(st.data())
def test_legal_permissive_walks_conform_at_permissive_and_strict_names_the_edges(
    data: st.DataObject,
) -> None:
    t = Trace()
    t.snaps(data.draw(polled(Strictness.PERMISSIVE)))
    assert checked(t, Strictness.PERMISSIVE).violations == []
    strict = checked(t)
    # whatever strict rejects is a move that only untrusted edges explain, and says which
    assert all(v.code == "run.illegal_transition" and v.needs for v in strict.violations)
    untrusted = {str(e) for e in RUN.edges(Strictness.PERMISSIVE) if not e.evidence.trusted}
    assert set(strict.summary.needs) <= untrusted


@given(st.data())
def test_a_terminal_status_observed_too_early_is_caught(data: st.DataObject) -> None:
    walk = data.draw(walks(Strictness.PERMISSIVE))
    objs = walk.objs
    if objs[-1]["status"] not in RUN.terminal or len(objs) < 2:
        return
    i = data.draw(st.integers(0, len(objs) - 2))
    objs[i], objs[-1] = objs[-1], objs[i]  # the terminal observation swapped in earlier
    t = Trace()
    lines = t.snaps(objs)
    out = checked(t, Strictness.PERMISSIVE)
    v = out.only("run.terminal_left")
    assert (v.run_id, v.loc) == (walk.rid, Location(FILE, lines[i + 1]))


@given(st.data())
def test_a_field_a_rule_forbids_is_caught(data: st.DataObject) -> None:
    objs = data.draw(polled(Strictness.PERMISSIVE))
    i = data.draw(st.integers(0, len(objs) - 1))
    obj = objs[i]
    rules = [r for r in RULES["run"] if not r.stateful and obj["status"] in r.statuses]
    rule = data.draw(st.sampled_from(rules))
    bad = next(m for f in rule.fields for m in mutations(obj, f) if rule.snapshot(m) is not None)
    objs[i] = bad
    t = Trace()
    lines = t.snaps(objs)
    out = checked(t, Strictness.PERMISSIVE)
    code = "run.field." + rule.code.removeprefix("run.")
    found = [v for v in out.violations if v.code == code and v.run_id == obj["id"]]
    assert [v.loc for v in found] == [Location(FILE, lines[i])]


def _cancel_possible(status: str) -> bool:
    """Whether the server alone can take a run from `status` to one the client may cancel at
    strict (found by a search over the edges, not by the checker's closure)."""
    return any(
        RUN.search(status, s, allow=lambda e: e.actor is Actor.SERVER) is not None
        for s in RUN.statuses
        if any(e.trigger == "cancel" for e in RUN.triggers(s, Actor.CLIENT))
    )


@given(st.data())
def test_a_cancel_is_judged_by_every_status_the_run_could_be_in(data: st.DataObject) -> None:
    # a client polls a legal strict walk (some observations unseen) and cancels after one of
    # them: the cancel is its error exactly when no unseen server move makes it legal; a wrong
    # client that cancels a run it saw terminal is always caught
    walk = data.draw(walks(Strictness.STRICT))
    i = data.draw(st.integers(0, len(walk.objs) - 1))
    seen = walk.objs[i]
    t = Trace()
    for obj in walk.objs[: i + 1]:
        t.http("GET", f"/threads/thread_{walk.rid}/runs/{walk.rid}", obj)
    line = t.http("POST", f"/threads/thread_{walk.rid}/runs/{walk.rid}/cancel", status=None)
    out = checked(t)
    flagged = [v for v in out.violations if v.code == "client.cancel_illegal"]
    assert bool(flagged) is not _cancel_possible(seen["status"]), seen["status"]
    if seen["status"] in RUN.terminal:
        assert [v.loc for v in flagged] == [Location(FILE, line)]
