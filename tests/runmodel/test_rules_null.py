"""`FieldRule.null` says what a rule demands of its one field: a checker tests such rules all at
once (`conformance.check.engine`), so the declaration must say exactly what the rule does."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runmodel import LIFECYCLES, RULES, FieldRule

_DECLARED = [r for rules in RULES.values() for r in rules if r.null is not None]
_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=3),
    st.just({"a": 1}),
    st.just([]),
)


def test_null_rules_are_declared_and_stateless() -> None:
    assert {r.null for r in _DECLARED} == {True, False}
    assert all(len(r.fields) == 1 and not r.stateful for r in _DECLARED)
    assert all(r.null is None for rules in RULES.values() for r in rules if r.stateful)


@given(st.sampled_from(_DECLARED), st.data())
def test_a_declared_rule_fails_exactly_when_its_field_is_not_as_declared(
    rule: FieldRule, data: st.DataObject
) -> None:
    statuses = sorted(rule.statuses or LIFECYCLES[rule.lifecycle].statuses)
    status = data.draw(st.sampled_from(statuses))
    (field,) = rule.fields
    obj: dict[str, Any] = {"status": status}
    if data.draw(st.booleans()):  # a missing field reads as null
        obj[field] = data.draw(_VALUES)
    is_null = obj.get(field) is None
    assert (rule.snapshot(obj) is None) == (is_null == rule.null)
