"""The registry of lifecycles: each lifecycle module declares its lifecycle and its facts, and
`register` files them here, deriving the tables consumers read (rules by code, marks, fields).

Nothing here names a status, a field or a lifecycle: adding a lifecycle adds a module that calls
`register`, not an edit here or in `_core`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._core import Lifecycle, ModelDefinitionError
from .fields import Fact, FieldRule, FieldValues, Kept, Link, StatusFields

__all__ = [
    "API_OBJECTS",
    "FACTS",
    "FIELDS",
    "LIFECYCLES",
    "LINKS",
    "MARKS",
    "RULES",
    "RULES_BY_CODE",
    "VALUES",
    "register",
]

LIFECYCLES: dict[str, Lifecycle] = {}
"""Every lifecycle of the model, by name (``run``, ``run_step``, ``message``)."""

API_OBJECTS: dict[str, Lifecycle] = {}
"""Every lifecycle with API objects, by their ``object`` name (``thread.run`` → the run)."""

RULES: dict[str, tuple[FieldRule, ...]] = {}
"""Every lifecycle's field rules, by lifecycle name."""

RULES_BY_CODE: dict[str, FieldRule] = {}
"""Every field rule, by its code (``run.expires_at.ten_minutes``)."""

MARKS: dict[str, dict[str, tuple[str, ...]]] = {}
"""Per lifecycle and status: the fields a visit to that status leaves set for good (a trusted
rule sets them there, and a trusted rule keeps them set). An observation with such a field
null was never in that status: e.g. a run whose ``started_at`` is null never was in_progress."""

FIELDS: dict[str, dict[str, StatusFields]] = {}
"""Per lifecycle and status: the fields the single-field rules (of every grade) require null and
those they require set there, e.g. ``FIELDS["run"]["failed"].set`` holds ``last_error``. An
emulator builds its objects from this table; a checker tests a status's such rules at once."""

VALUES: dict[str, FieldValues] = {}
"""The values an enumerated field may take, by ``<lifecycle>.<field path>``."""

LINKS: list[Link] = []
"""How child objects must stand while their parent is in certain statuses."""

FACTS: dict[str, Fact] = {}
"""Every lifecycle's protocol facts (streams, calls, rounds), by code."""


def register(
    lifecycle: Lifecycle,
    rules: Iterable[FieldRule] = (),
    values: Iterable[FieldValues] = (),
    links: Iterable[Link] = (),
    facts: Iterable[Fact] = (),
) -> Lifecycle:
    """Add a lifecycle with its field rules, enumerated values, links and protocol facts to the
    model; returns the lifecycle. `ModelDefinitionError` names what is wrong with a clash."""
    name = lifecycle.name
    rules = tuple(rules)
    if name in LIFECYCLES:
        raise ModelDefinitionError(f"{name}: a lifecycle of that name is already registered")
    _check_rules(lifecycle, rules)
    fields = _fields(lifecycle, rules)
    values, links = tuple(values), tuple(links)
    for v in values:
        if v.code.partition(".")[0] != name or v.code in VALUES:
            raise ModelDefinitionError(f"{name}: values {v.code!r} misnamed or declared twice")
    for link in links:
        if link.lifecycle != name and link.parent != name:
            raise ModelDefinitionError(f"{name}: link {link.code!r} is about other lifecycles")
    facts = tuple(facts)
    for f in facts:
        if f.lifecycle != name or f.code in FACTS or sum(g.code == f.code for g in facts) > 1:
            raise ModelDefinitionError(f"{name}: fact {f.code!r} misnamed or declared twice")
    if lifecycle.api_object is not None:
        if lifecycle.api_object in API_OBJECTS:
            raise ModelDefinitionError(f"{name}: API object {lifecycle.api_object!r} is taken")
        API_OBJECTS[lifecycle.api_object] = lifecycle
    LIFECYCLES[name] = lifecycle
    RULES[name] = rules
    RULES_BY_CODE.update((r.code, r) for r in rules)
    MARKS[name] = _marks(rules, lifecycle.statuses)
    FIELDS[name] = fields
    VALUES.update((v.code, v) for v in values)
    LINKS.extend(links)
    FACTS.update((f.code, f) for f in facts)
    return lifecycle


def _check_rules(lifecycle: Lifecycle, rules: tuple[FieldRule, ...]) -> None:
    name = lifecycle.name
    for r in rules:
        if r.lifecycle != name:
            raise ModelDefinitionError(f"{name}: rule {r.code!r} is about {r.lifecycle!r}")
        if r.code in RULES_BY_CODE or sum(q.code == r.code for q in rules) > 1:
            raise ModelDefinitionError(f"{name}: rule code {r.code!r} declared twice")
        unknown = sorted(r.statuses - set(lifecycle.statuses))
        if unknown:
            raise ModelDefinitionError(
                f"{name}: rule {r.code!r} names undeclared statuses: {', '.join(unknown)}"
            )


def _fields(lifecycle: Lifecycle, rules: tuple[FieldRule, ...]) -> dict[str, StatusFields]:
    table = {}
    for s in lifecycle.statuses:
        single = [r for r in rules if r.null is not None and len(r.fields) == 1 and s in r.statuses]
        null = sorted({r.fields[0] for r in single if r.null})
        must = sorted({r.fields[0] for r in single if not r.null})
        both = sorted(set(null) & set(must))
        if both:
            raise ModelDefinitionError(
                f"{lifecycle.name}: rules require {', '.join(both)} both null and set in {s!r}"
            )
        table[s] = StatusFields(tuple(null), tuple(must))
    return table


def _marks(rules: tuple[FieldRule, ...], statuses: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    kept = {r.fields[0] for r in rules if isinstance(r, Kept) and r.evidence.trusted}
    return {
        s: tuple(
            r.fields[0]
            for r in rules
            if r.null is False and r.evidence.trusted and s in r.statuses and r.fields[0] in kept
        )
        for s in statuses
    }
