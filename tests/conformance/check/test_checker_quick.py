"""The engine's quick path (a status's null and non-null rules tested at once, the other rules'
fields compared at once) finds exactly what running every rule one by one finds: the same
events, on legal traces, broken traces, and traces whose rule fields are scrambled at random."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conformance.check import Checker, Event, RunChecked, check
from conformance.observations import Exchange, Item, Snapshot, StreamEvent
from conformance.strategies import mutated_traces, traces
from runmodel import LIFECYCLES, RULES, Strictness
from tests.helpers.checktrace import T0

_FIELDS = sorted({f for rules in RULES.values() for r in rules for f in r.fields} - {"id"})
_MISSING = object()  # a field left out of the object
_VALUES = st.one_of(
    st.sampled_from([T0 - 5, T0, T0 + 1, T0 + 30, T0 + 600, "asst_2", "thread_2"]),  # plausible
    st.sampled_from([None, _MISSING, 1.5, "x", {"a": 1}, [], True, 0]),
)
_STATUSES = st.sampled_from(sorted({s for lc in LIFECYCLES.values() for s in lc.statuses}))


def _checked(
    items: list[Item], strictness: Strictness = Strictness.STRICT, *, quick: bool
) -> tuple[list[Event], int]:
    """The events of a check, and how many observations it judged rule by rule (`quick=False`:
    every one, a checker without quick tests)."""
    events: list[Event] = []
    checker = Checker(strictness, emit=events.append, quick=quick)
    for item in items:
        checker.feed(item)
    checker.finish()
    return events, checker.rules.one_by_one


def _both(items: list[Item], strictness: Strictness) -> tuple[list[Event], list[Event]]:
    quick = list(check(items, strictness))
    each, _ = _checked(items, strictness, quick=False)
    return quick, each


def _obj(item: Item) -> Any:
    if isinstance(item, Snapshot):
        return item.obj
    if isinstance(item, Exchange):
        return item.response_body
    if isinstance(item, StreamEvent):
        return item.data
    return None


def _with(item: Item, obj: dict[str, Any]) -> Item:
    if isinstance(item, Snapshot):
        return replace(item, obj=obj)
    if isinstance(item, Exchange):
        return replace(item, response_body=obj)
    assert isinstance(item, StreamEvent)
    return replace(item, data=obj)


@st.composite
def _scrambled(draw: st.DrawFn) -> list[Item]:
    """A legal trace with some objects' rule fields (and sometimes status) set at random."""
    items = draw(traces(Strictness.PERMISSIVE))
    out = []
    for item in items:
        obj = _obj(item)
        if type(obj) is dict and "object" in obj and draw(st.integers(0, 3)) == 0:
            changed = dict(obj)
            for f in draw(st.lists(st.sampled_from(_FIELDS), min_size=1, max_size=4)):
                value = draw(_VALUES)
                if value is _MISSING:
                    changed.pop(f, None)
                else:
                    changed[f] = value
            if draw(st.integers(0, 5)) == 0:
                changed["status"] = draw(st.one_of(_STATUSES, st.just("paused")))
            item = _with(item, changed)
        out.append(item)
    return out


@given(_scrambled(), st.sampled_from(Strictness))
def test_quick_and_one_by_one_agree_on_scrambled_traces(
    items: list[Item], strictness: Strictness
) -> None:
    quick, each = _both(items, strictness)
    assert quick == each


@given(mutated_traces(Strictness.PERMISSIVE))
def test_quick_and_one_by_one_agree_on_broken_traces(case: tuple[list[Item], str]) -> None:
    items, _ = case
    quick, each = _both(items, Strictness.STRICT)
    assert quick == each


def test_the_quick_path_is_taken_and_finds_what_each_rule_finds() -> None:
    """A run whose fields break null and non-null rules, then mend them: both paths report the
    same findings with the same counts, and the quick path judged most observations itself."""
    from tests.helpers.checktrace import Trace, run

    t = Trace()
    t.snap(run("queued", started=False))
    t.snap(run("in_progress"))
    t.snap(run("in_progress", usage={"total_tokens": 1}))  # usage set while running
    t.snap(run("requires_action", usage={"total_tokens": 1}, required_action=None))
    t.snap(run("queued", started=True))
    t.snap(run("in_progress", expires_at=T0 + 601))  # not created_at + 600
    t.snap(run("completed", completed_at=T0 - 1))  # before started_at
    quick, quick_slow_calls = _checked(t.items, quick=True)
    each, slow_calls = _checked(t.items, quick=False)
    assert quick == each == list(check(t.items))
    assert slow_calls == len(t.items)
    assert 0 < quick_slow_calls < len(t.items)
    codes = [v.code for e in quick if isinstance(e, RunChecked) for v in e.result.violations]
    assert {
        "run.field.usage.null_while_running",
        "run.field.usage.null_in_requires_action",
        "run.field.required_action.set",
        "run.field.expires_at.ten_minutes",
        "run.field.timestamps.ordered",
    } <= set(codes)
