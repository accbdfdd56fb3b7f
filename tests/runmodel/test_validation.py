"""Self-validation: a broken lifecycle definition is rejected, naming the statuses at fault."""

from __future__ import annotations

from typing import Any

import pytest

from runmodel import Actor, Edge, Evidence, Grade, Lifecycle, ModelDefinitionError, Status

EV = Evidence((Grade.DOCUMENTED,), ("spec",))
WEAK = Evidence((Grade.INFERRED,), ("spec",))


def _edge(a: str, b: str, trigger: str, ev: Evidence = EV) -> Edge:
    return Edge(a, b, trigger, Actor.SERVER, ev)


def _build(statuses: list[tuple[str, bool]], edges: list[Edge], **kw: Any) -> Lifecycle:
    initial = kw.pop("initial", statuses[0][0])
    return Lifecycle(
        "toy",
        statuses=[Status(n, n, EV, terminal=t) for n, t in statuses],
        initial=initial,
        created_by=kw.pop("created_by", Edge("", initial, "create", Actor.CLIENT, EV)),
        edges=edges,
        **kw,
    )


GOOD = [("new", False), ("busy", False), ("done", True)]
GOOD_EDGES = [_edge("new", "busy", "start"), _edge("busy", "done", "finish")]


def test_a_good_definition_builds() -> None:
    lc = _build(GOOD, GOOD_EDGES)
    assert lc.terminal == {"done"}


@pytest.mark.parametrize(
    ("statuses", "edges", "kw", "names"),
    [
        pytest.param(
            GOOD, GOOD_EDGES, {"initial": "nowhere"}, ["nowhere"], id="undeclared-initial"
        ),
        pytest.param(
            GOOD,
            GOOD_EDGES,
            {"created_by": Edge("", "busy", "create", Actor.CLIENT, EV)},
            ["busy", "new"],
            id="creation-not-to-initial",
        ),
        pytest.param(
            GOOD, [*GOOD_EDGES, _edge("done", "busy", "reopen")], {}, ["done"], id="terminal-leaks"
        ),
        pytest.param([*GOOD, ("limbo", False)], GOOD_EDGES, {}, ["limbo"], id="unreachable-status"),
        pytest.param(
            [*GOOD, ("stuck", False)],
            [*GOOD_EDGES, _edge("busy", "stuck", "jam")],
            {},
            ["stuck"],
            id="trap-status",
        ),
        pytest.param(
            [*GOOD, ("side", False)],
            [*GOOD_EDGES, _edge("new", "side", "detour", WEAK), _edge("side", "done", "end")],
            {},
            [],
            id="reachable-only-when-permissive-is-fine",
        ),
        pytest.param(
            [*GOOD, ("waiting", False)],
            [*GOOD_EDGES, _edge("busy", "waiting", "pause"), _edge("waiting", "done", "go", WEAK)],
            {},
            ["waiting", "strict"],
            id="trap-only-at-strict",
        ),
        pytest.param(
            GOOD, [*GOOD_EDGES, _edge("busy", "ghost", "vanish")], {}, ["ghost"], id="undeclared"
        ),
        pytest.param(
            GOOD,
            [*GOOD_EDGES, _edge("new", "done", "start")],
            {},
            ["start", "busy", "done"],
            id="trigger-twice",
        ),
        pytest.param([("a", False), ("a", True)], [], {}, ["a"], id="duplicate-status"),
        pytest.param([("a", False)], [], {}, ["no terminal"], id="no-terminal"),
        pytest.param(GOOD, GOOD_EDGES, {"also_settled": ["idle"]}, ["idle"], id="bad-settled"),
    ],
)
def test_broken_definitions_are_rejected_by_name(
    statuses: list[tuple[str, bool]], edges: list[Edge], kw: dict[str, Any], names: list[str]
) -> None:
    if not names:  # the control case: a strict-only gap that is not a trap is legal
        _build(statuses, edges, **kw)
        return
    with pytest.raises(ModelDefinitionError) as info:
        _build(statuses, edges, **kw)
    for name in names:
        assert name in str(info.value)


def test_evidence_needs_a_grade_and_a_source() -> None:
    with pytest.raises(ModelDefinitionError):
        Evidence((), ("spec",))
    with pytest.raises(ModelDefinitionError):
        Evidence((Grade.DOCUMENTED,), ())
