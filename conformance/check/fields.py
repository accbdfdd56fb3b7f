"""Field rules (`runmodel.RULES`) judged on each observation, planned per lifecycle and status
so that an observation runs only the rules it can have changed.

A status's null and non-null rules are tested at once (`_Quick`); the other rules run when one
of their fields changed since the object's last observation, or when they newly apply. When the
quick test fails, every rule runs one by one, for the exact findings: the same findings either
way (`FieldRules(quick=False)` judges every observation one by one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from runmodel import LIFECYCLES, MESSAGE, RULES, RUN, STEP, Evidence, FieldRule, Lifecycle
from runmodel.fields import Immutable, Kept, NonDecreasing, NotReset, Offset, Ordered

from ..observations import Location
from .findings import Findings
from .results import Severity, Violation
from .state import RunState

__all__ = ["FieldRules", "method"]


def _sev(ev: Evidence) -> Severity:
    return Severity.ERROR if ev.trusted else Severity.WARNING


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule ready to run: its bound method, the fields it reads, its code and severity."""

    call: Callable[..., str | None]
    fields: frozenset[str]
    rule: FieldRule
    code: str
    severity: Severity


_Values = Callable[[Mapping[str, Any]], tuple[Any, ...]]
"""Some fields' values of an object, fetched in one C call (`operator.itemgetter`); KeyError
when one is missing."""


@dataclass(frozen=True, slots=True)
class _Quick:
    """A status's null and non-null rules (`FieldRule.null`) as one test over a fixed tuple of
    fields, the status's other stateless rules, and the watched fields' values.

    `values` fetches the `n` fields that must be null, then the fields that must be set, up to
    `k`, then the plan's watched fields. The test holds when the first `n` values are None and
    the next are not; then none of these rules can fail and only `others` need to run. When it
    fails (or a field is missing), every rule runs one by one, for the exact findings.
    """

    values: _Values
    nulls: tuple[None, ...]
    n: int
    k: int
    others: tuple[_Rule, ...]


@dataclass(frozen=True, slots=True)
class _Pair:
    """A change of status (previous, status): the new status's quick test, the other rules that
    newly apply (always run), and, per pattern of changed watched fields, the rules to run then."""

    quick: _Quick
    fresh: tuple[_Rule, ...]
    carried: tuple[_Rule, ...]
    stateful: tuple[_Rule, ...]
    todo: dict[int, tuple[tuple[_Rule, ...], tuple[_Rule, ...]]]

    def rules(
        self, watched: tuple[str, ...], changed: int
    ) -> tuple[tuple[_Rule, ...], tuple[_Rule, ...]]:
        """The carried and stateful rules that read a changed field (`changed`: a bit per
        watched field; kept: one entry per pattern, at most ``2 ** len(watched)``)."""
        names = {f for i, f in enumerate(watched) if changed >> i & 1}
        todo = self.todo[changed] = (
            tuple(r for r in self.carried if not r.fields.isdisjoint(names)),
            tuple(r for r in self.stateful if not r.fields.isdisjoint(names)),
        )
        return todo


@dataclass(frozen=True, slots=True)
class _Plan:
    """A lifecycle's rules, arranged so that a new observation runs only the rules it can change.

    Rules are functions of their declared fields (and, for applicability, of the status). So,
    comparing an observation with the previous one of the same object: a stateless rule that
    applied to the previous status too, and a stateful rule, can only find something new when one
    of their fields changed; a stateless rule that newly applies is always run. Null and non-null
    rules are first tested all at once (`_Quick`); the other rules' fields (`watched`) are
    compared all at once.
    """

    fields: tuple[str, ...]  # every field a rule reads
    first: dict[str, tuple[_Rule, ...]]  # status -> its stateless rules
    fresh: dict[tuple[str, str], tuple[_Rule, ...]]  # (previous, status) -> newly applying
    carried: dict[tuple[str, str], tuple[_Rule, ...]]  # (previous, status) -> applying at both
    stateful: tuple[_Rule, ...]
    quick: dict[str, _Quick]  # status -> its quick test
    pairs: dict[tuple[str, str], _Pair]  # (previous, status) -> its quick test, other rules
    watched: tuple[str, ...]  # the fields the rules outside the quick test read (two at least)
    watch: _Values  # their values


def _plain(value: Any) -> bool:
    """A string or an integer (not a bool): equal to itself, compared as the rules compare."""
    t = type(value)
    return t is str or t is int


def _ordered(rule: FieldRule) -> Callable[[dict[str, Any]], str | None]:
    fields = rule.fields
    ask = rule.snapshot

    def call(obj: dict[str, Any]) -> str | None:
        last: int | None = None
        for f in fields:
            v = obj.get(f)
            if v is None:
                continue
            if type(v) is not int or (last is not None and v < last):
                return ask(obj)
            last = v
        return None

    return call


def _offset(rule: FieldRule) -> Callable[[dict[str, Any]], str | None]:
    f, base = rule.fields
    offset = rule.offset if isinstance(rule, Offset) else 0
    ask = rule.snapshot

    def call(obj: dict[str, Any]) -> str | None:
        v, b = obj.get(f), obj.get(base)
        if v is None or b is None or (type(v) is int and type(b) is int and v - b == offset):
            return None
        return ask(obj)

    return call


_Change = Callable[[dict[str, Any], dict[str, Any]], str | None]


def _non_decreasing(rule: FieldRule) -> _Change:
    fields = rule.fields
    ask = rule.change

    def call(prev: dict[str, Any], obj: dict[str, Any]) -> str | None:
        for f in fields:
            a = prev.get(f)
            if a is None:
                continue
            b = obj.get(f)
            if b is None or (type(a) is int and type(b) is int and b >= a):
                continue
            return ask(prev, obj)
        return None

    return call


def _kept(rule: FieldRule) -> _Change:
    f = rule.fields[0]
    ask = rule.change

    def call(prev: dict[str, Any], obj: dict[str, Any]) -> str | None:
        if prev.get(f) is None or obj.get(f) is not None:
            return None
        return ask(prev, obj)

    return call


def _same(rule: FieldRule) -> _Change:
    f = rule.fields[0]
    ask = rule.change

    def call(prev: dict[str, Any], obj: dict[str, Any]) -> str | None:
        a, b = prev.get(f), obj.get(f)
        if (a is None and b is None) or (_plain(a) and type(b) is type(a) and a == b):
            return None
        return ask(prev, obj)

    return call


def _kept_value(rule: FieldRule) -> _Change:
    f = rule.fields[0]
    ask = rule.change

    def call(prev: dict[str, Any], obj: dict[str, Any]) -> str | None:
        a, b = prev.get(f), obj.get(f)
        if a is None or b is None or (_plain(a) and type(b) is type(a) and a == b):
            return None
        return ask(prev, obj)

    return call


_TWINS: dict[type, Callable[[FieldRule], Callable[..., str | None]]] = {
    Ordered: _ordered,
    Offset: _offset,
    NonDecreasing: _non_decreasing,
    Kept: _kept,
    Immutable: _same,
    NotReset: _kept_value,
}
"""Rule kinds whose plain cases this module decides itself (compiled with it): a twin says None
only where the rule's own method would, and asks the method in any other case (so the findings
and their words are the model's). Other kinds are always asked."""


def method(rule: FieldRule, twins: bool = True) -> Callable[..., str | None]:
    """What the checker calls to judge `rule`: its twin where its kind has one (`twins`), else
    the rule's own method (`snapshot`, or `change` for a stateful rule)."""
    twin = _TWINS.get(type(rule)) if twins else None
    if twin is not None:
        return twin(rule)
    return rule.change if rule.stateful else rule.snapshot


def _plan(lc: Lifecycle, twins: bool = True) -> _Plan:
    rules = RULES.get(lc.name, ())

    def ready(r: FieldRule) -> _Rule:
        code = f"{lc.name}.field.{r.code.removeprefix(lc.name + '.')}"
        return _Rule(method(r, twins), frozenset(r.fields), r, code, _sev(r.evidence))

    stateless = [ready(r) for r in rules if not r.stateful]
    stateful = tuple(ready(r) for r in rules if r.stateful and not _identity(r))

    def applies(r: _Rule, status: str) -> bool:  # empty `statuses`: every status
        return not r.rule.statuses or status in r.rule.statuses

    def plain(r: _Rule) -> bool:  # a rule outside the quick test
        return r.rule.null is None or len(r.rule.fields) != 1

    def quick(status: str) -> _Quick:
        # (a field both null and set, in a broken model, is listed twice: the test never holds)
        nulls = tuple(r.rule.fields[0] for r in first[status] if not plain(r) and r.rule.null)
        sets = tuple(r.rule.fields[0] for r in first[status] if not plain(r) and not r.rule.null)
        others = tuple(r for r in first[status] if plain(r))
        n, k = len(nulls), len(nulls) + len(sets)
        return _Quick(itemgetter(*nulls, *sets, *watched), (None,) * n, n, k, others)

    first = {s: tuple(r for r in stateless if applies(r, s)) for s in lc.statuses}
    fresh = {(a, b): tuple(r for r in first[b] if not applies(r, a)) for a in first for b in first}
    carried = {(a, b): tuple(r for r in first[b] if applies(r, a)) for a in first for b in first}
    # (padded with "id", which never changes, so that every getter makes a tuple)
    watched = tuple(sorted({f for r in (*stateless, *stateful) if plain(r) for f in r.fields}))
    watched += ("id",) * (2 - len(watched))
    quicks = {s: quick(s) for s in lc.statuses}
    return _Plan(
        fields=tuple(sorted({f for r in (*stateless, *stateful) for f in r.fields})),
        first=first,
        fresh=fresh,
        carried=carried,
        stateful=stateful,
        quick=quicks,
        pairs={
            k: _Pair(
                quicks[k[1]],
                tuple(r for r in fresh[k] if plain(r)),
                tuple(r for r in carried[k] if plain(r)),
                stateful,
                {},
            )
            for k in fresh
        },
        watched=watched,
        watch=itemgetter(*watched),
    )


def _identity(rule: FieldRule) -> bool:
    """Objects are told apart by id and object type: a rule that only says these never change
    holds by construction (an object whose id or type changed is another object)."""
    return set(rule.fields) <= {"id", "object"}


_PLANS = {lc.name: _plan(lc) for lc in LIFECYCLES.values()}
_REPORTED = (RUN.name, STEP.name, MESSAGE.name)
"""The lifecycles whose rules' coverage is reported even when none was judged (the others'
once one of their objects was observed: a report on runs alone stays as it was)."""


class FieldRules:
    """Judges the field rules on each observation of an object of any lifecycle (`judge`); the
    findings go to `findings`. `quick=False`: no quick test, every rule that may have changed
    runs one by one, always by its own method (the reference the quick path is tested against;
    slower)."""

    def __init__(self, findings: Findings, *, quick: bool = True) -> None:
        self._add = findings.add
        self.plans: dict[str, _Plan] = (
            _PLANS
            if quick
            else {
                lc.name: replace(_plan(lc, twins=False), quick={}, pairs={})
                for lc in LIFECYCLES.values()
            }
        )
        """lifecycle -> its plan (`FieldRules.judge` takes one)."""
        self.one_by_one = 0
        """Observations judged rule by rule (the quick test did not hold, or `quick` is off)."""

    def coverage(
        self, observed: Mapping[str, Mapping[Any, int]], pairs: Mapping[str, int]
    ) -> dict[str, int]:
        """rule code -> times judged: each stateless rule once per observation of a status it
        applies to (`observed`: lifecycle -> status -> observations judged), each stateful rule
        once per changed observation with a previous one (`pairs`: lifecycle -> count)."""
        rules: dict[str, int] = {}
        for lc in LIFECYCLES.values():
            if lc.name not in _REPORTED and not any(observed.get(lc.name, {}).values()):
                continue
            plan = self.plans[lc.name]
            for s in lc.statuses:
                n = observed.get(lc.name, {}).get(s, 0)
                for planned in plan.first[s]:
                    code = planned.rule.code
                    rules[code] = rules.get(code, 0) + n
            for rule in RULES.get(lc.name, ()):
                if rule.stateful:  # (the identity rules hold by construction: counted, not run)
                    rules[rule.code] = rules.get(rule.code, 0) + pairs.get(lc.name, 0)
        return rules

    def judge(
        self,
        run: RunState | None,
        oid: str,
        plan: _Plan,
        status: Any,
        obj: dict[str, Any],
        last: dict[str, Any] | None,
        said: Any,
        seen: tuple[Any, ...] | None,
        loc: Location,
        seq: int | None,
    ) -> tuple[Any, ...] | None:
        """Run the field rules an observation can have changed (see `_Plan`); report failures.

        `said` is the status of `last`, `seen` what this returned for it: its watched values
        (None: not known). Returns the watched values of `obj`, for the object's next
        observation. (The quick path does not touch `last` unless a rule needs it.)
        """
        quick = plan.quick.get(status)
        if quick is None:  # a status the model does not know
            return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        try:
            vals = quick.values(obj)
        except KeyError:  # a missing field: the rules decide one by one
            return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        n, k = quick.n, quick.k
        for i in range(k):
            if (vals[i] is None) is not (i < n):  # (null where it must be, set where it must)
                return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        now = vals[k:]
        failed: list[tuple[_Rule, str]] = []
        if last is None:
            for r in quick.others:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
        else:
            pair = plan.pairs.get((said, status))
            if pair is None or seen is None:
                return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
            for r in pair.fresh:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
            if now != seen:
                changed = 0
                for i in range(len(now)):
                    if now[i] != seen[i]:
                        changed |= 1 << i
                carried, stateful = pair.todo.get(changed) or pair.rules(plan.watched, changed)
                for r in carried:
                    msg = r.call(obj)
                    if msg is not None:
                        failed.append((r, msg))
                for r in stateful:
                    msg = r.call(last, obj)
                    if msg is not None:
                        failed.append((r, msg))
        if failed:
            self._report(run, oid, failed, loc, seq)
        return now

    def _judge_each(
        self,
        run: RunState | None,
        oid: str,
        plan: _Plan,
        status: Any,
        obj: dict[str, Any],
        last: dict[str, Any] | None,
        loc: Location,
        seq: int | None,
    ) -> tuple[Any, ...] | None:
        """`judge` without the quick test: every rule that may have changed, one by one."""
        self.one_by_one += 1
        failed: list[tuple[_Rule, str]] = []
        if last is None:
            for r in plan.first.get(status, ()):
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
        else:
            og, lg = obj.get, last.get
            changed = {f for f in plan.fields if og(f) != lg(f)}
            key: Any = (lg("status"), status)
            fresh = plan.fresh.get(key)
            carried: tuple[_Rule, ...] = ()
            if fresh is None:  # a status the model does not know, before or now
                fresh = plan.first.get(status, ())
            else:
                carried = plan.carried[key]
            for r in fresh:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
            if changed:
                for r in carried:
                    if not r.fields.isdisjoint(changed) and (msg := r.call(obj)) is not None:
                        failed.append((r, msg))
                for r in plan.stateful:
                    if not r.fields.isdisjoint(changed) and (msg := r.call(last, obj)) is not None:
                        failed.append((r, msg))
        self._report(run, oid, failed, loc, seq)
        try:
            return plan.watch(obj)
        except KeyError:
            return None

    def _report(
        self,
        run: RunState | None,
        oid: str,
        failed: list[tuple[_Rule, str]],
        loc: Location,
        seq: int | None,
    ) -> None:
        """Report the field rules that failed, in order."""
        for r, msg in failed:
            rule = r.rule
            note = f" ({rule.evidence.note})" if rule.evidence.note else ""
            where = (run.oid if run else None, oid, loc, seq)
            self._add(
                run,
                Violation.of(
                    r.code,
                    r.severity,
                    f"{oid}: {msg}",
                    where,
                    observed=msg,
                    allowed=rule.summary,
                    ev=rule.evidence,
                    hint=f"Rule {rule.code}: {rule.summary}{note}.",
                    rule=rule.code,
                ),
            )
