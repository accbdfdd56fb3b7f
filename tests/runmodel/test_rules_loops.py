"""The timestamp rules are written as loops for speed: they say exactly what the plain
definitions (pairwise over the set timestamps; each field against its previous value) say."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runmodel import RULES, FieldRule
from runmodel.fields import NonDecreasing, Ordered

_TIMED = [r for rules in RULES.values() for r in rules if isinstance(r, (Ordered, NonDecreasing))]
_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False),
    st.booleans(),
    st.sampled_from(["1", "", "x"]),
    st.just({"a": 1}),
)


def _ordered(rule: FieldRule, obj: dict[str, Any]) -> str | None:
    values = [(f, obj.get(f)) for f in rule.fields]
    present = [(f, v) for f, v in values if isinstance(v, (int, float))]
    for (fa, a), (fb, b) in itertools.pairwise(present):
        if a > b:
            return f"{fa} ({a}) is later than {fb} ({b})"
    return None


def _non_decreasing(rule: FieldRule, prev: dict[str, Any], obj: dict[str, Any]) -> str | None:
    for f in rule.fields:
        a, b = prev.get(f), obj.get(f)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b < a:
            return f"{f} went back from {a} to {b}"
    return None


def _objects(rule: FieldRule) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(rule.fields, _VALUES))


def test_both_kinds_of_timestamp_rule_are_covered() -> None:
    kinds = {type(r) for r in _TIMED}
    assert kinds == {Ordered, NonDecreasing}


@given(st.data())
def test_timestamp_rules_agree_with_their_plain_definitions(data: st.DataObject) -> None:
    rule = data.draw(st.sampled_from(_TIMED))
    prev, obj = data.draw(_objects(rule)), data.draw(_objects(rule))
    if isinstance(rule, Ordered):
        assert rule.snapshot(obj) == _ordered(rule, obj)
    else:
        assert rule.change(prev, obj) == _non_decreasing(rule, prev, obj)


def test_the_plain_definitions_can_fail() -> None:
    ordered = next(r for r in _TIMED if isinstance(r, Ordered))
    monotonic = next(r for r in _TIMED if isinstance(r, NonDecreasing))
    a, b = ordered.fields[0], ordered.fields[-1]
    obj = {a: 5, ordered.fields[1]: None, b: 3}
    assert ordered.snapshot(obj) == _ordered(ordered, obj) == f"{a} (5) is later than {b} (3)"
    f = monotonic.fields[-1]
    prev, now = {f: 2.5}, {f: 2}
    assert monotonic.change(prev, now) == _non_decreasing(monotonic, prev, now) is not None
