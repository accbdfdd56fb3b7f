"""Every field rule of the model, broken on purpose once: the checker reports exactly its code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.check import Severity
from conformance.observations import Location
from runmodel import LIFECYCLES, LINKS, RULES, FieldRule
from tests.conformance.check.response_scenarios import response
from tests.helpers.checktrace import FILE, T0, Trace, checked, message, mutations, run, step

BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "run": run,
    "run_step": step,
    "message": message,
    "response": response,
}
CHILDREN = {link.lifecycle for link in LINKS}  # objects of a run; the others are their own
ALL_RULES = [r for rules in RULES.values() for r in rules]
# objects are told apart by id and object type: one whose id or type changed is another object,
# so these rules hold by construction in the checker (and in any id-keyed client)
IDENTITY = [r for r in ALL_RULES if r.stateful and set(r.fields) <= {"id", "object"}]
CHECKED = [r for r in ALL_RULES if r not in IDENTITY]


def _broken(rule: FieldRule) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A (previous, observed) pair, legal as a move, where only `rule` is the point."""
    lc = LIFECYCLES[rule.lifecycle]
    build = BUILDERS[rule.lifecycle]
    for status in lc.statuses:
        if rule.statuses and status not in rule.statuses:
            continue
        base = build(status)
        if not rule.stateful and rule.snapshot(base) is not None:
            continue
        for f in rule.fields:
            for bad in mutations(base, f):
                if (rule.change(base, bad) if rule.stateful else rule.snapshot(bad)) is not None:
                    return base, bad
    return None


@pytest.mark.parametrize("rule", CHECKED, ids=[r.code for r in CHECKED])
def test_each_rule_is_checked(rule: FieldRule) -> None:
    pair = _broken(rule)
    assert pair is not None, f"no way found to break {rule.code}"
    base, bad = pair
    t = Trace()
    t.snap(base)
    line = t.snap(bad)
    out = checked(t)
    code = f"{rule.lifecycle}.field.{rule.code.removeprefix(rule.lifecycle + '.')}"
    found = [v for v in out.violations if v.code == code]
    assert len(found) == 1, out.codes
    (v,) = found
    assert (v.subject, v.loc, v.rule) == (base["id"], Location(FILE, line), rule.code)
    rid = bad.get("run_id") if rule.lifecycle in CHILDREN else bad["id"]
    assert v.run_id == (rid if isinstance(rid, str) else None)
    assert v.severity is (Severity.ERROR if rule.evidence.trusted else Severity.WARNING)
    assert (v.grade, v.sources) == (rule.evidence.label, rule.evidence.sources)


def test_identity_rules_are_the_id_and_object_rules_only() -> None:
    assert sorted(r.code for r in IDENTITY) == [
        *(f"{lc}.{f}.immutable" for lc in ("message",) for f in ("id", "object")),
        "response.id.immutable",
        *(f"{lc}.{f}.immutable" for lc in ("run", "run_step") for f in ("id", "object")),
    ]
    t = Trace()
    t.snap(run("queued"))
    t.snap(run("queued", id="run_2"))  # another run, not a changed one
    assert checked(t).violations == []


def test_the_builders_satisfy_every_rule() -> None:
    """The objects the tests start from are what a correct server sends."""
    for name, build in BUILDERS.items():
        for status in LIFECYCLES[name].statuses:
            t = Trace()
            t.snap(build(status))
            assert checked(t).violations == [], (name, status)


def test_untrusted_rules_warn_and_do_not_fail() -> None:
    t = Trace()
    t.snap(run("cancelled", cancelled_at=None))
    out = checked(t)
    v = out.only("run.field.cancelled_at.set")
    assert (v.severity, v.grade) == (Severity.WARNING, "I")
    assert out.summary.exit_code == 0


def test_usage_in_requires_action_is_an_error_now_the_recordings_show_it_null() -> None:
    t = Trace()
    t.snap(
        run(
            "requires_action", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        )
    )
    out = checked(t)
    v = out.only("run.field.usage.null_in_requires_action")
    assert (v.severity, v.grade) == (Severity.ERROR, "O/X")
    assert out.summary.exit_code == 1


def test_a_rule_violation_found_again_is_reported_once_with_a_count() -> None:
    t = Trace()
    bad = run("in_progress", expires_at=T0 + 3600)
    # an identical poll, and a change elsewhere, do not judge the rule again; a change of its
    # fields does, and finds it again
    t.snaps([bad, bad, {**bad, "metadata": {"n": 1}}, {**bad, "expires_at": T0 + 3700}])
    v = checked(t).only("run.field.expires_at.ten_minutes")
    assert (v.loc, v.count) == (Location(FILE, 1), 2)
