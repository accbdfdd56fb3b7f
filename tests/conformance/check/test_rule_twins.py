"""The checker's twins of the model's rule kinds (`conformance.check.fields.method`) against the
rules' own methods: on any values, a twin says what the rule says (None, or the rule's words).

A twin decides the plain cases itself (compiled with the checker) and asks the rule otherwise;
a deliberately careless twin shows the comparison catches one that decides a case wrongly.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from conformance.check.fields import method
from runmodel import RULES, FieldRule
from runmodel.fields import Immutable, Kept, NonDecreasing, NotReset, Offset, Ordered

TWINNED = (Immutable, Kept, NonDecreasing, NotReset, Offset, Ordered)
RULED = [r for rules in RULES.values() for r in rules if type(r) in TWINNED]

VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=1_712_030_000, max_value=1_712_040_000)  # (near one another)
    | st.floats()  # (inf and nan too: a reader of YAML may give them)
    | st.text(max_size=3)
    | st.lists(st.integers(), max_size=2)
)


def objects(rule: FieldRule) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the rule's fields (absent, null or any value) and a status."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys((*rule.fields, "status"), VALUES))


def judged(call: Any, rule: FieldRule, prev: dict[str, Any], obj: dict[str, Any]) -> Any:
    return call(prev, obj) if rule.stateful else call(obj)


def test_every_kind_with_a_twin_has_rules_in_the_model() -> None:
    assert {type(r) for r in RULED} == set(TWINNED)


@pytest.mark.parametrize("rule", RULED, ids=lambda r: r.code)
@given(data=st.data())
def test_a_twin_says_what_its_rule_says(rule: FieldRule, data: st.DataObject) -> None:
    prev, obj = data.draw(objects(rule)), data.draw(objects(rule))
    assert judged(method(rule), rule, prev, obj) == judged(method(rule, False), rule, prev, obj)


@pytest.mark.parametrize("rule", RULED, ids=lambda r: r.code)
def test_the_comparison_finds_where_a_careless_twin_is_wrong(rule: FieldRule) -> None:
    careless = lambda *objs: None  # noqa: E731 (a twin that never asks its rule)
    found = find(
        st.tuples(objects(rule), objects(rule)),
        lambda p: judged(careless, rule, *p) != judged(method(rule, False), rule, *p),
        settings=settings(database=None, max_examples=2000),
    )
    assert judged(method(rule), rule, *found) == judged(method(rule, False), rule, *found)
