"""The facts the model exports for its consumers (trigger names, the cancelling status, expiry
seconds, per-status field tables, rules by code), and a lifecycle added as a unit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import runmodel
from runmodel import (
    CANCELLING,
    EXPIRY_SECONDS,
    FIELDS,
    LIFECYCLES,
    MESSAGE,
    RULES,
    RULES_BY_CODE,
    RUN,
    STEP,
    Actor,
    Edge,
    Evidence,
    Lifecycle,
    ModelDefinitionError,
    Status,
    Strictness,
    Trigger,
    register,
)
from runmodel.diagram import extract, mermaid
from runmodel.fields import Absent, Immutable, Present

_ASSISTANTS = (RUN, STEP, MESSAGE)
_NAMES = {v for k, v in vars(Trigger).items() if k.isupper()}


def test_trigger_names_are_exactly_the_triggers_of_the_assistants_lifecycles() -> None:
    used = {e.trigger for lc in _ASSISTANTS for e in (lc.created_by, *lc.all_edges)}
    assert used == _NAMES
    assert RUN.trigger_names == {e.trigger for e in RUN.all_edges}
    assert Trigger.CREATE not in RUN.trigger_names  # only the creating edge names it


def test_the_client_triggers_of_the_run_are_submit_and_cancel() -> None:
    client = {e.trigger for e in RUN.all_edges if e.actor is Actor.CLIENT}
    assert client == {Trigger.SUBMIT_TOOL_OUTPUTS, Trigger.CANCEL}
    clock = {e.trigger for lc in _ASSISTANTS for e in lc.all_edges if e.actor is Actor.CLOCK}
    assert clock == {Trigger.EXPIRE}


def test_cancelling_is_where_every_cancel_of_a_run_leads() -> None:
    assert CANCELLING == "cancelling"
    assert {e.dest for e in RUN.all_edges if e.trigger == Trigger.CANCEL} == {CANCELLING}
    assert CANCELLING in RUN.active
    assert RUN.target(Trigger.SUBMIT_TOOL_OUTPUTS) == "queued"
    with pytest.raises(KeyError, match="no edge"):
        RUN.target("teleport")


def test_target_refuses_a_trigger_that_leads_to_several_statuses() -> None:
    ev = Evidence.of("D", "test")
    lc = Lifecycle(
        "fork",
        statuses=[Status("a", "a", ev), Status("b", "b", ev, True), Status("c", "c", ev, True)],
        initial="a",
        created_by=Edge("", "a", "create", Actor.CLIENT, ev),
        edges=[Edge("a", "b", "go", Actor.SERVER, ev), Edge("a", "c", "stop", Actor.SERVER, ev)],
    )
    assert lc.target("go") == "b"
    fork = Lifecycle(
        "fork2",
        statuses=[
            Status("a", "a", ev),
            Status("m", "m", ev),
            Status("b", "b", ev, True),
            Status("c", "c", ev, True),
        ],
        initial="a",
        created_by=Edge("", "a", "create", Actor.CLIENT, ev),
        edges=[
            Edge("a", "m", "step", Actor.SERVER, ev),
            Edge("a", "b", "go", Actor.SERVER, ev),
            Edge("m", "c", "go", Actor.SERVER, ev),
        ],
    )
    with pytest.raises(ModelDefinitionError, match="several statuses: b, c"):
        fork.target("go")


def test_expiry_seconds_is_the_offset_the_rule_checks() -> None:
    rule = RULES_BY_CODE["run.expires_at.ten_minutes"]
    run = {"status": "queued", "created_at": 1000, "expires_at": 1000 + EXPIRY_SECONDS}
    assert EXPIRY_SECONDS == 600
    assert rule.snapshot(run) is None
    assert rule.snapshot({**run, "expires_at": 1001 + EXPIRY_SECONDS}) is not None


def test_rules_by_code_holds_every_rule_once() -> None:
    every = [r for rules in RULES.values() for r in rules]
    assert len({r.code for r in every}) == len(every) == len(RULES_BY_CODE)
    assert all(RULES_BY_CODE[r.code] is r for r in every)


def _probed(lc: Lifecycle, status: str) -> tuple[set[str], set[str]]:
    """What the rules say, asked the slow way: each single-field rule judges a null and a set
    value of its field (the table must say the same without asking)."""
    null, must = set(), set()
    for rule in RULES[lc.name]:
        if len(rule.fields) != 1 or status not in rule.statuses:
            continue
        (f,) = rule.fields
        with_null = rule.snapshot({"status": status, f: None})
        with_value = rule.snapshot({"status": status, f: 0})
        if with_null is None and with_value is not None:
            null.add(f)
        elif with_value is None and with_null is not None:
            must.add(f)
    return null, must


@pytest.mark.parametrize("lc", _ASSISTANTS, ids=lambda lc: lc.name)
def test_field_tables_say_what_the_rules_say(lc: Lifecycle) -> None:
    assert set(FIELDS[lc.name]) == set(lc.statuses)
    for status in lc.statuses:
        null, must = _probed(lc, status)
        assert set(FIELDS[lc.name][status].null) == null, status
        assert set(FIELDS[lc.name][status].set) == must, status


def test_field_tables_by_example() -> None:
    failed, waiting = FIELDS["run"]["failed"], FIELDS["run"]["requires_action"]
    assert failed.set == ("failed_at", "last_error")
    assert {"required_action", "expires_at", "incomplete_details"} <= set(failed.null)
    assert "required_action" in waiting.set
    assert "usage" in waiting.null
    assert FIELDS["message"]["completed"].set == ("completed_at",)


# -- a lifecycle added as a unit -------------------------------------------------------------

_EV = Evidence.of("D", "docs:toy")
_TOY = "toy_job"


def _toy() -> Lifecycle:
    """A throwaway lifecycle, declared as a lifecycle module would declare one."""
    return Lifecycle(
        _TOY,
        statuses=[
            Status("waiting", "not started", _EV),
            Status("working", "started", _EV),
            Status("done", "finished", _EV, terminal=True),
            Status("dropped", "cancelled", _EV, terminal=True),
        ],
        initial="waiting",
        created_by=Edge("", "waiting", "create", Actor.CLIENT, _EV),
        edges=[
            Edge("waiting", "working", "begin", Actor.SERVER, _EV),
            Edge("working", "done", "finish", Actor.SERVER, _EV),
            Edge("waiting", "dropped", "drop", Actor.CLIENT, Evidence.of("I", "docs:toy")),
        ],
    )


def _rules() -> list[runmodel.FieldRule]:
    return [
        Present(
            f"{_TOY}.done_at.set",
            _TOY,
            "done_at set in done",
            _EV,
            ("done_at",),
            frozenset({"done"}),
        ),
        Absent(
            f"{_TOY}.done_at.null",
            _TOY,
            "done_at null before done",
            _EV,
            ("done_at",),
            frozenset({"waiting", "working"}),
        ),
        Immutable(f"{_TOY}.id.immutable", _TOY, "id never changes", _EV, ("id",)),
    ]


@pytest.fixture
def toy() -> Iterator[Lifecycle]:
    """The toy lifecycle registered for one test, and the registry as it was afterwards."""
    tables: list[dict[str, Any]] = [runmodel.LIFECYCLES, runmodel.RULES, runmodel.RULES_BY_CODE]
    tables += [runmodel.MARKS, runmodel.FIELDS, runmodel.VALUES]
    saved = [dict(t) for t in tables]
    try:
        yield register(_toy(), _rules())
    finally:
        for table, before in zip(tables, saved, strict=True):
            table.clear()
            table.update(before)


def test_a_registered_lifecycle_gets_its_tables(toy: Lifecycle) -> None:
    assert LIFECYCLES[_TOY] is toy
    assert list(LIFECYCLES)[:3] == ["run", "run_step", "message"]
    assert FIELDS[_TOY]["done"].set == ("done_at",)
    assert FIELDS[_TOY]["working"].null == ("done_at",)
    assert RULES_BY_CODE[f"{_TOY}.id.immutable"].stateful
    assert toy.target("drop") == "dropped"


def test_a_registered_lifecycle_is_printed_and_drawn(
    toy: Lifecycle, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    assert main(["model", "--lifecycle", _TOY, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.dumps(printed).count('"drop"') == 1
    assert f"{_TOY}.done_at.set" in json.dumps(printed)
    assert main(["model"]) == 0
    assert f"{_TOY} lifecycle:" in capsys.readouterr().out
    drawn = mermaid(extract(toy, Strictness.PERMISSIVE))
    assert "waiting --> dropped" in drawn
    assert "working --> done" in drawn
    assert "waiting --> dropped" not in mermaid(extract(toy, Strictness.STRICT))


def test_a_clashing_lifecycle_is_refused_by_name() -> None:
    with pytest.raises(ModelDefinitionError, match="already registered"):
        register(RUN)
    toy = _toy()
    wrong = Present(
        "x.done_at.set", _TOY, "set in a status it lacks", _EV, ("done_at",), frozenset({"gone"})
    )
    with pytest.raises(ModelDefinitionError, match="undeclared statuses: gone"):
        register(toy, [wrong])
    both = [
        *_rules(),
        Absent("x.null", _TOY, "null in done", _EV, ("done_at",), frozenset({"done"})),
    ]
    with pytest.raises(ModelDefinitionError, match="done_at both null and set in 'done'"):
        register(toy, both)
    with pytest.raises(ModelDefinitionError, match="declared twice"):
        register(toy, [Immutable("run.id.immutable", _TOY, "a code in use", _EV, ("id",))])
    assert _TOY not in LIFECYCLES  # nothing filed by a refused registration
